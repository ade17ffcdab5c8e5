"""The bridge between moto's models and localaws's moving parts.

moto serves requests on threads; the runtime, the prober and the data plane live on one
asyncio loop. Patched moto methods call a LocalCloud, which records what happened under
a lock and hands the work to the loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from localaws.network.dataplane import DataPlane
from localaws.network.prober import HealthProber
from localaws.runtimes.base import InstanceLaunch, InstanceRuntime
from localaws.server import lifecycle_hooks
from localaws.server.consistency import INSTANCE, Propagation
from localaws.server.throttling import RequestMeter
from rollout.userdata import parse_release_env

_ENDED = {"terminated", "stopped", "shutting-down", "stopping"}


class LocalCloud:
    """What the patches call. Methods say which thread they run on."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        runtime: InstanceRuntime[Any],
        region: str,
        endpoint_url: str,
    ) -> None:
        self.loop = loop
        self.runtime = runtime
        self.region = region
        self.endpoint_url = endpoint_url
        self._instances: dict[str, Any] = {}  # id -> moto Instance, while it lives
        self._lock = threading.Lock()
        self.prober = HealthProber(
            loop,
            runtime,
            self.is_running,
            on_gone=self._target_gone,
            traffic_zones=traffic_zones,
            zone_of=self.zone_of,
        )
        self.dataplane = DataPlane(loop, self.prober, runtime)
        self.prober.on_drain = self.dataplane.target_draining
        timers = runtime.host.timers
        self.propagation = Propagation(timers)
        self.meter = RequestMeter(bool(getattr(timers, "throttling", False)))
        self.unprocessed_share = float(getattr(timers, "batch_get_unprocessed_share", 0.0))

    # -- moto threads ------------------------------------------------------------------

    def launched(self, instances: list[Any]) -> None:
        """New instances: hold them `pending` and start their boot on the loop."""
        launches = []
        with self._lock:
            for instance in instances:
                instance._state.name = "pending"
                instance._state.code = 0
                self._instances[instance.id] = instance
                launches.append(self._launch_of(instance))
                self.propagation.created(INSTANCE, instance.id)
        for launch in launches:
            self.loop.call_soon_threadsafe(self.runtime.start, launch)

    def ended(self, instance: Any) -> None:
        """An instance was stopped or terminated: end it and drain its targets."""
        with self._lock:
            known = self._instances.pop(instance.id, None) is not None
        if known:
            # Its app keeps answering while its targets drain, so in-flight requests finish.
            linger = self.prober.instance_drain_seconds(instance.id)
            self.prober.instance_ended(instance.id)
            self.loop.call_soon_threadsafe(self.runtime.stop, instance.id, linger)

    def console_output(self, instance_id: str) -> str:
        return self.runtime.console_output(instance_id) or ""

    def is_running(self, instance_id: str) -> bool:
        instance = self._instances.get(instance_id)
        return instance is not None and instance.state == "running"

    def target_state(self, tg_arn: str, target_id: str) -> str:
        """The state ELB gives the target in the group `tg_arn` ('' when not known)."""
        verdict = self.prober.verdict(tg_arn, target_id)
        return verdict[0] if verdict is not None else ""

    def zone_of(self, instance_id: str) -> str | None:
        """The instance's Availability Zone (None when not one of ours)."""
        instance = self._instances.get(instance_id)
        return None if instance is None else instance.availability_zone

    def reset(self) -> None:
        """moto is about to forget everything: end every instance and every target."""
        with self._lock:
            ids = list(self._instances)
            self._instances.clear()
        for instance_id in ids:
            self.loop.call_soon_threadsafe(self.runtime.stop, instance_id)
        self.prober.clear()
        self.dataplane.close_all()
        self.propagation.clear()
        self.meter.clear()

    # -- the loop ----------------------------------------------------------------------

    def mark_running(self, instance_id: str) -> None:
        """The runtime says the instance has started: EC2 shows it `running`."""
        instance = self._instances.get(instance_id)
        if instance is not None and instance.state == "pending":
            instance._state.name = "running"
            instance._state.code = 16
            lifecycle_hooks.in_service(instance)  # its group's grace period runs from now

    def _target_gone(self, tg: Any, target_id: str) -> None:
        # A stopped instance stays registered (AWS shows it unused, Target.InvalidState);
        # a terminated one leaves moto's lists too (ASG scale-in leaves it registered).
        try:
            instance = tg.ec2_backend.get_instance_by_id(target_id)
        except RuntimeError:  # moto's request threads changed its instances under us
            instance = None
        if instance is not None and instance.state == "stopped":
            return
        tg.targets.pop(target_id, None)
        tg.terminated_targets.pop(target_id, None)

    def _launch_of(self, instance: Any) -> InstanceLaunch:
        raw = instance.user_data
        try:
            text = raw.decode() if hasattr(raw, "decode") else str(raw or "")
        except (ValueError, UnicodeDecodeError):
            text = ""
        tags = dict(getattr(instance.ec2_backend, "tags", {}).get(instance.id, {}))
        return InstanceLaunch(
            instance_id=instance.id,
            user_data=text,
            env=parse_release_env(text),
            region=self.region,
            endpoint_url=self.endpoint_url,
            private_ip=str(getattr(instance, "private_ip", "") or ""),
            tags=tags,
            account_id=str(getattr(instance, "owner_id", "") or ""),
        )


def traffic_zones(groups: list[Any]) -> dict[str, frozenset[str]]:
    """Target group ARN -> the AZs enabled on the load balancers that forward to it from a
    listener's default action or a rule (weight 0 counts), for the accounts and regions of
    `groups`; a group nothing forwards to is absent. ELB checks only such groups
    (Target.NotInUse, ELB TargetHealth API reference). Raises RuntimeError when moto's
    request threads change a listener mid-walk."""
    from moto.elbv2.models import elbv2_backends

    found: dict[str, frozenset[str]] = {}
    places = {(tg.account_id, tg.region_name) for tg in groups}
    for account, region in places:
        backend = elbv2_backends[account][region]
        for lb in list(backend.load_balancers.values()):
            zones = frozenset(z.zone_name for z in lb.availability_zones)
            for listener in list(lb.listeners.values()):
                actions = list(listener.default_actions)
                for rule in list(listener._non_default_rules.values()):
                    actions += list(rule.actions)
                for arn in _forwarded(actions):
                    found[arn] = found.get(arn, frozenset()) | zones
    return found


def _forwarded(actions: list[Any]) -> list[str]:
    arns: list[str] = []
    for action in actions:
        data = getattr(action, "data", None) or {}
        if data.get("Type") != "forward":
            continue
        if data.get("TargetGroupArn"):
            arns.append(str(data["TargetGroupArn"]))
        for group in (data.get("ForwardConfig") or {}).get("TargetGroups", []):
            arns.append(str(group["TargetGroupArn"]))
    return arns


def is_ended(state: str) -> bool:
    return state in _ENDED
