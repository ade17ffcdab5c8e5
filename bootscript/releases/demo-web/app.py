"""demo-web: answers its version on `/` and its health on `/health` (freshfleet's demo release).

MODE (a file beside this one) picks its behaviour: `good`, `never-healthy` (the health
path answers 503), `crash-after-healthy` (exits 10 s after its first healthy answer,
and at once on every restart after that), `errors-20` (healthy, but about a fifth of the
other requests answer 500) or `slow-10x` (healthy, but ten times slower than `good`).
Every request but the health check takes WORK_SECONDS of work (ten times that when slow).
"""

import http.server
import json
import os
import random
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = (HERE / "VERSION").read_text().strip()
MODE = (HERE / "MODE").read_text().strip() if (HERE / "MODE").exists() else "good"
PORT = int(os.environ.get("APP_PORT", "8080"))
CRASHED = Path("/tmp/demo-web-crashed")
CRASH_AFTER = 10.0
WORK_SECONDS = 0.01


def crash() -> None:
    CRASHED.write_text("crashed\n")
    print(f"demo-web {VERSION}: crashing {CRASH_AFTER:g} s after becoming healthy", flush=True)
    os._exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    crash_timer: threading.Timer | None = None

    def answer(self, code: int, body: dict[str, str]) -> None:
        data = (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.split("?")[0] == "/health":
            if MODE == "never-healthy":
                self.answer(503, {"status": "unhealthy", "version": VERSION})
                return
            if MODE == "crash-after-healthy" and Handler.crash_timer is None:
                timer = threading.Timer(CRASH_AFTER, crash)
                Handler.crash_timer = timer
                timer.start()
            self.answer(200, {"status": "ok", "version": VERSION})
            return
        time.sleep(WORK_SECONDS * (10 if MODE == "slow-10x" else 1))
        if MODE == "errors-20" and random.random() < 0.2:
            self.answer(500, {"error": "demo-web failed this request", "version": VERSION})
            return
        self.answer(200, {"app": "demo-web", "version": VERSION})

    def log_message(self, format: str, *args: object) -> None:
        pass  # health checks every few seconds would flood the container log


def main() -> None:
    if MODE == "crash-after-healthy" and CRASHED.exists():
        print(f"demo-web {VERSION}: crashed before, exiting at once", flush=True)
        sys.exit(1)
    server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    print(f"demo-web {VERSION} ({MODE}) listening on {PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
