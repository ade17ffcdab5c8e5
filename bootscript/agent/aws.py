"""boto3 clients for the instances table, SSM and S3, imported only when one is needed."""

from __future__ import annotations

from typing import Any


def client(service: str, region: str, endpoint_url: str = "", attempts: int = 4) -> Any:
    """A boto3 client with short timeouts; endpoint_url given explicitly, because the boto3
    of Debian 12 (1.26) does not read AWS_ENDPOINT_URL itself."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5,
        read_timeout=20,
        retries={"max_attempts": attempts, "mode": "standard"},
    )
    make: Any = boto3.client  # the service name is a runtime value
    return make(
        service,
        region_name=region or "us-east-1",
        endpoint_url=endpoint_url or None,
        config=config,
    )
