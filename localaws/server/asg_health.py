"""An Auto Scaling group's health checks and the replacement of unhealthy instances, and how
long EC2 lists a terminated instance, as AWS plays them (localaws/README.md, "Fidelity").

AWS ("Health checks for instances in an Auto Scaling group", "Set the health check grace
period for an Auto Scaling group"): every group checks its `InService` instances with EC2's
status, and a group whose `HealthCheckType` is `ELB` also asks Elastic Load Balancing once
`HealthCheckGracePeriod` has passed since the instance came into service. An instance EC2
shows in any state but running (stopping, stopped, shutting-down, terminated), or whose
target any of the group's target groups calls `unhealthy`, is marked `Unhealthy`, terminated
(a scaling activity whose cause names the check) and replaced by a new instance (a launch
activity, a new id). Suspended processes hold it back as AWS's do: `HealthCheck` (nothing is
checked), `ReplaceUnhealthy` (marked `Unhealthy`, kept), `Launch` (terminated, not replaced).
A `SetInstanceHealth` of `Unhealthy` is replaced the same way. Stock moto never checks.

An instance comes into service when EC2 shows it running (`LocalCloud.mark_running` stamps
`localaws_in_service_at`, `lifecycle_hooks.in_service`), or, when a launch lifecycle hook held
it, when its action goes on (stamped again); the grace runs from then under localaws's time
scale. The instance it takes out is listed `Terminating` while its targets drain (EC2 keeps
it running), held by any terminating hook, then `Terminating:Proceed` as EC2 ends it, then
gone, as a scale-in's is (`asg_terminating.take_out`).
An instance found unhealthy is marked `Unhealthy` at one round and replaced at the next
(so DescribeAutoScalingGroups shows it `Unhealthy` for a moment, and a scale-in, which
terminates its instances a moment before it takes them out, is never taken for a failure).

EC2 ("DescribeInstances": terminated instances "remain visible after termination for
approximately one hour"): DescribeInstances and DescribeInstanceStatus with
`IncludeAllInstances` list a terminated instance for TERMINATED_VISIBLE_SECONDS (scaled);
then it is gone, and asked by id it is `InvalidInstanceID.NotFound`. Stock moto lists every
instance it ever ran.

One daemon thread checks every `scaled(CHECK_SECONDS)` (at least MIN_CHECK_SECONDS of local
time), beside moto's request threads (as the deletion's and the launch retries' timers do).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from localaws.server import asg_deletion, asg_terminating, scaling_activities
from localaws.timescale import scaled

log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0  # AWS seconds between two rounds of the groups' health checks
# The one floor: a round at most once a second of local time. A rollout's own polls are wall
# seconds the time scale does not shrink; without it, at the tests' 0.01 a group would act on
# a target's health ten times per poll of the engine, where on AWS it acts once per five.
MIN_CHECK_SECONDS = 1.0
TERMINATED_VISIBLE_SECONDS = 3600.0  # AWS seconds EC2 lists a terminated instance
EC2_FAILED = ("stopping", "stopped", "shutting-down", "terminated")

# AWS's causes of a termination by a health check, as the group's activity shows them.
ELB_CAUSE = (
    "At {now} an instance was taken out of service in response to an ELB system health check "
    "failure."
)
EC2_CAUSE = (
    "At {now} an instance was taken out of service in response to an EC2 health check "
    "indicating it has been terminated or stopped."
)
USER_CAUSE = "At {now} an instance was taken out of service in response to a user health-check."

# Target group ARN, instance id -> the target's state (`LocalCloud.prober.verdict`).
TargetState = Callable[[str, str], str]


def unhealthy_cause(group: Any, state: Any, target_state: TargetState, now: float) -> str:
    """AWS's cause for taking the instance of `state` (a moto InstanceState of `group`) out
    of service now, or '' while it is healthy."""
    if state.lifecycle_state != "InService":
        return ""
    if state.health_status == "Unhealthy":
        return USER_CAUSE
    instance = state.instance
    if instance.state in EC2_FAILED:
        return EC2_CAUSE
    if str(group.health_check_type or "EC2").upper() != "ELB" or instance.state != "running":
        return ""
    since = getattr(instance, "localaws_in_service_at", None)
    grace = scaled(float(group.health_check_grace_period or 0))
    if since is None or now - since < grace:
        return ""
    arns = list(group.target_group_arns or [])
    return ELB_CAUSE if any(target_state(arn, instance.id) == "unhealthy" for arn in arns) else ""


def check_group(
    group: Any,
    target_state: TargetState,
    now: float,
    drain_seconds: Callable[[str], float] = lambda _: 0.0,
) -> list[str]:
    """One round of `group`'s health checks. An instance found unhealthy is marked
    `Unhealthy` (DescribeAutoScalingGroups shows it so for a moment, as on AWS); one marked
    at an earlier round is terminated, listed `Terminating` for `drain_seconds(id)` (local
    seconds) and replaced, as its suspended processes allow. Returns the ids taken out this
    round."""
    suspended = {p["ProcessName"] for p in group.suspended_processes}
    if "HealthCheck" in suspended or asg_deletion.is_pending_delete(group):
        return []
    due: list[tuple[Any, str]] = []
    for state in list(group.instance_states):
        marked = getattr(state, "localaws_unhealthy_cause", "")
        if marked:
            due.append((state, marked))
            continue
        cause = unhealthy_cause(group, state, target_state, now)
        if cause:  # marked now, replaced at the next round
            state.health_status = "Unhealthy"
            state.localaws_unhealthy_cause = cause
    if not due or "ReplaceUnhealthy" in suspended:
        return []
    stamp = scaling_activities.now_text()
    out: set[str] = set()
    for state, cause in due:
        instance = state.instance
        text = cause.format(now=stamp)
        if instance.state == "terminated":  # ended outside the group: its activity says so
            scaling_activities.retell_termination(group, instance.id, text)
        else:  # EC2 ends it at its Terminating:Proceed (take_out)
            scaling_activities.terminating_because(group, instance.id, text)
        out.add(instance.id)
    group.instance_states = [s for s in group.instance_states if s.instance.id not in out]
    asg_terminating.take_out(group, [state for state, _ in due], drain_seconds)
    if "Launch" not in suspended:
        group.set_desired_capacity(group.desired_capacity)  # the replacements, new ids
    return sorted(out)


def sweep_terminated(ec2: Any, now: float) -> list[str]:
    """Forget the instances of `ec2` (a moto EC2 backend) terminated longer than
    TERMINATED_VISIBLE_SECONDS ago (scaled); returns their ids. A terminated instance is
    stamped the first time a sweep sees it."""
    visible = scaled(TERMINATED_VISIBLE_SECONDS)
    gone: list[str] = []
    for reservation_id, reservation in list(ec2.reservations.items()):
        keep = []
        for instance in list(reservation.instances):
            if instance.state == "terminated":
                ended = getattr(instance, "localaws_terminated_at", None)
                if ended is None:
                    instance.localaws_terminated_at = now
                elif now - ended >= visible:
                    gone.append(instance.id)
                    continue
            keep.append(instance)
        if len(keep) != len(reservation.instances):
            # A new list, not an edit: a request thread may be walking the old one.
            reservation.instances = keep
            if not keep:
                ec2.reservations.pop(reservation_id, None)
    return gone


class GroupHealth:
    """The thread that runs every group's health checks and the terminated-instance sweep
    in every account and region moto holds."""

    def __init__(
        self, target_state: TargetState, drain_seconds: Callable[[str], float] = lambda _: 0.0
    ) -> None:
        self._target_state = target_state
        self._drain_seconds = drain_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start checking (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="asg-health", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop checking; returns once the thread has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def tick(self) -> None:
        """One round over every group and every EC2 backend."""
        from moto.autoscaling.models import autoscaling_backends
        from moto.ec2.models import ec2_backends

        now = time.monotonic()
        for _, _, backend in list(autoscaling_backends.iter_backends()):
            groups: dict[str, Any] = getattr(backend, "autoscaling_groups", {})
            for group in list(groups.values()):
                try:
                    check_group(group, self._target_state, now, self._drain_seconds)
                except Exception:  # one group's trouble must not end every group's checks
                    log.exception("health check of %s failed", getattr(group, "name", "?"))
        for _, _, ec2 in list(ec2_backends.iter_backends()):
            sweep_terminated(ec2, now)

    def _run(self) -> None:
        while not self._stop.wait(max(MIN_CHECK_SECONDS, scaled(CHECK_SECONDS))):
            try:
                self.tick()
            except RuntimeError:  # moto's request threads changed a dict under us: next round
                continue
            except Exception:
                log.exception("Auto Scaling health checks failed")
