"""Starting localaws for tests: a fast time scale, a free port, its own endpoint file.

The shared pytest fixtures (tests/conftest.py) are built on these; a test that needs a
localaws with other timers calls `start_test_localaws` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from localaws.process import LocalAws, start_localaws

# AWS's own timings a hundred times as fast: a target group with AWS's defaults turns
# healthy after 5 x 30 s = 1.5 s and drains for 300 s = 3 s; instances run after 0.1 s.
TEST_TIME_SCALE = 0.01
FAST_TIMERS: dict[str, str] = {
    "FRESHFLEET_LOCALAWS__TIME_SCALE": str(TEST_TIME_SCALE),
    # No demo traffic unless a test asks for it (the judge's tests do).
    "FRESHFLEET_LOCALAWS__TRAFFIC_RPS": "0",
}


def start_test_localaws(
    directory: Path, *, seed: bool = True, env: dict[str, str] | None = None, **kwargs: Any
) -> LocalAws:
    """A simulated localaws on a free port at TEST_TIME_SCALE and its endpoint file in
    `directory` (plus `env`). The caller stops it (or uses it as a context manager)."""
    directory.mkdir(parents=True, exist_ok=True)
    return start_localaws(
        port=0,
        boot="simulated",
        seed=seed,
        endpoint_file=directory / "localaws.json",
        env={**FAST_TIMERS, "FRESHFLEET_LOCALAWS_DIR": str(directory), **(env or {})},
        **kwargs,
    )


def boto3_client(service: str, url: str, region: str = "us-east-1") -> Any:
    """A plain boto3 client for a localaws at `url` (dummy credentials)."""
    client: Any = boto3.client
    return client(
        service,
        endpoint_url=url,
        region_name=region,
        aws_access_key_id="freshfleet",
        aws_secret_access_key="freshfleet",
    )


def other_account_client(service: str, url: str, account: str = "111111111111") -> Any:
    """A boto3 client acting as another AWS account (STS AssumeRole into a role of
    `account`): what that account creates is owned by it, as in AWS."""
    sts = boto3_client("sts", url)
    role = f"arn:aws:iam::{account}:role/other-account"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="other-account")["Credentials"]
    client: Any = boto3.client
    return client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
