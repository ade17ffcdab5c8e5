"""One boot, phase by phase: fetch → verify → extract → build → run → health → marker.

Exit codes name the failing phase (EXIT_CODES); 0 means the release is healthy and the
"deployed" marker is written. With the marker present for the same release (a reboot),
the agent does not redeploy: it makes sure the container runs and reports its health.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import aws, container, fetch, health, identity, unpack
from .report import PhaseReporter, now_iso
from .settings import AgentSettings, SettingsError, load_settings

EXIT_OK = 0
EXIT_SETTINGS = 2
EXIT_CODES = {"fetch": 10, "verify": 11, "extract": 12, "build": 13, "run": 14, "health": 15}


class PhaseFailed(Exception):
    def __init__(self, phase: str, reason: str) -> None:
        super().__init__(reason)
        self.phase = phase
        self.reason = reason


class Boot:
    """A boot of one release on this instance; `run()` returns the exit code."""

    def __init__(
        self,
        settings: AgentSettings,
        reporter: PhaseReporter,
        *,
        docker_client: Callable[[], Any] = container.docker_client,
        aws_client: Callable[[str], Any] | None = None,
    ) -> None:
        self.s = settings
        self.report = reporter
        self._docker_factory = docker_client
        self._docker: Any = None
        self._aws_client = aws_client or (
            lambda svc: aws.client(svc, settings.region, settings.aws_endpoint_url)
        )

    @property
    def docker(self) -> Any:
        if self._docker is None:
            self._docker = self._docker_factory()
        return self._docker

    def phase(self, name: str, work: Callable[[], str]) -> None:
        """Run one phase between its start and ok/fail lines; raise PhaseFailed on failure."""
        self.report.event(name, "start")
        try:
            detail = work()
        except PhaseFailed:
            raise
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            self.report.event(name, "fail", reason)
            raise PhaseFailed(name, reason) from exc
        self.report.event(name, "ok", detail)

    # -- the phases ------------------------------------------------------------------

    @property
    def release_dir(self) -> Path:
        return self.s.work_dir / f"{self.s.app}-{self.s.version}"

    @property
    def archive(self) -> Path:
        return self.release_dir / "release.tar"

    @property
    def context(self) -> Path:
        return self.release_dir / "context"

    def do_fetch(self) -> str:
        size = fetch.fetch(
            self.s.url,
            self.archive,
            timeout=self.s.fetch_timeout,
            attempts=self.s.fetch_attempts,
            deadline=self.s.fetch_deadline,
            limit=self.s.max_release_bytes,
            s3_client=lambda: self._aws_client("s3"),
            bucket_owner=self.s.account_id,
            log=self.report.log,
        )
        return f"{size} bytes from {fetch.shown(self.s.url)}"

    def do_verify(self) -> str:
        return f"sha256 {fetch.verify(self.archive, self.s.sha256)}"

    def do_extract(self) -> str:
        if self.context.exists():
            shutil.rmtree(self.context)
        count = unpack.extract(self.archive, self.context, limit=self.s.max_release_bytes)
        return f"{count} entries"

    def do_build(self) -> str:
        try:
            client = self.docker
        except Exception as exc:
            raise container.BuildError(f"no Docker engine: {exc}") from exc
        image_id = container.build(
            client, self.context, self.s.image_tag, self.s.base_image, self.report.log
        )
        return f"{self.s.image_tag} {image_id[:19]}"

    def environment(self) -> dict[str, str]:
        env = {
            "APP_PORT": str(self.s.port),
            "FRESHFLEET_APP": self.s.app,
            "FRESHFLEET_VERSION": self.s.version,
            "FRESHFLEET_ROLLOUT": self.s.rollout,
            "FRESHFLEET_INSTANCE_ID": self.report.instance_id,
        }
        if self.s.ssm_path:
            try:
                secrets = container.ssm_environment(self._aws_client("ssm"), self.s.ssm_path)
            except Exception as exc:
                raise container.RunError(f"secrets under {self.s.ssm_path}: {exc}") from exc
            self.report.log(f"freshfleet-boot: {len(secrets)} secrets from {self.s.ssm_path}")
            env.update(secrets)
        return env

    def labels(self) -> dict[str, str]:
        return {
            **self.s.extra_labels,
            container.LABEL_APP: self.s.app,
            container.LABEL_RELEASE: self.s.version,
            container.LABEL_INSTANCE: self.report.instance_id,
        }

    def do_run(self) -> str:
        cid = container.run(
            self.docker,
            image=self.s.image_tag,
            name=self.s.container_name,
            port=self.s.port,
            host_port=self.s.host_port,
            host_bind=self.s.host_bind,
            environment=self.environment(),
            labels=self.labels(),
        )
        return f"{self.s.container_name} {cid[:12]} on port {self.s.host_port}"

    def health_url(self) -> str:
        host = "127.0.0.1" if self.s.host_bind in ("0.0.0.0", "") else self.s.host_bind
        return f"http://{host}:{self.s.host_port}{self.s.health_path}"

    def do_health(self) -> str:
        def state() -> str:
            status, code, tail = container.container_state(self.docker, self.s.container_name)
            if status == "running":
                return ""
            last = tail.splitlines()[-1] if tail else ""
            return f"container {status}, exit code {code}" + (f": {last}" if last else "")

        took = health.wait_healthy(
            self.health_url(), self.s.health_timeout, container_state=state, log=self.report.log
        )
        return f"{self.health_url()} answered after {took:.1f} s"

    # -- the marker --------------------------------------------------------------------

    def marker(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.s.marker_path.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def marker_matches(self) -> bool:
        data = self.marker() or {}
        return (data.get("app"), data.get("version"), data.get("sha256")) == (
            self.s.app,
            self.s.version,
            self.s.sha256,
        )

    def write_marker(self) -> None:
        self.s.state_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "app": self.s.app,
            "version": self.s.version,
            "sha256": self.s.sha256,
            "rollout": self.s.rollout,
            "image": self.s.image_tag,
            "container": self.s.container_name,
            "deployed_at": now_iso(),
        }
        tmp = self.s.marker_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        tmp.replace(self.s.marker_path)

    # -- the whole boot ------------------------------------------------------------------

    def do_ensure_running(self) -> str:
        status = container.ensure_running(self.docker, self.s.container_name)
        return f"already deployed: {self.s.container_name} {status}"

    def deployed_container_exists(self) -> bool:
        try:
            status, _, _ = container.container_state(self.docker, self.s.container_name)
        except Exception:  # no engine: the full deploy will say so at its build phase
            return False
        return status != "missing"

    def run(self) -> int:
        try:
            if self.marker_matches():
                if self.deployed_container_exists():
                    # A reboot: no redeploy, only make sure it runs and is healthy.
                    self.phase("run", self.do_ensure_running)
                    self.phase("health", self.do_health)
                    return EXIT_OK
                # Gone without a failure to report: deploy it again from the start.
                self.report.log("freshfleet-boot: deployed container is gone, redeploying")
                self.s.marker_path.unlink(missing_ok=True)
            self.phase("fetch", self.do_fetch)
            self.phase("verify", self.do_verify)
            self.phase("extract", self.do_extract)
            self.phase("build", self.do_build)
            self.phase("run", self.do_run)
            self.phase("health", self.do_health)
            self.write_marker()
            return EXIT_OK
        except PhaseFailed as failed:
            return EXIT_CODES[failed.phase]


def main(environ: dict[str, str] | None = None) -> int:
    """Boot the release the env file names; the exit code names the failing phase."""
    try:
        settings = load_settings(environ)
    except SettingsError as exc:
        print(f"freshfleet-boot: {exc}", file=sys.stderr, flush=True)
        print(f"freshfleet-boot {now_iso()} fetch fail {exc}", flush=True)
        return EXIT_SETTINGS
    who = identity.discover(settings.imds_endpoint, settings.instance_id, settings.region)
    from dataclasses import replace

    if who.region and who.region != settings.region:  # IMDS knows where it runs
        settings = replace(settings, region=who.region)
    if who.account:  # and whose account it is: the one that must own the release bucket
        settings = replace(settings, account_id=who.account)
    reporter = PhaseReporter(
        instance_id=who.instance_id,
        instance_arn=identity.instance_arn(settings.region, settings.account_id, who.instance_id),
        app=settings.app,
        release=settings.version,
        rollout=settings.rollout,
        table=settings.instances_table,
        # Reports are best-effort: two attempts, so a missing table costs a boot seconds only.
        table_client=lambda: aws.client(
            "dynamodb", settings.region, settings.aws_endpoint_url, attempts=2
        ),
    )
    reporter.log(
        f"freshfleet-boot: {settings.app} {settings.version} on {who.instance_id} "
        f"(identity from {who.source})"
    )
    return Boot(settings, reporter).run()
