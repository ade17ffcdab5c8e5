"""EC2 lists a terminated instance for about an hour, then forgets it, as AWS documents
(DescribeInstances, https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html:
"Terminated instances remain visible after termination (for approximately one hour)";
DescribeInstanceStatus with `IncludeAllInstances` lists every state, terminated included).
Stock moto lists every instance it ever ran, forever.

localaws/server/asg_health.py (`sweep_terminated`, TERMINATED_VISIBLE_SECONDS under the time scale).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from localaws_helpers import state_of

from localaws.process import LocalAws
from localaws.server.asg_health import TERMINATED_VISIBLE_SECONDS
from localaws.testing import boto3_client, start_test_localaws

SCALE = 0.001  # AWS's hour in 3.6 s


@pytest.fixture(scope="module")
def fast_hour(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    env = {"FRESHFLEET_LOCALAWS__TIME_SCALE": str(SCALE)}
    with start_test_localaws(tmp_path_factory.mktemp("fast-hour"), seed=False, env=env) as la:
        yield la


def _statuses(ec2: Any, **params: Any) -> dict[str, str]:
    got = ec2.describe_instance_status(**params)["InstanceStatuses"]
    return {s["InstanceId"]: s["InstanceState"]["Name"] for s in got}


def _listed(ec2: Any) -> set[str]:
    reservations = ec2.describe_instances()["Reservations"]
    return {i["InstanceId"] for r in reservations for i in r["Instances"]}


def test_a_terminated_instance_is_listed_for_about_an_hour_then_not_found(
    fast_hour: LocalAws, eventually: Callable[..., Any]
) -> None:
    ec2 = boto3_client("ec2", fast_hour.url)
    ran = ec2.run_instances(ImageId="ami-03cf127a", MinCount=2, MaxCount=2)["Instances"]
    instance, other = (i["InstanceId"] for i in ran)
    eventually(lambda: state_of(ec2, instance) == "running", what="running")
    ec2.terminate_instances(InstanceIds=[instance])
    ended = time.monotonic()
    hour = TERMINATED_VISIBLE_SECONDS * SCALE

    # Within the hour: still listed, terminated, by id and in the whole account's lists.
    while time.monotonic() - ended < hour * 0.6:
        assert state_of(ec2, instance) == "terminated"
        assert instance in _listed(ec2)
        assert _statuses(ec2, IncludeAllInstances=True).get(instance) == "terminated"
        both = _statuses(ec2, InstanceIds=[instance, other], IncludeAllInstances=True)
        assert both[instance] == "terminated"
        assert instance not in _statuses(ec2)  # without IncludeAllInstances: running only
        time.sleep(0.2)

    def gone() -> bool:
        try:
            ec2.describe_instances(InstanceIds=[instance])
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "InvalidInstanceID.NotFound"
        return False

    eventually(gone, within=30, what="the terminated instance forgotten")
    assert time.monotonic() - ended >= hour * 0.9
    assert instance not in _listed(ec2)
    assert instance not in _statuses(ec2, IncludeAllInstances=True)
    with pytest.raises(ClientError, match=r"InvalidInstanceID\.NotFound"):
        ec2.describe_instance_status(InstanceIds=[instance], IncludeAllInstances=True)
    # The instance that still runs is listed as ever.
    assert state_of(ec2, other) == "running"
    assert _statuses(ec2, InstanceIds=[other])[other] == "running"
