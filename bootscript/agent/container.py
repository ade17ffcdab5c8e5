"""The build and run phases, through the Docker SDK (docker-py 5.0.3 and 7.x alike).

The build streams through the low-level `client.api.build(..., decode=True)`, because
docker-py 7's `images.build()` only returns at the end; the classic builder is used (no
BuildKit), so releases must not use `RUN --mount`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

LABEL_APP = "freshfleet.app"
LABEL_RELEASE = "freshfleet.release"
LABEL_INSTANCE = "freshfleet.instance-id"
RESTART_POLICY = {"Name": "unless-stopped"}  # survives a reboot through dockerd itself


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The classic builder's own progress lines: never the reason a build failed.
_BUILDER_CHATTER = (
    "Step ",
    "--->",
    "Removing intermediate container",
    "Running in ",
    "Successfully",
)


class BuildError(Exception):
    """`docker build` failed; the message is the builder's own error."""


class RunError(Exception):
    """The container could not be started; the message says why."""


def docker_client() -> Any:
    """A Docker client from the environment (DOCKER_HOST, or the local socket)."""
    import docker

    return docker.from_env(timeout=300)


def build(
    client: Any,
    context: Path,
    tag: str,
    base_image: str,
    log: Callable[[str], None],
) -> str:
    """Build the release's Dockerfile in context as tag, with BASE_IMAGE as build arg.

    Every output line goes to log (the journal); returns the image id. Raises BuildError
    with the builder's error message.
    """
    dockerfile = context / "Dockerfile"
    if dockerfile.is_symlink():  # the builder would read whatever it points at
        raise BuildError("the release's Dockerfile is a link; it must be a regular file")
    if not dockerfile.is_file():
        raise BuildError("the release has no Dockerfile at its top level")
    image_id = ""
    last_lines: list[str] = []
    try:
        stream = client.api.build(
            path=str(context),
            tag=tag,
            buildargs={"BASE_IMAGE": base_image},
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        )
        for chunk in stream:
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                message = str(detail.get("message") or chunk.get("error") or "").strip()
                log(f"build error: {message}")
                last = f" (last output: {last_lines[-1]})" if last_lines else ""
                raise BuildError((message or "docker build failed") + last)
            text = str(chunk.get("stream") or chunk.get("status") or "")
            for raw in text.splitlines():
                line = _ANSI.sub("", raw).strip()
                if line:
                    log(raw.rstrip())
                    if not line.startswith(_BUILDER_CHATTER):
                        last_lines = [*last_lines[-4:], line]
            aux = chunk.get("aux")
            if isinstance(aux, dict) and aux.get("ID"):
                image_id = str(aux["ID"])
    except BuildError:
        raise
    except Exception as exc:  # docker.errors.APIError and friends, without importing docker here
        raise BuildError(_docker_reason(exc)) from exc
    if not image_id:
        image_id = str(client.images.get(tag).id)
    return image_id


def _docker_reason(exc: Exception) -> str:
    explanation = getattr(exc, "explanation", None)
    return str(explanation or exc).strip()


def ssm_environment(ssm: Any, path: str) -> dict[str, str]:
    """Every parameter under path as NAME=value, NAME being the last part of its name."""
    env: dict[str, str] = {}
    token = ""
    while True:
        kwargs: dict[str, Any] = {"Path": path, "Recursive": True, "WithDecryption": True}
        if token:
            kwargs["NextToken"] = token
        page = ssm.get_parameters_by_path(**kwargs)
        for param in page.get("Parameters", []):
            env[param["Name"].rstrip("/").rsplit("/", 1)[-1]] = param["Value"]
        token = page.get("NextToken") or ""
        if not token:
            return env


def remove_container(client: Any, name: str) -> None:
    """Remove the named container if it exists (a half-done earlier boot's)."""
    try:
        client.containers.get(name).remove(force=True)
    except Exception as exc:
        if (
            getattr(getattr(exc, "response", None), "status_code", None) == 404
            or type(exc).__name__ == "NotFound"
        ):
            return
        raise RunError(f"cannot remove old container {name}: {_docker_reason(exc)}") from exc


def run(
    client: Any,
    *,
    image: str,
    name: str,
    port: int,
    host_port: int,
    host_bind: str,
    environment: Mapping[str, str],
    labels: Mapping[str, str],
) -> str:
    """Start the release detached with a restart policy, port published; returns its id."""
    remove_container(client, name)
    try:
        container = client.containers.run(
            image,
            detach=True,
            name=name,
            environment=dict(environment),
            labels=dict(labels),
            ports={f"{port}/tcp": (host_bind, host_port)},
            restart_policy=dict(RESTART_POLICY),
        )
    except Exception as exc:
        raise RunError(_docker_reason(exc)) from exc
    return str(container.id)


def ensure_running(client: Any, name: str) -> str:
    """Start the named container if it exists but is stopped; returns its status afterwards.

    Returns "missing" when there is no such container.
    """
    try:
        container = client.containers.get(name)
    except Exception as exc:
        if type(exc).__name__ == "NotFound":
            return "missing"
        raise RunError(_docker_reason(exc)) from exc
    if container.status != "running":
        try:
            container.start()
        except Exception as exc:
            raise RunError(f"cannot start {name}: {_docker_reason(exc)}") from exc
        container.reload()
    return str(container.status)


def container_state(client: Any, name: str) -> tuple[str, int, str]:
    """(status, exit code, last log lines) of the named container, for the health phase."""
    try:
        container = client.containers.get(name)
        state = container.attrs.get("State", {})
        tail = container.logs(tail=5).decode(errors="replace").strip()
        return str(state.get("Status", "")), int(state.get("ExitCode", 0)), tail
    except Exception:
        return "missing", -1, ""
