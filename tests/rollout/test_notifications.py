"""The team hears about rollouts: a success, a gate failure and a flip-back each reach a
local webhook (signed), a Slack-compatible hook and localaws's SNS, and a receiver that hangs
or answers 500 changes nothing about the rollout but its last few seconds."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SECRET = "s3cret-for-tests"
SECRET_ENV = "FRESHFLEET_TEST_HOOK_SECRET"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    """A local webhook endpoint: `/ok` answers 200, `/fail` 500, `/hang` never answers."""

    port: int
    got: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self, path: str) -> list[str]:
        return [r.json.get("event", "") for r in self.got if r.path == path]

    def one(self, path: str, event: str) -> Received:
        hits = [r for r in self.got if r.path == path and r.json.get("event") == event]
        assert hits, f"no {event} at {path}: {[(r.path, r.body[:80]) for r in self.got]}"
        return hits[0]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            rec = box[0]
            rec.got.append(Received(self.path, dict(self.headers.items()), body))
            if self.path == "/hang":
                rec.release.wait(30)  # until the test ends
                return
            self.send_response(500 if self.path == "/fail" else 200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box[0]
    box[0].release.set()
    server.shutdown()
    server.server_close()


def write_config(tmp_path: Path, *tables: str) -> None:
    (tmp_path / "freshfleet.toml").write_text("\n".join(tables))


def webhook(url: str, *, events: str = "") -> str:
    extra = f"\nevents = [{events}]" if events else ""
    return (
        f'[[notify]]\napp = "demo-web"\nkind = "webhook"\nurl = "{url}"\n'
        f'secret_env = "{SECRET_ENV}"\ntimeout = 1{extra}\n'
    )


def slack(url: str) -> str:
    return f'[[notify]]\napp = "*"\nkind = "slack"\nurl = "{url}"\ntimeout = 1\n'


def signed(rec: Received) -> bool:
    want = "sha256=" + hmac.new(SECRET.encode(), rec.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(rec.headers.get("X-Freshfleet-Signature", ""), want)


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)


def test_a_successful_deploy_tells_the_team_each_step_signed(fleet, receiver, tmp_path):
    write_config(tmp_path, webhook(receiver.url("/ok")), slack(receiver.url("/slack")))
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--bake", "2")
    assert run.code == 0, run.out + run.err

    assert receiver.events("/ok") == ["started", "shifted", "bake_passed", "succeeded"]
    rollout = fleet.latest()
    for rec in (r for r in receiver.got if r.path == "/ok"):
        assert signed(rec), rec.headers
        body = rec.json
        assert {
            "event",
            "app",
            "rollout_id",
            "from_release",
            "to_release",
            "strategy",
            "backend",
            "outcome",
            "reason",
            "duration_seconds",
            "at",
        } <= set(body)
        assert body["app"] == "demo-web" and body["rollout_id"] == rollout["rollout_id"]
        assert (body["from_release"], body["to_release"]) == ("v1", "v2")
        assert body["strategy"] == "blue-green" and body["backend"] == "LOCAL SANDBOX"
        assert body["rollback_command"] == "freshfleet rollback demo-web"
        datetime.fromisoformat(body["at"])
    started = receiver.one("/ok", "started").json
    assert started["who"] and len(started["plan_sha256"]) == 64
    done = receiver.one("/ok", "succeeded").json
    assert "v2 serves" in done["outcome"] and done["duration_seconds"] > 0

    # The Slack-compatible hook gets text + blocks naming the app, the releases and the way back.
    texts = [json.loads(r.body) for r in receiver.got if r.path == "/slack"]
    assert len(texts) == 4 and all({"text", "blocks"} <= set(t) for t in texts)
    assert "demo-web" in texts[-1]["text"] and "v1 → v2" in texts[-1]["text"]
    assert "freshfleet rollback demo-web" in json.dumps(texts[-1]["blocks"])

    # The ledger keeps what each notifier answered.
    record = rollout["notifications"]
    assert len(record) == 8 and all(d["ok"] for d in record), record


def test_a_gate_failure_names_the_reason_and_the_failing_instance(fleet, receiver, tmp_path):
    write_config(tmp_path, webhook(receiver.url("/ok"), events='"failed"'))
    run = fleet.cli("deploy", "demo-web", "v3", "-y")
    assert run.code == 1, run.out + run.err

    assert receiver.events("/ok") == ["failed"]
    body = receiver.one("/ok", "failed").json
    assert "never healthy" in body["reason"]
    assert body["instance_id"].startswith("i-")
    assert body["last_phase"].startswith("health"), body
    assert body["to_release"] == "v3"


def test_a_flip_back_in_the_bake_is_told_as_automatic(fleet, receiver, tmp_path):
    write_config(tmp_path, webhook(receiver.url("/ok"), events='"shifted", "rolled_back"'))
    fleet.put_release("v2-crashy", simulate={"crash_after": 8})
    run = fleet.cli("deploy", "demo-web", "v2-crashy", "-y", "--bake", "60")
    assert run.code == 1, run.out + run.err

    assert receiver.events("/ok") == ["shifted", "rolled_back"]
    body = receiver.one("/ok", "rolled_back").json
    assert body["who"] == "automatic"
    assert "healthy targets during the bake" in body["reason"]
    assert "v1 serves again" in body["outcome"]


def test_receivers_that_hang_or_fail_never_fail_or_hold_the_rollout(fleet, receiver, tmp_path):
    write_config(
        tmp_path,
        webhook(receiver.url("/hang"), events='"succeeded"'),
        webhook(receiver.url("/fail"), events='"started", "succeeded"'),
    )
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--bake", "2")
    returned = time.time()
    assert run.code == 0, run.out + run.err
    assert fleet.serving() == {"v2": 100}

    rollout = fleet.latest()
    assert rollout["state"] == "succeeded"
    finished = datetime.fromisoformat(rollout["finished_at"]).timestamp()
    # After the rollout ended, the hung receiver held the command one timeout (1 s), no more.
    assert returned - finished < 1 + 1.5, returned - finished

    # 500s were retried (3 attempts), the hang gave up; each said so on stderr and in the ledger.
    assert receiver.events("/fail").count("started") == 3
    assert "not delivered" in run.err and "HTTP 500" in run.err
    record = {(d["notifier"], d["event"]): d for d in rollout["notifications"]}
    assert not any(d["ok"] for d in record.values()), record
    assert any("gave up" in d["detail"] for d in record.values()), record


def test_an_sns_topic_hears_the_rollout(fleet, receiver, tmp_path):
    sns, sqs = fleet.aws("sns"), fleet.aws("sqs")
    topic = sns.create_topic(Name="freshfleet-team")["TopicArn"]
    queue = sqs.create_queue(QueueName="team-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    (tmp_path / "freshfleet.toml").write_text(
        f'[[notify]]\napp = "demo-web"\nkind = "sns"\ntopic_arn = "{topic}"\n'
        'events = ["started", "succeeded"]\n'
    )
    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--bake", "2")
    assert run.code == 0, run.out + run.err

    got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    envelopes = [json.loads(m["Body"]) for m in got.get("Messages", [])]
    subjects = sorted(e["Subject"] for e in envelopes)
    assert subjects == [
        "freshfleet: demo-web: rollout started (v1 → v2, blue-green)",
        "freshfleet: demo-web: rollout succeeded (v1 → v2, blue-green)",
    ]
    assert all("freshfleet rollback demo-web" in e["Message"] for e in envelopes)


def test_notify_test_says_what_each_notifier_answered(fleet, receiver, tmp_path):
    write_config(tmp_path, webhook(receiver.url("/ok")), slack(receiver.url("/fail")))
    run = fleet.cli("notify", "test", "demo-web")
    assert run.code == 1, run.out + run.err  # one notifier failed
    assert "ok webhook 127.0.0.1: HTTP 200" in run.out
    assert "FAILED slack 127.0.0.1: HTTP 500 (attempts: 3)" in run.out
    assert signed(receiver.one("/ok", "test"))

    write_config(tmp_path, webhook(receiver.url("/ok")))
    as_json = fleet.cli("notify", "test", "demo-web", "--json")
    assert as_json.code == 0
    assert json.loads(as_json.out)[0]["ok"] is True
    nothing = fleet.cli("notify", "test", "other-app")
    assert nothing.code == 2 and "no notifier" in nothing.out
