"""Reading what plain boto3 sees, for localaws's contract tests."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from botocore.exceptions import ClientError

from rollout.model import Release
from rollout.userdata import UserDataContext, encode_simulate, render_user_data


def health_of(elb: Any, tg: str, targets: list[str] | None = None) -> dict[str, dict[str, str]]:
    """Target id → TargetHealth of a target group (all listed targets, or those named)."""
    params: dict[str, Any] = {"TargetGroupArn": tg}
    if targets:
        params["Targets"] = [{"Id": t} for t in targets]
    found = elb.describe_target_health(**params)["TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"] for d in found}


def state_of(ec2: Any, instance_id: str) -> str:
    """The instance's EC2 state; "" while EC2 does not know the new id yet (AWS answers
    InvalidInstanceID.NotFound for a just-launched instance, as localaws does)."""
    try:
        reservations = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return ""
        raise
    return str(reservations[0]["Instances"][0]["State"]["Name"])


def lifecycle_of(asg: Any, name: str) -> dict[str, str]:
    """The group's `Instances[]`, in its order: instance id -> its LifecycleState."""
    groups = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for i in groups[0]["Instances"]}


def healthy_members(asg: Any, elb: Any, name: str, tg: str, count: int) -> list[str] | None:
    """The group's `count` members when every one is healthy in `tg`, else None (a probe for
    `eventually`)."""
    ids = list(lifecycle_of(asg, name))
    health = health_of(elb, tg)
    ok = len(ids) == count and all(health.get(i, {}).get("State") == "healthy" for i in ids)
    return ids if ok else None


def console_of(ec2: Any, instance_id: str) -> str:
    return str(ec2.get_console_output(InstanceId=instance_id).get("Output", ""))


def user_data_for(
    version: str, simulate: dict[str, object] | None = None, app: str = "demo-web"
) -> str:
    """freshfleet's rendered user data for `app` at `version` (with failure injection)."""
    release = Release(
        app=app,
        version=version,
        url=f"http://127.0.0.1:9/releases/{app}/{version}.tar.gz",
        sha256="0" * 64,
        simulate=simulate,
    )
    ctx = UserDataContext(
        rollout_id="20261127-120000-abcd",
        region="us-east-1",
        instances_table="freshfleet-instances",
        simulate=encode_simulate(simulate),
    )
    return render_user_data(release, ctx)


def forward_to(elb: Any, ec2: Any, tg: str, weight: int = 1) -> str:
    """A load balancer in every subnet of the default VPC whose listener forwards to `tg`;
    its listener ARN."""
    subnets = [s["SubnetId"] for s in default_subnets(ec2)]
    lb = elb.create_load_balancer(Name=f"checks-{uuid.uuid4().hex[:8]}", Subnets=subnets)
    targets = [{"TargetGroupArn": tg, "Weight": weight}]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancers"][0]["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": targets}}],
    )
    return str(listener["Listeners"][0]["ListenerArn"])


def default_subnets(ec2: Any) -> list[dict[str, Any]]:
    """The default VPC's subnets, ordered by Availability Zone."""
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    found = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    return sorted(found["Subnets"], key=lambda s: s["AvailabilityZone"])


def asg_on_new_template(
    ec2: Any,
    asg: Any,
    prefix: str,
    *,
    user_data: str = "",
    target_groups: tuple[str, ...] = (),
    min_size: int = 0,
    max_size: int = 4,
    desired: int = 2,
) -> str:
    """An ASG (and a launch template of the same new name) in the first default subnet,
    launching `user_data` (none: plain instances); returns its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    data: dict[str, str] = {"ImageId": "ami-03cf127a", "InstanceType": "t3.micro"}
    if user_data:
        data["UserData"] = base64.b64encode(user_data.encode()).decode()
    ec2.create_launch_template(LaunchTemplateName=name, LaunchTemplateData=data)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name},
        MinSize=min_size,
        MaxSize=max_size,
        DesiredCapacity=desired,
        VPCZoneIdentifier=ec2.describe_subnets()["Subnets"][0]["SubnetId"],
        TargetGroupARNs=list(target_groups),
    )
    return name


def put_hook(
    asg: Any, name: str, hook: str, transition: str, *, timeout: int, default: str
) -> None:
    """PutLifecycleHook: `hook` on the group `name` for `transition` (`LAUNCHING` or
    `TERMINATING`, the last part of AWS's name), HeartbeatTimeout and DefaultResult given."""
    asg.put_lifecycle_hook(
        AutoScalingGroupName=name,
        LifecycleHookName=hook,
        LifecycleTransition=f"autoscaling:EC2_INSTANCE_{transition}",
        HeartbeatTimeout=timeout,
        DefaultResult=default,
    )


def complete_action(asg: Any, name: str, hook: str, instance_id: str, result: str) -> None:
    """CompleteLifecycleAction of `hook` on the instance, with `result`."""
    asg.complete_lifecycle_action(
        AutoScalingGroupName=name,
        LifecycleHookName=hook,
        InstanceId=instance_id,
        LifecycleActionResult=result,
    )
