"""Who this instance is: IMDSv2 when it answers, else what the environment says; and its ARN,
the key of its boot report."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass

TOKEN_TTL = "300"
TIMEOUT = 2.0  # IMDS answers in milliseconds when present; a missing one must not stall a boot


@dataclass(frozen=True)
class Identity:
    instance_id: str
    region: str
    source: str  # "imds", "env" or "hostname"
    account: str = ""  # the instance's AWS account (IMDS identity document), "" if unknown


# Regions outside the `aws` partition, by prefix.
_PARTITIONS = (
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-iso-", "aws-iso"),
)


def partition_of(region: str) -> str:
    """The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ...), as ARNs name it."""
    return next((p for prefix, p in _PARTITIONS if region.startswith(prefix)), "aws")


def instance_arn(region: str, account: str, instance_id: str) -> str:
    """An EC2 instance's ARN, the key of its boot report in the instances table: what IAM
    gives the instance role's sessions as `ec2:SourceInstanceARN`. "" when the region, the
    account or the instance id is unknown. The one definition: the agent writes under it and
    the engine (`rollout.ledger.instances`) reads under it."""
    if not (region and account and instance_id):
        return ""
    return f"arn:{partition_of(region)}:ec2:{region}:{account}:instance/{instance_id}"


def imds_get(endpoint: str, path: str, token: str) -> str:
    """One IMDSv2 GET with the session token."""
    req = urllib.request.Request(
        f"{endpoint.rstrip('/')}/latest/{path}",
        headers={"X-aws-ec2-metadata-token": token},
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        return str(resp.read().decode().strip())


def imds_token(endpoint: str) -> str:
    """IMDSv2's session token (`PUT /latest/api/token`)."""
    req = urllib.request.Request(
        f"{endpoint.rstrip('/')}/latest/api/token",
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": TOKEN_TTL},
    )
    with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
        return str(resp.read().decode().strip())


def account_of(endpoint: str, token: str) -> str:
    """The account id of the instance identity document; "" when IMDS does not say."""
    try:
        document = json.loads(imds_get(endpoint, "dynamic/instance-identity/document", token))
    except (OSError, urllib.error.URLError, ValueError):
        return ""
    return str(document.get("accountId", "")) if isinstance(document, dict) else ""


def discover(imds_endpoint: str, instance_id: str = "", region: str = "") -> Identity:
    """The instance id, region and account from IMDSv2; falls back to the given values,
    then the host name.

    IMDS's region wins over the given one: it is where the instance runs, whatever the env
    file was told.

    Never raises: an instance without IMDS (a VM, a test) still boots its release.
    """
    if imds_endpoint and imds_endpoint != "off":
        try:
            token = imds_token(imds_endpoint)
            found = imds_get(imds_endpoint, "meta-data/instance-id", token)
            try:
                found_region = imds_get(imds_endpoint, "meta-data/placement/region", token)
            except (OSError, urllib.error.URLError):
                found_region = ""
            if found:
                return Identity(
                    found, found_region or region, "imds", account_of(imds_endpoint, token)
                )
        except (OSError, urllib.error.URLError, ValueError):
            pass
    if instance_id:
        return Identity(instance_id, region, "env")
    return Identity(socket.gethostname(), region, "hostname")
