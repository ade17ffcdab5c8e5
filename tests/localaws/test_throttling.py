"""AWS meters API requests with token buckets, and localaws does too.

- ELB: "Request throttling for the ELB API"
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/userguide/elb-api-throttling.html):
  one bucket per account and region for every `Describe*` action, 40 tokens refilled at 10
  a second, then `Throttling` ("Rate exceeded").
- EC2: "Request throttling for the Amazon EC2 API"
  (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html): a bucket per
  non-mutating API, 100 tokens refilled at 20 a second, then `RequestLimitExceeded`.
- DynamoDB BatchGetItem (API reference): keys not served come back in `UnprocessedKeys`
  for the caller to ask again (injected here with `batch_get_unprocessed_share`).

Stock moto never throttles and never leaves keys unprocessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from localaws.process import LocalAws
from localaws.server.throttling import RequestMeter
from localaws.testing import start_test_localaws
from rollout.config import load_config

_NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


def _client(service: str, url: str, region: str = "us-east-1") -> Any:
    import boto3

    make: Any = boto3.client
    return make(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="freshfleet",
        aws_secret_access_key="freshfleet",
        config=_NO_RETRIES,
    )


@pytest.fixture(scope="module")
def aws_pace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """An unseeded localaws at AWS's own pace (time scale 1), where the windows and buckets
    are AWS's seconds."""
    env = {"FRESHFLEET_LOCALAWS__TIME_SCALE": "1"}
    with start_test_localaws(tmp_path_factory.mktemp("aws-pace"), seed=False, env=env) as la:
        yield la


def _until_refused(call: Callable[[], Any], code: str, most: int) -> tuple[int, float, ClientError]:
    """Call until AWS refuses with `code`: (calls that passed, seconds taken, the error)."""
    start = time.monotonic()
    for n in range(most):
        try:
            call()
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == code, exc
            return n, time.monotonic() - start, exc
    pytest.fail(f"{most} calls and no {code}")


def test_elb_describe_calls_share_one_bucket_of_40_refilled_at_10_a_second(
    aws_pace: LocalAws, eventually: Any
) -> None:
    elb = _client("elbv2", aws_pace.url)
    vpc = _client("ec2", aws_pace.url).describe_vpcs()["Vpcs"][0]["VpcId"]
    passed, took, error = _until_refused(elb.describe_load_balancers, "Throttling", 200)
    assert 40 <= passed <= 40 + 10 * took + 1
    assert error.response["Error"]["Message"] == "Rate exceeded"
    # Every Describe* draws from the same bucket; a mutating call does not.
    again, _, _ = _until_refused(elb.describe_target_groups, "Throttling", 20)
    assert again <= 3  # only what refilled since
    elb.create_target_group(Name="throttle-check", Protocol="HTTP", Port=80, VpcId=vpc)
    # Another region has its own bucket.
    _client("elbv2", aws_pace.url, "us-west-2").describe_load_balancers()
    eventually(lambda: _passes(elb.describe_load_balancers), within=3, what="refilled")


def test_ec2_meters_each_non_mutating_api_with_100_tokens_refilled_at_20_a_second(
    aws_pace: LocalAws, eventually: Any
) -> None:
    ec2 = _client("ec2", aws_pace.url)
    passed, took, _ = _until_refused(ec2.describe_vpcs, "RequestLimitExceeded", 400)
    assert 100 <= passed <= 100 + 20 * took + 1
    ec2.describe_subnets()  # another API, another bucket
    eventually(lambda: _passes(ec2.describe_vpcs), within=3, what="refilled")


def _passes(call: Callable[[], Any]) -> bool:
    try:
        call()
    except ClientError:
        return False
    return True


def test_metering_is_off_when_the_config_says_so() -> None:
    config = load_config(env={"FRESHFLEET_LOCALAWS__THROTTLING": "false"}, path=None)
    assert config.localaws.throttling is False
    meter = RequestMeter(config.localaws.throttling)
    assert all(meter.admit("1", "us-east-1", "elbv2", "DescribeTargetHealth") for _ in range(500))


@pytest.fixture(scope="module")
def unprocessing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    """An unseeded localaws that leaves half of every BatchGetItem's keys unprocessed."""
    env = {"FRESHFLEET_LOCALAWS__BATCH_GET_UNPROCESSED_SHARE": "0.5"}
    with start_test_localaws(tmp_path_factory.mktemp("unprocessed"), seed=False, env=env) as la:
        yield la


def test_batch_get_item_can_leave_keys_unprocessed_for_the_caller_to_ask_again(
    unprocessing: LocalAws,
) -> None:
    dynamodb = _client("dynamodb", unprocessing.url)
    dynamodb.create_table(
        TableName="unprocessed",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(10):
        dynamodb.put_item(TableName="unprocessed", Item={"k": {"S": f"key-{n}"}})
    request = {"unprocessed": {"Keys": [{"k": {"S": f"key-{n}"}} for n in range(10)]}}

    got = dynamodb.batch_get_item(RequestItems=request)
    assert len(got["Responses"]["unprocessed"]) == 5
    assert len(got["UnprocessedKeys"]["unprocessed"]["Keys"]) == 5

    seen = {i["k"]["S"] for i in got["Responses"]["unprocessed"]}
    pending = got["UnprocessedKeys"]
    while pending:
        got = dynamodb.batch_get_item(RequestItems=pending)
        seen |= {i["k"]["S"] for i in got["Responses"].get("unprocessed", [])}
        pending = got.get("UnprocessedKeys") or {}
    assert seen == {f"key-{n}" for n in range(10)}
