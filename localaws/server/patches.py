"""Every change localaws makes to moto, in one place (moto is pinned: 5.2.5).

Stock moto makes instances `running` at once, gives every instance the same console
text and calls every target `healthy` (ARCHITECTURE §7). These patches hand those decisions to
a LocalCloud (localaws/server/cloud.py): instance runtimes, the health prober, the data plane.

The private names touched are listed in PATCHED; `tests/localaws/test_patch_points.py` checks
each through the public API, so a moto upgrade that moves one fails a named test. Methods
moto lacks and localaws adds are listed in ADDED (`remove()` deletes them again).
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
import sys
import threading
from collections.abc import Callable
from typing import Any

from moto.autoscaling.models import (
    ASG_NAME_TAG,
    AutoScalingBackend,
    FakeAutoScalingGroup,
    FakeScalingPolicy,
)
from moto.autoscaling.responses import AutoScalingResponse
from moto.cloudwatch.models import Statistics
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.types import Base64EncodedString
from moto.core.utils import camelcase_to_underscores
from moto.dynamodb.responses import DynamoHandler
from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidInstanceIdError,
    InvalidLaunchTemplateVersionNotFound,
    InvalidParameterCombination,
    InvalidSecurityGroupNotFoundError,
)
from moto.ec2.models.instances import Instance, InstanceBackend
from moto.ec2.models.launch_templates import LaunchTemplate, LaunchTemplateBackend
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.models.vpcs import VPCBackend
from moto.ec2.responses import EC2Response
from moto.ec2.responses.general import General
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.utils import parse_user_data
from moto.elbv2.exceptions import (
    ELBClientError,
    InvalidTargetError,
    TargetGroupNotFoundError,
    TargetNotRunning,
)
from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeTargetGroup
from moto.elbv2.responses import ELBV2Response
from moto.moto_api._internal.models import MotoAPIBackend
from moto.s3.exceptions import S3AccessDeniedError, S3ClientError
from moto.s3.responses import S3Response

from localaws.server import (
    asg_deletion,
    asg_detach,
    asg_settings,
    asg_terminating,
    elb_rules,
    lifecycle_hooks,
    scaling_activities,
)
from localaws.server.cloud import LocalCloud
from localaws.server.consistency import INSTANCE, SECURITY_GROUP, TARGET_GROUP
from localaws.server.throttling import held_back

MOTO_VERSION = "5.2.5"

# (owner, name): what each patch replaces or wraps, and why.
PATCHED: tuple[tuple[type, str, str], ...] = (
    (InstanceBackend, "run_instances", "hold new instances pending; start their boot"),
    (
        Instance,
        "terminate",
        "end the instance in its runtime; drain its targets; not yet when its group is "
        "taking it out (at its Terminating:Proceed)",
    ),
    (Instance, "stop", "end the instance in its runtime; drain its targets"),
    (General, "get_console_output", "the instance's own console (last 64 KB)"),
    (FakeTargetGroup, "register", "accept pending instances; start health checks"),
    (FakeTargetGroup, "deregister", "draining for the deregistration delay, then gone"),
    (FakeTargetGroup, "health_for", "the prober's verdict with AWS reason codes"),
    (ELBv2Backend, "describe_target_health", "list draining targets too"),
    (ELBv2Backend, "create_load_balancer", "DNSName 127.0.0.1"),
    (
        ELBv2Backend,
        "create_listener",
        "the listener's port is a real local port; AWS's action and quota checks",
    ),
    (
        ELBv2Backend,
        "modify_listener",
        "keep the real local port; AWS's action and quota checks, OIDC secrets kept",
    ),
    (ELBv2Backend, "create_rule", "AWS's action and quota checks; OIDC secrets hidden"),
    (ELBv2Backend, "modify_rule", "AWS's action and quota checks; OIDC secrets kept"),
    (ELBv2Backend, "register_targets", "targets per ALB (TooManyTargets)"),
    (ELBV2Response, "describe_account_limits", "AWS's limit names and default quotas"),
    (ELBv2Backend, "delete_listener", "close the local port"),
    (ELBv2Backend, "delete_load_balancer", "close its local ports"),
    (ELBv2Backend, "delete_target_group", "stop checking its targets"),
    (LaunchTemplate, "create_version", "store version UserData as Base64EncodedString"),
    (
        LaunchTemplates,
        "create_launch_template_version",
        "SourceVersion: the new version inherits the source's data (5.2.5 drops it)",
    ),
    (LaunchTemplate, "get_version", "a deleted version is not found; $Latest skips them"),
    (
        LaunchTemplateBackend,
        "describe_launch_template_versions",
        "list no deleted version (MaxResults counts the live ones)",
    ),
    (MotoAPIBackend, "reset", "end every instance's runtime before moto forgets it"),
    (Statistics, "get_statistics_for_type", "percentiles (p99, p50.5) of raw values, as AWS"),
    (BaseResponse, "call_action", "EC2/ELB throttling and eventual consistency answer first"),
    (SecurityGroupBackend, "create_security_group", "a new group is not yet known everywhere"),
    (ELBv2Backend, "create_target_group", "a new target group is not yet known everywhere"),
    (DynamoHandler, "batch_get_item", "UnprocessedKeys, as AWS may answer (injectable)"),
    (
        VPCBackend,
        "create_default_vpc",
        "the default VPC has an internet gateway and a 0.0.0.0/0 route to it in its main "
        "route table (5.2.5 gives it neither)",
    ),
    (
        AutoScalingBackend,
        "put_scaling_policy",
        "a policy name is unique per group, not per region (5.2.5 lets a second group's "
        "policy of the same name replace the first's)",
    ),
    (
        S3Response,
        "_bucket_response",
        "ExpectedBucketOwner: 403 AccessDenied when another account owns the bucket "
        "(5.2.5 ignores the header)",
    ),
    (S3Response, "_key_response", "ExpectedBucketOwner on object calls, the same"),
    (AutoScalingBackend, "delete_policy", "find the policy under its group's key"),
    (
        AutoScalingResponse,
        "delete_auto_scaling_group",
        "the group stays listed `Delete in progress` while its instances drain and end; "
        "ResourceInUse without ForceDelete, ScalingActivityInProgress a second time",
    ),
    (
        FakeAutoScalingGroup,
        "replace_autoscaling_group_instances",
        "launch each instance in the enabled zone with the fewest of the group's instances "
        "(5.2.5 puts them all in the first subnet); a release's injected launch failure is a "
        "Failed activity, retried with backoff; every launch is a Successful one",
    ),
    (
        AutoScalingResponse,
        "describe_scaling_activities",
        "every launch and termination, newest first (5.2.5 lists none)",
    ),
    (
        AutoScalingResponse,
        "update_auto_scaling_group",
        "a group pending delete may not be modified (ValidationError); the settings 5.2.5 "
        "drops are kept (localaws/server/asg_settings.py)",
    ),
    (
        AutoScalingResponse,
        "create_auto_scaling_group",
        "DefaultInstanceWarmup, MaxInstanceLifetime and the other settings 5.2.5 drops are "
        "kept (localaws/server/asg_settings.py)",
    ),
    (
        AutoScalingResponse,
        "put_lifecycle_hook",
        "NotificationMetadata kept; no made-up RoleARN / NotificationTargetARN (5.2.5)",
    ),
    (
        AutoScalingResponse,
        "set_desired_capacity",
        "a group pending delete may not be modified (ValidationError)",
    ),
    (AutoScalingBackend, "execute_policy", "find the policy under its group's key"),
    (
        FakeAutoScalingGroup,
        "active_instances",
        "an instance waiting on a launch hook counts toward the desired capacity "
        "(localaws/server/lifecycle_hooks.py)",
    ),
    (
        AutoScalingBackend,
        "update_attached_target_groups",
        "an instance waiting in Pending:Wait is registered with no target group",
    ),
    (
        FakeAutoScalingGroup,
        "set_desired_capacity",
        "an instance a scale-in takes out is listed `Terminating` while it drains (EC2 keeps "
        "it running), `Terminating:Wait` while a terminating hook holds it, then "
        "`Terminating:Proceed` (EC2 ends it), then gone (5.2.5 drops and ends it at once; "
        "localaws/server/asg_terminating.py)",
    ),
    (
        AutoScalingBackend,
        "terminate_instance",
        "TerminateInstanceInAutoScalingGroup: the same, and the instance keeps its "
        "aws:autoscaling:groupName tag (5.2.5 drops it)",
    ),
    (
        FakeAutoScalingGroup,
        "instances",
        "a property: the group's `Instances[]` lists the instances it is taking out too",
    ),
    (
        AutoScalingBackend,
        "describe_auto_scaling_instances",
        "DescribeAutoScalingInstances lists the instances groups are taking out too",
    ),
    # localaws/server/asg_detach.py: Detaching → Detached, EnteringStandby → Standby, back
    # through Pending, deregistered and registered as on AWS (5.2.5: at once, still registered)
    (AutoScalingResponse, "detach_instances", "Detaching, drained, Detached, then gone"),
    (AutoScalingResponse, "enter_standby", "EnteringStandby, drained, Standby; not counted"),
    (AutoScalingResponse, "exit_standby", "Pending, registered, InService"),
)
# Private attributes read or written (not methods): Instance._state, FakeTargetGroup.targets,
# .terminated_targets, .attributes, FakeListener.port/.default_actions, FakeLoadBalancer.dns_name,
# LaunchTemplate.versions/.default_version_number, LaunchTemplateVersion.localaws_deleted (ours).

# (owner, name): what each addition serves. 5.2.5 lacks these names: apply() adds them (only
# when still absent) and remove() deletes them.
ADDED: tuple[tuple[type, str, str], ...] = (
    (
        LaunchTemplate,
        "tags",
        "DescribeLaunchTemplates shows tags added by CreateTags (5.2.5 shows the creation's)",
    ),
    (
        LaunchTemplates,
        "delete_launch_template_versions",
        "DeleteLaunchTemplateVersions (5.2.5 answers a 500): versions are marked deleted, "
        "not removed, since moto indexes them by position",
    ),
    (
        AutoScalingResponse,
        "put_notification_configuration",
        "PutNotificationConfiguration (5.2.5 lacks it): kept per group and topic "
        "(localaws/server/asg_settings.py)",
    ),
    (
        AutoScalingResponse,
        "describe_notification_configurations",
        "DescribeNotificationConfigurations (5.2.5 lacks it)",
    ),
    (
        AutoScalingResponse,
        "delete_notification_configuration",
        "DeleteNotificationConfiguration (5.2.5 lacks it)",
    ),
    (
        FakeScalingPolicy,
        "alarms",
        "DescribePolicies' Alarms (5.2.5 leaves it out): the CloudWatch alarms whose actions "
        "name the policy",
    ),
    (
        AutoScalingResponse,
        "complete_lifecycle_action",
        "CompleteLifecycleAction (5.2.5 lacks it): a launch or terminating hook's CONTINUE "
        "or ABANDON "
        "(localaws/server/lifecycle_hooks.py)",
    ),
    (
        AutoScalingResponse,
        "record_lifecycle_action_heartbeat",
        "RecordLifecycleActionHeartbeat (5.2.5 lacks it): the hook's timeout restarts",
    ),
)

_lock = threading.Lock()
_cloud: LocalCloud | None = None
_originals: dict[tuple[type, str], Any] = {}
_added: list[tuple[type, str]] = []


def apply(cloud: LocalCloud) -> None:
    """Install every patch, routing to `cloud`. Idempotent; the last cloud wins."""
    global _cloud
    with _lock:
        _cloud = cloud
        if _originals or _added:
            return
        for owner, name, _ in PATCHED:
            _originals[(owner, name)] = getattr(owner, name)
            # An owner-qualified key names the patch of one owner's method where two owners
            # patch the same name.
            replacement = _REPLACEMENTS.get(f"{owner.__name__}.{name}") or _REPLACEMENTS[name]
            setattr(owner, name, replacement(_originals[(owner, name)]))
        for owner, name, _ in ADDED:
            if getattr(owner, name, None) is None:  # a moto that has it keeps its own
                setattr(owner, name, _ADDITIONS[name]())
                _added.append((owner, name))


def remove() -> None:
    """Undo every patch (tests that import moto in-process)."""
    global _cloud
    with _lock:
        for (owner, name), original in _originals.items():
            setattr(owner, name, original)
        _originals.clear()
        for owner, name in _added:
            delattr(owner, name)
        _added.clear()
        _cloud = None


def _active() -> LocalCloud | None:
    return _cloud


def when_active(patch: Callable[..., Any]) -> Callable[[Any], Any]:
    """Make `patch(original, cloud, self, *args, **kwargs)` a replacement for a moto method
    that applies only while a LocalCloud is active: the method it builds calls `patch` with
    that cloud, and moto's `original` as it is while none is (after `remove()`, or when moto
    runs in-process without localaws)."""

    def replace(original: Any) -> Any:
        @functools.wraps(original)
        def patched(self: Any, *args: Any, **kwargs: Any) -> Any:
            cloud = _active()
            if cloud is None:
                return original(self, *args, **kwargs)
            return patch(original, cloud, self, *args, **kwargs)

        return patched

    return replace


# -- EC2 -------------------------------------------------------------------------------


# The subnet and zone an ASG launch is for (set by _replace_group_instances, this thread only).
_launch_zone = threading.local()


def _run_instances(original: Any) -> Any:
    @functools.wraps(original)
    def run_instances(self: Any, *args: Any, **kwargs: Any) -> Any:
        zone: tuple[str | None, str] | None = getattr(_launch_zone, "zone", None)
        if zone is not None:
            subnet, kwargs["placement"] = zone
            if subnet:
                kwargs["subnet_id"] = subnet
        reservation = original(self, *args, **kwargs)
        cloud = _active()
        if cloud is not None:
            cloud.launched(list(reservation.instances))
        return reservation

    return run_instances


@when_active
def _ending(original: Any, cloud: LocalCloud, self: Any, *args: Any, **kwargs: Any) -> Any:
    terminating = original.__name__ == "terminate"
    if terminating and asg_terminating.ec2_waiting():
        return copy.copy(self._state)  # its group took it out: EC2 ends it at Proceed
    previous = original(self, *args, **kwargs)
    cloud.ended(self)
    group = getattr(self, "autoscaling_group", None)
    if group is not None and terminating and not getattr(self, "localaws_taken_out", False):
        scaling_activities.terminated(group, self.id)  # ended outside its group
    return previous


@when_active
def _get_console_output(original: Any, cloud: LocalCloud, self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow

    instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    text = cloud.console_output(instance.id)
    result = {
        "InstanceId": instance.id,
        "Timestamp": utcnow(),
        "Output": Base64EncodedString.from_raw_string(text) if text else None,
    }
    return ActionResult({k: v for k, v in result.items() if v is not None})


# -- ELBv2 -----------------------------------------------------------------------------


@when_active
def _register(original: Any, cloud: LocalCloud, self: Any, targets: list[dict[str, Any]]) -> None:
    for target in targets:
        instance = self.ec2_backend.get_instance_by_id(target["Id"])
        # AWS accepts pending instances: they show Elb.RegistrationInProgress.
        if instance is not None and instance.state not in ("running", "pending"):
            raise TargetNotRunning(instance_id=target["Id"])
    for target in targets:
        port = target.get("Port", self.port)
        self.targets[target["Id"]] = {"Id": target["Id"], "Port": port}
        self.deregistered_targets.pop(target["Id"], None)
        self.terminated_targets.pop(target["Id"], None)
        cloud.prober.register(self, target["Id"], int(port or 0))


def _deregister(original: Any) -> Any:
    @functools.wraps(original)
    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        cloud = _active()
        for target in targets:
            if target["Id"] not in self.targets:
                raise InvalidTargetError()
        original(self, targets)
        if cloud is not None:
            for target in targets:
                cloud.prober.deregister(self.arn, target["Id"])

    return deregister


@when_active
def _health_for(
    original: Any, cloud: LocalCloud, self: Any, target: dict[str, Any], ec2_backend: Any
) -> Any:
    verdict = cloud.prober.verdict(self.arn, target["Id"])
    if verdict is None:
        return original(self, target, ec2_backend)
    state, reason, description = verdict
    known = self.targets.get(target["Id"]) or {}
    port = target.get("Port") or known.get("Port") or self.port
    return FakeHealthStatus(
        target["Id"],
        port,
        self.health_check_port,
        state,
        reason or None,
        description or None,
    )


@when_active
def _describe_target_health(
    original: Any, cloud: LocalCloud, self: Any, target_group_arn: str, targets: list[Any]
) -> Any:
    group = self.target_groups.get(target_group_arn)
    if group is None or targets:
        return original(self, target_group_arn, targets)
    listed = list(group.targets.values())
    seen = {t["Id"] for t in listed}
    listed += [t for t in cloud.prober.draining(target_group_arn) if t["Id"] not in seen]
    return [group.health_for(t, self.ec2_backend) for t in listed]


@when_active
def _create_load_balancer(
    original: Any, cloud: LocalCloud, self: Any, *args: Any, **kwargs: Any
) -> Any:
    balancer = original(self, *args, **kwargs)
    # `http://<DNSName>:<listener port>` reaches the local data plane.
    balancer.dns_name = "127.0.0.1"
    return balancer


def _targets_per_alb() -> int:
    cloud = _active()
    timers = cloud.runtime.host.timers if cloud is not None else None
    return int(getattr(timers, "targets_per_alb", elb_rules.TARGETS_PER_ALB))


def _bound(original: Any, self: Any, args: Any, kwargs: Any) -> dict[str, Any]:
    """The call's arguments by parameter name (moto calls these positionally or not)."""
    bound = inspect.signature(original).bind(self, *args, **kwargs)
    return dict(bound.arguments)


def _create_listener(original: Any) -> Any:
    @functools.wraps(original)
    def create_listener(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _bound(original, self, args, kwargs)
        actions = list(call.get("actions") or [])
        elb_rules.check_client_secrets(actions, [])
        elb_rules.check_new_list(
            self, call.get("load_balancer_arn", ""), "(new)", actions, _targets_per_alb()
        )
        listener = original(self, *args, **kwargs)
        elb_rules.hide_client_secrets(listener.default_actions)
        cloud = _active()
        if cloud is not None:
            listener.port = cloud.dataplane.open_listener(listener)
        return listener

    return create_listener


def _modify_listener(original: Any) -> Any:
    @functools.wraps(original)
    def modify_listener(self: Any, arn: str, *args: Any, **kwargs: Any) -> Any:
        # The local port is where the listener really is: a new port number cannot move it.
        kwargs.pop("port", None)
        if args:
            args = (None, *args[1:])
        actions = list(_bound(original, self, (arn, *args), kwargs).get("actions") or [])
        found = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])
        previous = list(found[0].default_actions) if found else []
        if found and actions:  # no DefaultActions: the list stays as it is
            elb_rules.check_client_secrets(actions, previous)
            elb_rules.check_new_list(
                self, found[0].load_balancer_arn, arn, actions, _targets_per_alb()
            )
        listener = original(self, arn, *args, **kwargs)
        if actions:
            elb_rules.hide_client_secrets(listener.default_actions, previous)
        return listener

    return modify_listener


def _create_rule(original: Any) -> Any:
    @functools.wraps(original)
    def create_rule(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _bound(original, self, args, kwargs)
        actions = list(call.get("actions") or [])
        found = self.describe_listeners(None, [call.get("listener_arn", "")])
        elb_rules.check_client_secrets(actions, [])
        if found:
            elb_rules.check_new_list(
                self, found[0].load_balancer_arn, "(new)", actions, _targets_per_alb()
            )
        rule = original(self, *args, **kwargs)
        elb_rules.hide_client_secrets(rule.actions)
        return rule

    return create_rule


def _modify_rule(original: Any) -> Any:
    @functools.wraps(original)
    def modify_rule(self: Any, *args: Any, **kwargs: Any) -> Any:
        call = _bound(original, self, args, kwargs)
        actions = list(call.get("actions") or [])
        rule_arn = call.get("rule_arn", "")
        rules = self.describe_rules(listener_arn=None, rule_arns=[rule_arn]) if rule_arn else []
        previous = list(rules[0].actions) if rules else []
        if rules and actions:
            listener = self.describe_listeners(None, [rules[0].listener_arn])[0]
            elb_rules.check_client_secrets(actions, previous)
            elb_rules.check_new_list(
                self, listener.load_balancer_arn, rule_arn, actions, _targets_per_alb()
            )
        rule = original(self, *args, **kwargs)
        if actions:
            elb_rules.hide_client_secrets(rule.actions, previous)
        return rule

    return modify_rule


def _register_targets(original: Any) -> Any:
    @functools.wraps(original)
    def register_targets(self: Any, target_group_arn: str, instances: list[Any]) -> None:
        elb_rules.check_registration(self, target_group_arn, instances, _targets_per_alb())
        original(self, target_group_arn, instances)

    return register_targets


def _describe_account_limits(original: Any) -> Any:
    @functools.wraps(original)
    def describe_account_limits(self: Any) -> Any:
        from moto.core.responses import ActionResult

        return ActionResult({"Limits": elb_rules.account_limits(_targets_per_alb())})

    return describe_account_limits


@when_active
def _delete_listener(original: Any, cloud: LocalCloud, self: Any, listener_arn: str) -> Any:
    listener = original(self, listener_arn)
    if listener is not None:
        cloud.dataplane.close_listener(int(listener.port))
    return listener


@when_active
def _delete_load_balancer(original: Any, cloud: LocalCloud, self: Any, arn: str) -> Any:
    balancer = self.load_balancers.get(arn)
    ports = [int(lis.port) for lis in balancer.listeners.values()] if balancer else []
    result = original(self, arn)
    for port in ports:
        cloud.dataplane.close_listener(port)
    return result


@when_active
def _delete_target_group(original: Any, cloud: LocalCloud, self: Any, target_group_arn: str) -> Any:
    result = original(self, target_group_arn)
    cloud.prober.forget_group(target_group_arn)
    return result


# -- launch templates, reset -------------------------------------------------------------


# The source version's data while CreateLaunchTemplateVersion runs on this server thread.
_source = threading.local()


def _create_version(original: Any) -> Any:
    @functools.wraps(original)
    def create_version(self: Any, data: dict[str, Any], description: str) -> Any:
        # AWS: the new version inherits every parameter of SourceVersion that
        # LaunchTemplateData does not name.
        inherited = getattr(_source, "data", None)
        if inherited:
            data = {**inherited, **data}
        # 5.2.5's CreateLaunchTemplateVersion stores UserData as str; ASGs then assert.
        if isinstance(data.get("UserData"), str | bytes):
            data = {**data, "UserData": parse_user_data(data["UserData"])}
        return original(self, data, description)

    return create_version


def _create_launch_template_version(original: Any) -> Any:
    @functools.wraps(original)
    def create_launch_template_version(self: Any) -> Any:
        source = self._get_param("SourceVersion")
        _source.data = None
        if source:
            name = self._get_param("LaunchTemplateName")
            template_id = self._get_param("LaunchTemplateId")
            template = (
                self.ec2_backend.get_launch_template(template_id)
                if template_id
                else self.ec2_backend.get_launch_template_by_name(name)
            )
            _source.data = dict(template.get_version(source).data)
        try:
            return original(self)
        finally:
            _source.data = None

    return create_launch_template_version


def _deleted(version: Any) -> bool:
    return bool(getattr(version, "localaws_deleted", False))


def _delete_launch_template_versions() -> Any:
    def delete_launch_template_versions(self: Any) -> Any:
        from moto.core.responses import ActionResult

        name = self._get_param("LaunchTemplateName")
        template_id = self._get_param("LaunchTemplateId")
        numbers = [str(v) for v in self._get_param("Versions", [])]
        if name and template_id:
            raise InvalidParameterCombination(
                "Either provide launch template ID or launch template name, not both."
            )
        self.error_on_dryrun()
        # Unknown templates raise moto's own NotFound errors, as its other LT operations do.
        if template_id:
            template = self.ec2_backend.get_launch_template(template_id)
        else:
            template = self.ec2_backend.get_launch_template_by_name(name)
        done: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for number in numbers:
            item: dict[str, Any] = {
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
            }
            if number.isdigit():
                item["VersionNumber"] = int(number)
            known = number.isdigit() and 1 <= int(number) <= len(template.versions)
            version = template.versions[int(number) - 1] if known else None
            if version is None or _deleted(version):
                code = "launchTemplateVersionDoesNotExist"
                message = f"The launch template version {number} does not exist."
            elif template.is_default(version):
                code = "launchTemplateVersionIsDefault"
                message = "The default version of a launch template cannot be deleted."
            else:
                # Marked, not removed: moto finds version N at versions[N - 1] and numbers
                # the next one len + 1, as AWS never reuses a deleted version's number.
                version.localaws_deleted = True
                done.append(item)
                continue
            failed.append({**item, "ResponseError": {"Code": code, "Message": message}})
        return ActionResult(
            {
                "SuccessfullyDeletedLaunchTemplateVersions": done,
                "UnsuccessfullyDeletedLaunchTemplateVersions": failed,
            }
        )

    return delete_launch_template_versions


def _get_version(original: Any) -> Any:
    @functools.wraps(original)
    def get_version(self: Any, num: Any) -> Any:
        if str(num).lower() == "$latest":
            live = [v for v in self.versions if not _deleted(v)]
            if live:
                return live[-1]
        version = original(self, num)
        if _deleted(version):  # an ASG cannot launch from a deleted version either
            raise InvalidLaunchTemplateVersionNotFound(template_id=self.id, version=num)
        return version

    return get_version


def _describe_launch_template_versions(original: Any) -> Any:
    @functools.wraps(original)
    def describe_launch_template_versions(
        self: Any,
        template_name: str,
        template_id: str,
        versions: list[str],
        min_version: int,
        max_version: int,
        max_results: int,
    ) -> Any:
        # Ask for everything, drop the deleted, then cut: MaxResults counts live versions.
        found = original(
            self,
            template_name=template_name,
            template_id=template_id,
            versions=versions,
            min_version=min_version,
            max_version=max_version,
            max_results=sys.maxsize,
        )
        return [(t, v) for t, v in found if not _deleted(v)][:max_results]

    return describe_launch_template_versions


def _launch_template_tags() -> Any:
    def tags(self: Any) -> Any:
        return self.get_tags()

    def keep_live(self: Any, value: Any) -> None:
        pass  # moto's __init__ assigns its creation tags: the live ones are read instead

    return property(tags, keep_live)


@when_active
def _reset(original: Any, cloud: LocalCloud, self: Any) -> None:
    cloud.reset()
    original(self)


def _statistics_for_type(original: Any) -> Any:
    # AWS answers `pNN` statistics (GetMetricData's Stat, extended statistics) from the
    # values a metric was given; moto 5.2.5 answers None. Nearest rank, as CloudWatch does.
    @functools.wraps(original)
    def get_statistics_for_type(self: Any, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            values = sorted(self.metric_single_values_list)
            if not values:
                return None
            rank = max(1, math.ceil(float(stat[1:]) / 100 * len(values)))
            return values[min(rank, len(values)) - 1]
        return original(self, stat)

    return get_statistics_for_type


# -- throttling, eventual consistency (server/throttling.py, server/consistency.py) ----------


@when_active
def _call_action(original: Any, cloud: LocalCloud, self: Any) -> Any:
    fault = _fault(cloud, self)
    if fault is not None:
        # The request's own handler (one instance per request) raises it, so moto
        # serialises the error as it does its own, in the service's protocol.
        def refuse() -> Any:
            raise fault

        setattr(self, camelcase_to_underscores(self._get_action()), refuse)
    return original(self)


def _fault(cloud: LocalCloud, response: Any) -> Exception | None:
    """The error AWS would answer this request with before doing it, if any."""
    if isinstance(response, EC2Response):
        service = "ec2"
    elif isinstance(response, ELBV2Response):
        service = "elbv2"
    else:
        return None
    action = str(response._get_action() or "")
    if not cloud.meter.admit(response.current_account, response.region, service, action):
        if service == "ec2":
            return EC2ClientError("RequestLimitExceeded", "Request limit exceeded.")
        return ELBClientError("Throttling", "Rate exceeded")
    seen = cloud.propagation
    if action in ("DescribeInstances", "DescribeInstanceStatus"):
        unknown = seen.unseen(INSTANCE, [str(i) for i in response._get_param("InstanceIds", [])])
        return InvalidInstanceIdError(unknown) if unknown else None
    if action == "AuthorizeSecurityGroupIngress":
        group_id = str(response._get_param("GroupId") or "")
        if seen.unseen(SECURITY_GROUP, [group_id]):
            return InvalidSecurityGroupNotFoundError(group_id)
    arn = str(response._get_param("TargetGroupArn") or "")
    if action == "ModifyTargetGroupAttributes" and seen.unseen(TARGET_GROUP, [arn]):
        return TargetGroupNotFoundError()
    return None


@when_active
def _create_security_group(
    original: Any, cloud: LocalCloud, self: Any, *args: Any, **kwargs: Any
) -> Any:
    group = original(self, *args, **kwargs)
    cloud.propagation.created(SECURITY_GROUP, str(group.id))
    return group


@when_active
def _create_target_group(
    original: Any, cloud: LocalCloud, self: Any, *args: Any, **kwargs: Any
) -> Any:
    group = original(self, *args, **kwargs)
    cloud.propagation.created(TARGET_GROUP, str(group.arn))
    return group


@when_active
def _batch_get_item(original: Any, cloud: LocalCloud, self: Any) -> Any:
    share = cloud.unprocessed_share
    items = self.body.get("RequestItems") if isinstance(self.body, dict) else None
    if share <= 0 or not isinstance(items, dict):
        return original(self)
    unprocessed = held_back(items, share)
    result = original(self)
    found = result.result
    for table, request in unprocessed.items():
        found.setdefault("UnprocessedKeys", {})[table] = request
    return result


def _create_default_vpc(original: Any) -> Any:
    @functools.wraps(original)
    def create_default_vpc(self: Any) -> Any:
        vpc = original(self)
        igw = self.create_internet_gateway()
        self.attach_internet_gateway(igw.id, vpc.id)
        for table in list(self.route_tables.values()):
            if table.vpc_id == vpc.id and table.main_association_id is not None:
                self.create_route(table.id, "0.0.0.0/0", gateway_id=igw.id)
        return vpc

    return create_default_vpc


# -- S3 ----------------------------------------------------------------------------------


def _expected_owner(original: Any) -> Any:
    @functools.wraps(original)
    def respond(self: Any, request: Any, full_url: str) -> Any:
        # AWS: a request whose x-amz-expected-bucket-owner is not the bucket owner's account
        # fails with 403 AccessDenied; a missing bucket answers as it would without it.
        expected = request.headers.get("x-amz-expected-bucket-owner")
        if expected:
            name = self.parse_bucket_name_from_url(request, full_url)
            try:
                bucket = self.backend.get_bucket(name) if name else None
            except S3ClientError:
                bucket = None
            if bucket is not None and str(bucket.account_id) != expected:
                raise S3AccessDeniedError()
        return original(self, request, full_url)

    return respond


# -- Auto Scaling ----------------------------------------------------------------------


def _policy_key(group: str, name: str) -> str:
    return f"{group}\x00{name}"


def _put_scaling_policy(original: Any) -> Any:
    @functools.wraps(original)
    def put_scaling_policy(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        saved = self.policies.pop(name, None)  # moto files it under the bare name
        policy = original(self, name, *args, **kwargs)
        self.policies.pop(name, None)
        if saved is not None:
            self.policies[name] = saved
        self.policies[_policy_key(policy.auto_scaling_group_name, name)] = policy
        return policy

    return put_scaling_policy


def _by_policy_name(original: Any) -> Any:
    @functools.wraps(original)
    def by_name(self: Any, name: str) -> Any:
        key = next(
            (k for k, p in self.policies.items() if name in (p.name, p.arn)),
            name,
        )
        return original(self, key)

    return by_name


# -- Auto Scaling: deletion takes time (localaws/server/asg_deletion.py) ---------------------


@when_active
def _delete_auto_scaling_group(original: Any, cloud: LocalCloud, self: Any) -> Any:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    begun = asg_deletion.begin(
        backend,
        name,
        force=self._get_bool_param("ForceDelete", False),
        drain_seconds=cloud.prober.instance_drain_seconds,
        delete_now=lambda: backend.delete_auto_scaling_group(name),
    )
    if begun:
        asg_detach.end_standby(backend.autoscaling_groups[name])
    return EmptyResult() if begun else original(self)


@when_active
def _replace_autoscaling_group_instances(
    original: Any,
    cloud: LocalCloud,
    self: Any,
    count_needed: int,
    propagated_tags: dict[str, str],
) -> None:
    before = len(self.instance_states)
    code = scaling_activities.launch_failure(self)
    if code:
        backend, group = self.autoscaling_backend, self

        def retry() -> None:
            if backend.autoscaling_groups.get(group.name) is group and not (
                asg_deletion.is_pending_delete(group)
            ):
                backend.set_desired_capacity(group.name, group.desired_capacity)

        scaling_activities.failed(self, code, before, retry)
        return
    original(self, count_needed, propagated_tags)
    lifecycle_hooks.hold(self, self.instance_states[before:])  # Pending:Wait, if it has hooks
    new = [s.instance.id for s in self.instance_states[before:]]
    scaling_activities.launched(self, new, before)


def _group_zones(group: Any) -> list[tuple[str | None, str]]:
    """(subnet id or None, zone) per zone the group launches in, in the group's order: the
    first listed subnet of each zone of VPCZoneIdentifier, else its AvailabilityZones."""
    if not group.vpc_zone_identifier:
        return [(None, az) for az in dict.fromkeys(group.availability_zones)]
    ids = [s for s in group.vpc_zone_identifier.split(",") if s]
    ec2 = group.autoscaling_backend.ec2_backend
    found = {s.id: s for s in ec2.describe_subnets(subnet_ids=ids)}
    zones: dict[str, str] = {}
    for subnet_id in ids:
        if subnet_id in found:
            zones.setdefault(found[subnet_id].availability_zone, subnet_id)
    return [(subnet_id, az) for az, subnet_id in zones.items()]


def _replace_group_instances(original: Any) -> Any:
    @functools.wraps(original)
    def replace(self: Any, count_needed: int, propagated_tags: dict[str, str]) -> None:
        # AWS keeps a group balanced across its enabled zones: each launch goes to the zone
        # with the fewest of the group's instances (ties: the first listed).
        zones = _group_zones(self)
        if len(zones) < 2:
            original(self, count_needed, propagated_tags)
            return
        held = {az: 0 for _, az in zones}
        for state in self.instance_states:
            ending = str(state.lifecycle_state).startswith("Terminat")
            if not ending and state.availability_zone in held:
                held[state.availability_zone] += 1
        launches: dict[int, int] = {}
        for _ in range(count_needed):
            pick = min(range(len(zones)), key=lambda i: (held[zones[i][1]], i))
            held[zones[pick][1]] += 1
            launches[pick] = launches.get(pick, 0) + 1
        for index, count in sorted(launches.items()):
            _launch_zone.zone = zones[index]
            try:
                original(self, count, dict(propagated_tags))
            finally:
                _launch_zone.zone = None

    return replace


@when_active
def _describe_scaling_activities(original: Any, cloud: LocalCloud, self: Any) -> Any:
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    ids = set(self._get_param("ActivityIds", []) or [])
    groups = [backend.autoscaling_groups[name]] if name in backend.autoscaling_groups else []
    if not name:
        groups = list(backend.autoscaling_groups.values())
    found = [a for g in groups for a in scaling_activities.activities(g)]
    if ids:
        found = [a for a in found if a["ActivityId"] in ids]
    found.sort(key=lambda a: a["StartTime"], reverse=True)
    start = int(self._get_param("NextToken") or 0)
    size = min(int(self._get_param("MaxRecords") or 100), 100)
    page = found[start : start + size]
    result: dict[str, Any] = {"Activities": page}
    if start + size < len(found):
        result["NextToken"] = str(start + size)
    return ActionResult(result)


# -- Auto Scaling: a leaving instance is listed Terminating (localaws/server/asg_terminating.py)


@when_active
def _scale_in_drains(original: Any, cloud: LocalCloud, self: Any, new_capacity: int | None) -> None:
    before = list(self.instance_states)
    with asg_terminating.ec2_waits():
        original(self, new_capacity)
    kept = {id(s) for s in self.instance_states}
    gone = [s for s in before if id(s) not in kept]
    asg_terminating.take_out(self, gone, cloud.prober.instance_drain_seconds)


@when_active
def _terminate_instance_drains(
    original: Any, cloud: LocalCloud, self: Any, instance_id: str, should_decrement: bool
) -> Any:
    found = [
        (group, state)
        for group in list(self.autoscaling_groups.values())
        for state in list(group.instance_states)
        if state.instance.id == instance_id
    ]
    with asg_terminating.ec2_waits():
        activity = original(self, instance_id, should_decrement)
    for group, state in found:
        # 5.2.5 detaches it first, dropping the tag; AWS keeps it while it is Terminating.
        self.ec2_backend.create_tags([instance_id], {ASG_NAME_TAG: group.name})
        asg_terminating.take_out(group, [state], cloud.prober.instance_drain_seconds)
    return activity


def _instances_leaving_too(original: property) -> property:
    def instances(self: Any) -> list[Any]:
        members = original.fget(self)  # type: ignore[misc]
        return [*members, *asg_terminating.leaving(self), *asg_detach.aside(self)]

    return property(
        instances, doc="The group's members, the instances it is taking out and those set aside."
    )


def _auto_scaling_instances_leaving_too(original: Any) -> Any:
    @functools.wraps(original)
    def describe(self: Any, instance_ids: list[str]) -> list[Any]:
        found = list(original(self, instance_ids))
        for group in list(self.autoscaling_groups.values()):
            found += [
                s
                for s in [*asg_terminating.leaving(group), *asg_detach.aside(group)]
                if not instance_ids or s.instance.id in instance_ids
            ]
        return found

    return describe


@when_active
def _detach_or_standby(original: Any, cloud: LocalCloud, self: Any) -> Any:
    return asg_detach.respond(self, cloud.prober.instance_drain_seconds)


@when_active
def _unless_pending_delete(original: Any, cloud: LocalCloud, self: Any) -> Any:
    asg_deletion.refuse_change(self.autoscaling_backend, self._get_param("AutoScalingGroupName"))
    return original(self)


_REPLACEMENTS: dict[str, Any] = {
    "delete_auto_scaling_group": _delete_auto_scaling_group,
    "replace_autoscaling_group_instances": lambda original: _replace_autoscaling_group_instances(
        _replace_group_instances(original)
    ),
    "describe_scaling_activities": _describe_scaling_activities,
    "update_auto_scaling_group": lambda original: _unless_pending_delete(
        asg_settings.keep_on_update(original)
    ),
    "create_auto_scaling_group": asg_settings.keep_on_create,
    "put_lifecycle_hook": asg_settings.keep_hook,
    "set_desired_capacity": _unless_pending_delete,
    "active_instances": lifecycle_hooks.counted,
    "update_attached_target_groups": lifecycle_hooks.registered_when_going_on,
    "FakeAutoScalingGroup.set_desired_capacity": _scale_in_drains,
    "terminate_instance": _terminate_instance_drains,
    "instances": _instances_leaving_too,
    "describe_auto_scaling_instances": _auto_scaling_instances_leaving_too,
    "detach_instances": _detach_or_standby,
    "enter_standby": _detach_or_standby,
    "exit_standby": _detach_or_standby,
    "create_default_vpc": _create_default_vpc,
    "put_scaling_policy": _put_scaling_policy,
    "delete_policy": _by_policy_name,
    "execute_policy": _by_policy_name,
    "run_instances": _run_instances,
    "terminate": _ending,
    "stop": _ending,
    "get_console_output": _get_console_output,
    "register": _register,
    "deregister": _deregister,
    "health_for": _health_for,
    "describe_target_health": _describe_target_health,
    "create_load_balancer": _create_load_balancer,
    "create_listener": _create_listener,
    "modify_listener": _modify_listener,
    "create_rule": _create_rule,
    "modify_rule": _modify_rule,
    "register_targets": _register_targets,
    "describe_account_limits": _describe_account_limits,
    "delete_listener": _delete_listener,
    "delete_load_balancer": _delete_load_balancer,
    "delete_target_group": _delete_target_group,
    "create_version": _create_version,
    "create_launch_template_version": _create_launch_template_version,
    "get_version": _get_version,
    "describe_launch_template_versions": _describe_launch_template_versions,
    "reset": _reset,
    "get_statistics_for_type": _statistics_for_type,
    "call_action": _call_action,
    "create_security_group": _create_security_group,
    "create_target_group": _create_target_group,
    "batch_get_item": _batch_get_item,
    "_bucket_response": _expected_owner,
    "_key_response": _expected_owner,
}


def _policy_alarms() -> Any:
    def alarms(self: Any) -> list[dict[str, str]]:
        from moto.cloudwatch.models import cloudwatch_backends

        backend = self.autoscaling_backend
        watch = cloudwatch_backends[backend.account_id][backend.region_name]
        return [
            {"AlarmName": a.name, "AlarmARN": a.alarm_arn}
            for a in list(watch.alarms.values())
            if self.arn in (a.alarm_actions or [])
        ]

    return property(alarms)


_ADDITIONS: dict[str, Any] = {
    "delete_launch_template_versions": _delete_launch_template_versions,
    "tags": _launch_template_tags,
    "alarms": _policy_alarms,
    "put_notification_configuration": asg_settings.put_notification_configuration,
    "describe_notification_configurations": asg_settings.describe_notification_configurations,
    "delete_notification_configuration": asg_settings.delete_notification_configuration,
    "complete_lifecycle_action": lifecycle_hooks.complete_lifecycle_action,
    "record_lifecycle_action_heartbeat": lifecycle_hooks.record_lifecycle_action_heartbeat,
}
