"""The real instance runtime: the boot agent itself, building and running releases with Docker.

localaws plays the base image and cloud-init (ARCHITECTURE §7): for each instance it writes the
env file the user data carries into the instance's own directory and runs the real agent
(`python -m bootscript.agent`) as its own process group there. The agent gets a free host
port for the release's APP_PORT, an IMDSv2 endpoint of its own (one shared server, routed
by path: `http://127.0.0.1:<port>/<instance id>`), and localaws's endpoint with dummy
credentials for its instances-table, SSM and S3 calls. The console is the agent's stdout
(its phase lines); its stderr (the build log) is the instance's journal file. Each
instance has one container, named `freshfleet-<instance id>` and labelled with its id,
removed when the instance ends, and with the pid and host of the localaws that started it:
a localaws killed hard cannot remove its containers, so the next one to start on that host
does (`remove_orphans`).

localaws is ready at once: when the engine lacks the release base image, it is built in
the background (mmdebstrap, a minute or more, progress on stderr) while the first
instances wait in their boot, their consoles saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import web

import bootscript
from bootscript import baseimage
from bootscript.agent.container import LABEL_INSTANCE
from localaws.http_server import serve_on_loopback
from localaws.runtimes.base import InstanceLaunch, InstanceRuntime, RuntimeInstance
from rollout.aws.backend import pid_alive

AGENT_ROOT = Path(bootscript.__file__).resolve().parent.parent  # holds the bootscript package
KILL_GRACE_SECONDS = 3.0
# Docker's own variables reach the agent as they are. The agent's knobs are set in
# localaws's environment as LOCALAWS_AGENT_<NAME> (e.g. LOCALAWS_AGENT_FETCH_TIMEOUT=10)
# and reach it as FRESHFLEET_<NAME>: FRESHFLEET_* in localaws's own environment is config.
# The env file the user data carries is written as it is and wins over a knob, as systemd's
# EnvironmentFile= would: the rollout's FRESHFLEET_HEALTH_TIMEOUT reaches the agent.
PASSED_THROUGH = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")
AGENT_KNOB_PREFIX = "LOCALAWS_AGENT_"
# Which localaws started a container, and on which host: the next one on that host removes
# those of a localaws that died (remove_orphans).
LABEL_LOCALAWS = "freshfleet.localaws-pid"
LABEL_LOCALAWS_HOST = "freshfleet.localaws-host"
BASE_IMAGE_ENV = "LOCALAWS_BASE_IMAGE"  # a release base image the engine has, used as it is


def base_image_available() -> tuple[bool, str]:
    """(True, why) when a Docker engine answers and a release base image exists or can be built."""
    try:
        import docker

        client = docker.from_env(timeout=5)
    except Exception as exc:
        return False, f"no Docker engine: {exc}"
    try:
        client.ping()
        ok, why = baseimage.base_image_status(client, os.environ.get(BASE_IMAGE_ENV, ""))
        return ok, f"Docker engine answers; {why}"
    except Exception as exc:
        return False, f"no Docker engine: {exc}"
    finally:
        client.close()


def say(line: str) -> None:
    """One line of localaws's own news on stderr, `localaws: ` first (stdout says it is ready)."""
    print(f"localaws: {line}", file=sys.stderr, flush=True)


def remove_orphans(report: Callable[[str], None] = say) -> list[str]:
    """Remove the containers a dead localaws on this host left behind; returns their ids.

    A container is removed only when it carries both labels a localaws gives its instances'
    containers, its host label names this host (`socket.gethostname()`) and its pid label
    names a process that is not alive here (`pid_alive`). A container without those labels is
    never touched, and one whose pid is alive stays (a reused pid keeps an orphan; it never
    removes a live localaws's). The host label is there because an engine can be shared
    (`DOCKER_HOST`, or localaws in a container using the host's socket): a pid only means
    something on the host that made it, so another host's containers are left to that host
    (hosts sharing an engine need names of their own; a container's is its id by default).
    Containers from before the host label have none, and are left too. Each removal is
    reported (`report`, stderr by default) with the container's name and its dead pid.
    """
    import docker

    client = docker.from_env(timeout=60)
    removed: list[str] = []
    mine = {"label": [LABEL_LOCALAWS, f"{LABEL_LOCALAWS_HOST}={socket.gethostname()}"]}
    try:
        for found in client.api.containers(all=True, filters=mine):
            pid = found["Labels"].get(LABEL_LOCALAWS, "")
            if pid.isdigit() and not pid_alive(int(pid)):
                try:
                    client.api.remove_container(found["Id"], force=True)
                except Exception:  # already gone is fine
                    continue
                removed.append(found["Id"])
                name = ",".join(n.lstrip("/") for n in found.get("Names") or []) or found["Id"]
                report(f"removed container {name}, left by localaws pid {pid} (not running)")
    finally:
        client.close()
    return removed


def say_progress(line: str) -> None:
    """Base-image progress on stderr: a first start builds it for a minute or two."""
    say(f"release base image: {line}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MetadataServer:
    """IMDSv2 for many instances on one port, routed by path: `<endpoint>/<instance id>`.

    `PUT /<id>/latest/api/token` (with `X-aws-ec2-metadata-token-ttl-seconds`) returns a
    token; GETs under `/<id>/latest/meta-data/` need it in `X-aws-ec2-metadata-token`.
    """

    def __init__(self) -> None:
        self._instances: dict[str, tuple[InstanceLaunch, str]] = {}
        self._runner: web.AppRunner | None = None
        self.port = 0

    def endpoint(self, instance_id: str) -> str:
        return f"http://127.0.0.1:{self.port}/{instance_id}"

    def register(self, launch: InstanceLaunch) -> None:
        self._instances[launch.instance_id] = (launch, secrets.token_hex(16))

    def unregister(self, instance_id: str) -> None:
        self._instances.pop(instance_id, None)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("PUT", "/{iid}/latest/api/token", self._token)
        app.router.add_route("GET", "/{iid}/latest/{path:.*}", self._get)
        self._runner, self.port = await serve_on_loopback(app)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _token(self, request: web.Request) -> web.Response:
        known = self._instances.get(request.match_info["iid"])
        if known is None:
            raise web.HTTPNotFound()
        if not request.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            raise web.HTTPBadRequest(text="missing X-aws-ec2-metadata-token-ttl-seconds\n")
        return web.Response(text=known[1])

    async def _get(self, request: web.Request) -> web.Response:
        known = self._instances.get(request.match_info["iid"])
        if known is None:
            raise web.HTTPNotFound()
        launch, token = known
        if request.headers.get("X-aws-ec2-metadata-token") != token:
            raise web.HTTPUnauthorized()
        answers = {
            "meta-data/instance-id": launch.instance_id,
            "meta-data/placement/region": launch.region,
            "meta-data/placement/availability-zone": f"{launch.region}a",
            "meta-data/local-ipv4": launch.private_ip,
        }
        path = request.match_info["path"].rstrip("/")
        if path == "dynamic/instance-identity/document":
            document = {
                "accountId": launch.account_id,
                "instanceId": launch.instance_id,
                "region": launch.region,
                "availabilityZone": f"{launch.region}a",
                "privateIp": launch.private_ip,
            }
            return web.json_response(document)
        # Instance tags, as with InstanceMetadataTags=enabled.
        if path == "meta-data/tags/instance":
            return web.Response(text="\n".join(launch.tags))
        key = path.removeprefix("meta-data/tags/instance/")
        if key != path and key in launch.tags:
            return web.Response(text=launch.tags[key])
        if path not in answers:
            raise web.HTTPNotFound()
        return web.Response(text=answers[path])


@dataclass(slots=True, kw_only=True)
class RealInstance(RuntimeInstance):
    """One instance's agent process (its app is up once the agent says `run ok`)."""

    directory: Path
    host_port: int
    process: asyncio.subprocess.Process | None = None
    exit_code: int | None = None

    @property
    def container_name(self) -> str:
        return f"freshfleet-{self.launch.instance_id}"


class RealRuntime(InstanceRuntime[RealInstance]):
    """Instances whose boot is the real agent and whose app is a real container."""

    name = "real"

    def __init__(
        self,
        host: Any,
        progress: Callable[[str], None] | None = None,
        agent_env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(host)
        self._say = progress or say_progress
        self._waiting: set[str] = set()  # instances whose boot waits for the base image
        self.agent_env = dict(agent_env or {})  # extra agent environment (tests: short timeouts)
        self.imds = MetadataServer()
        self._base_image = ""
        self._base_ready: asyncio.Future[str] = host.loop.create_future()
        # Each waiting boot reports a failed build; with none waiting, it is said on stderr.
        self._base_ready.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._own_workdir = not host.workdir
        self._workdir = Path(host.workdir or tempfile.mkdtemp(prefix="freshfleet-real-"))
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_image(self) -> str:
        return self._base_image

    async def open(self) -> None:
        # A first start builds the base image (minutes): localaws is ready at once and
        # instances wait for it in their boot, as a fresh AMI's first boot would be slow.
        threading.Thread(target=self._build_base_image, name="base-image", daemon=True).start()
        await asyncio.to_thread(remove_orphans)
        await self.imds.start()

    def _build_base_image(self) -> None:
        """On a daemon thread, so that a localaws exiting never waits for mmdebstrap."""
        configured = os.environ.get(BASE_IMAGE_ENV, "")
        tag, error = "", ""
        try:
            tag = baseimage.ensure_base_image(None, self.progress, configured)
        except Exception as exc:
            error = str(exc) or type(exc).__name__
            self.progress(f"cannot be had: {error}")
        with contextlib.suppress(RuntimeError):  # the loop closed: localaws is exiting
            self.host.loop.call_soon_threadsafe(self._base_done, tag, error)

    def progress(self, line: str) -> None:
        """A base-image build line (any thread): on stderr, and in the console of every
        instance waiting for the image, so the first boot shows what it waits on."""
        self._say(line)
        with contextlib.suppress(RuntimeError):  # the loop closed: localaws is exiting
            self.host.loop.call_soon_threadsafe(self._show_progress, line)

    def _show_progress(self, line: str) -> None:
        with self._lock:
            waiting = [self._instances[i] for i in self._waiting if i in self._instances]
        for inst in waiting:
            self._print(inst, f"freshfleet-base-image: {line}")

    def _base_done(self, tag: str, error: str) -> None:
        if self._base_ready.done():
            return
        if error:
            self._base_ready.set_exception(RuntimeError(error))
        else:
            self._base_image = tag
            self._base_ready.set_result(tag)

    async def wait_base_image(self) -> str:
        """The release base image's tag once it is there; RuntimeError if it cannot be had."""
        return await asyncio.shield(self._base_ready)

    async def close(self) -> None:
        with self._lock:
            instances = list(self._instances.values())
        for inst in instances:
            inst.ended = True
            inst.app_up = False
            self._kill(inst)
        await asyncio.to_thread(self._remove_containers, [i.launch.instance_id for i in instances])
        for task in list(self._tasks):
            task.cancel()
        if not self._base_ready.done():
            self._base_ready.cancel()
        await self.imds.close()
        if self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)

    # -- the runtime interface -------------------------------------------------------

    def start(self, launch: InstanceLaunch) -> None:
        directory = self._workdir / launch.instance_id
        if not launch.region:
            launch = replace(launch, region=self.host.region)
        inst = RealInstance(launch, directory=directory, host_port=free_port())
        self.imds.register(launch)
        self._keep(inst, f"[    0.000000] localaws real instance {launch.instance_id} booting")
        task = self.host.loop.create_task(self._boot(inst))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _app_port(self, inst: RealInstance) -> int:
        return inst.host_port

    def _halt(self, inst: RealInstance) -> None:
        self._kill(inst)

    def journal(self, instance_id: str) -> str:
        """The agent's full log (the build output) for the instance; '' when none."""
        inst = self._instances.get(instance_id)
        path = inst.directory / "journal.log" if inst else None
        try:
            return path.read_text(errors="replace") if path else ""
        except OSError:
            return ""

    # -- the boot ----------------------------------------------------------------------

    def agent_environment(self, inst: RealInstance) -> dict[str, str]:
        """The process environment localaws gives one instance's agent."""
        launch = inst.launch
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(inst.directory),
            "PYTHONPATH": str(AGENT_ROOT),
            "PYTHONUNBUFFERED": "1",
            "FRESHFLEET_ENV_FILE": str(inst.directory / "release.env"),
            "FRESHFLEET_STATE_DIR": str(inst.directory / "state"),
            "FRESHFLEET_WORK_DIR": str(inst.directory / "work"),
            "FRESHFLEET_IMDS_ENDPOINT": self.imds.endpoint(launch.instance_id),
            "FRESHFLEET_INSTANCE_ID": launch.instance_id,
            "FRESHFLEET_BASE_IMAGE": self._base_image,
            "FRESHFLEET_HOST_PORT": str(inst.host_port),
            "FRESHFLEET_HOST_BIND": "127.0.0.1",
            "FRESHFLEET_CONTAINER_NAME": inst.container_name,
            "FRESHFLEET_CONTAINER_LABELS": (
                f"{LABEL_LOCALAWS}={os.getpid()},{LABEL_LOCALAWS_HOST}={socket.gethostname()}"
            ),
            "AWS_ENDPOINT_URL": launch.endpoint_url or self.host.endpoint_url,
            "AWS_ACCESS_KEY_ID": "localaws",
            "AWS_SECRET_ACCESS_KEY": "localaws",
            "AWS_DEFAULT_REGION": launch.region or self.host.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
        env.update(
            {
                "FRESHFLEET_" + k.removeprefix(AGENT_KNOB_PREFIX): v
                for k, v in os.environ.items()
                if k.startswith(AGENT_KNOB_PREFIX)
            }
        )
        env.update(self.agent_env)
        return env

    async def _boot(self, inst: RealInstance) -> None:
        launch = inst.launch
        inst.directory.mkdir(parents=True, exist_ok=True)
        self.host.mark_running(launch.instance_id)
        if not launch.env:
            self._print(inst, "cloud-init: no freshfleet user data; nothing to boot")
            return
        env_file = inst.directory / "release.env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in launch.env.items()))
        self._print(inst, "cloud-init: wrote /etc/freshfleet/release.env")
        if not self._base_ready.done():
            self._print(inst, "freshfleet-base-image: building the release base image (once)...")
        self._waiting.add(launch.instance_id)
        try:
            await self.wait_base_image()
        except RuntimeError as exc:
            self._print(inst, f"freshfleet-base-image: no release base image: {exc}")
            return
        finally:
            self._waiting.discard(launch.instance_id)
        if inst.ended:
            return
        self._print(inst, "Starting freshfleet-boot.service - freshfleet boot agent...")
        with (inst.directory / "journal.log").open("ab") as journal:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bootscript.agent",
                cwd=inst.directory,
                env=self.agent_environment(inst),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=journal,
                start_new_session=True,  # its own process group, killed as one
            )
        inst.process = proc
        if inst.ended:  # stopped while the process was starting
            self._kill(inst)
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._print(inst, line)
            if " run ok " in f"{line} " and not inst.ended:
                inst.app_up = True
        inst.exit_code = await proc.wait()
        if inst.ended:
            return
        if inst.exit_code == 0:
            self._print(inst, "Finished freshfleet-boot.service - freshfleet boot agent.")
        else:
            self._print(
                inst,
                "freshfleet-boot.service: Main process exited, code=exited, "
                f"status={inst.exit_code}",
            )
            self._print(inst, "freshfleet-boot.service: Failed with result 'exit-code'.")

    # -- ending ------------------------------------------------------------------------

    def _kill(self, inst: RealInstance) -> None:
        proc = inst.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)

        def finish() -> None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)

        self.host.loop.call_later(KILL_GRACE_SECONDS, finish)

    def _retire(self, inst: RealInstance) -> None:
        inst.app_up = False
        self.imds.unregister(inst.launch.instance_id)
        task = self.host.loop.create_task(
            asyncio.to_thread(self._remove_containers, [inst.launch.instance_id])
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _remove_containers(self, instance_ids: list[str]) -> None:
        """Remove every container of these instances (by label, and by name)."""
        if not instance_ids:
            return
        import docker

        client = docker.from_env(timeout=60)
        try:
            for instance_id in instance_ids:
                # The low-level list: no inspect per container, which races with removals.
                found = client.api.containers(
                    all=True, filters={"label": f"{LABEL_INSTANCE}={instance_id}"}
                )
                found += client.api.containers(
                    all=True, filters={"name": f"^freshfleet-{instance_id}$"}
                )
                for cid in {c["Id"] for c in found}:
                    with contextlib.suppress(Exception):  # already gone is fine
                        client.api.remove_container(cid, force=True)
        finally:
            client.close()
