"""An ASG balances its instances across the zones of its subnets, as AWS documents ("Auto
Scaling maintains an equal number of instances across enabled Availability Zones", Auto
Scaling group Availability Zone distribution): each launch goes to the zone with the fewest.

Patch: FakeAutoScalingGroup.replace_autoscaling_group_instances (5.2.5 launches every
instance in the group's first subnet).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from localaws_helpers import default_subnets


def _group(asg: Any, name: str) -> dict[str, Any]:
    return dict(
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    )


def _zones(ec2: Any, asg: Any, name: str) -> Counter[str] | None:
    """Instances per zone, as EC2 places them (checked against the group's own view); None
    while EC2 does not know a just-launched id yet (eventual consistency)."""
    members = {i["InstanceId"]: i["AvailabilityZone"] for i in _group(asg, name)["Instances"]}
    if not members:
        return Counter()
    try:
        got = ec2.describe_instances(InstanceIds=list(members))["Reservations"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "InvalidInstanceID.NotFound":
            return None
        raise
    placed = {i["InstanceId"]: i for r in got for i in r["Instances"]}
    subnet_zone = {s["SubnetId"]: s["AvailabilityZone"] for s in default_subnets(ec2)}
    for iid, zone in members.items():
        assert placed[iid]["Placement"]["AvailabilityZone"] == zone
        assert subnet_zone[placed[iid]["SubnetId"]] == zone  # in the group's subnet of the zone
    return Counter(members.values())


def test_an_asg_launches_into_the_zone_with_the_fewest_of_its_instances(
    aws_client: Callable[..., Any], eventually: Callable[..., Any]
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = f"contract-zones-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.micro"},
    )
    subnets = default_subnets(ec2)[:3]
    zones = [s["AvailabilityZone"] for s in subnets]
    assert len(set(zones)) == 3
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "1"},
        MinSize=0,
        MaxSize=10,
        DesiredCapacity=5,
        VPCZoneIdentifier=",".join(s["SubnetId"] for s in subnets),
    )
    try:
        # Five over three zones: two, two and one, the first listed zones first on a tie.
        five = Counter({zones[0]: 2, zones[1]: 2, zones[2]: 1})
        eventually(lambda: _zones(ec2, asg, name) == five, what="5 instances as 2, 2, 1")

        asg.set_desired_capacity(AutoScalingGroupName=name, DesiredCapacity=6)
        six = Counter({z: 2 for z in zones})
        eventually(lambda: _zones(ec2, asg, name) == six, what="6 instances as 2, 2, 2")

        # A replacement goes where the group is short: the zone that lost an instance.
        lost = next(i for i in _group(asg, name)["Instances"] if i["AvailabilityZone"] == zones[1])
        asg.terminate_instance_in_auto_scaling_group(
            InstanceId=lost["InstanceId"], ShouldDecrementDesiredCapacity=False
        )
        eventually(
            lambda: (
                _zones(ec2, asg, name) == six
                and lost["InstanceId"]
                not in {i["InstanceId"] for i in _group(asg, name)["Instances"]}
            ),
            what="the replacement in the zone that lost one",
        )
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)


def test_an_asg_in_one_subnet_keeps_every_instance_there(
    aws_client: Callable[..., Any], eventually: Callable[..., Any]
) -> None:
    ec2, asg = aws_client("ec2"), aws_client("autoscaling")
    name = f"contract-zone-{uuid.uuid4().hex[:8]}"
    ec2.create_launch_template(
        LaunchTemplateName=name,
        LaunchTemplateData={"ImageId": "ami-03cf127a", "InstanceType": "t3.micro"},
    )
    subnet = default_subnets(ec2)[1]
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name,
        LaunchTemplate={"LaunchTemplateName": name, "Version": "1"},
        MinSize=0,
        MaxSize=3,
        DesiredCapacity=3,
        VPCZoneIdentifier=subnet["SubnetId"],
    )
    try:
        three = Counter({subnet["AvailabilityZone"]: 3})
        eventually(lambda: _zones(ec2, asg, name) == three, what="3 instances in the one zone")
    finally:
        asg.delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
