"""AWS faults injected into the engine's own calls, and the engine driven in-process.

`AwsFault(share, status, code)` is a botocore `before-send` handler: for a seeded share of
requests it answers, instead of the endpoint, an HTTP error in the service's own protocol
(`400 Throttling`, `500 InternalError`), so the retry loop sees it as it would see AWS's.
`deploy_in_process(fleet, version, faults)` runs a blue-green rollout with a Gateway that
carries those handlers (`Gateway.register` adds them to every client).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

from aiobotocore.awsrequest import AioAWSResponse

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.deploy import DeployRequest, Rollout, make_plan
from rollout.events import RolloutResult
from rollout.ledger.lease import DeployLock
from tests.rollout.conftest import Fleet


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    async def read(self) -> bytes:
        return self.data


@dataclass(eq=False)  # hashable by identity: botocore keys handlers by them
class AwsFault:
    """Answer `share` of the requests with HTTP `status` and error `code`."""

    share: float
    status: int
    code: str
    seed: int = 7
    injected: int = 0
    passed: int = 0
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __call__(self, request: Any, event_name: str = "", **_: Any) -> AioAWSResponse | None:
        if self._random.random() >= self.share:
            self.passed += 1
            return None
        self.injected += 1
        service = event_name.split(".")[1] if event_name.count(".") >= 1 else ""
        body, headers = _error_body(service, self.code)
        return AioAWSResponse(request.url, self.status, headers, _Body(body))


def _error_body(service: str, code: str) -> tuple[bytes, dict[str, str]]:
    message = "Rate exceeded" if "Throttl" in code else "We encountered an internal error."
    if service.lower() == "dynamodb":  # JSON protocol
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": message}
        )
        return body.encode(), {"Content-Type": "application/x-amz-json-1.0"}
    if service.lower() == "ec2":  # the EC2 query protocol's own error shape
        xml = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
            "</Error></Errors><RequestID>injected</RequestID></Response>"
        )
    else:  # query protocol (Auto Scaling, ELBv2)
        xml = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        )
    return xml.encode(), {"Content-Type": "text/xml"}


async def deploy_in_process(fleet: Fleet, version: str, *faults: AwsFault) -> RolloutResult:
    """Deploy `version` blue-green with the fleet's settings, every AWS call of it (lock,
    plan, rollout) going through the fault handlers."""
    config = fleet.config
    backend = Backend(endpoint_url=fleet.url, region="us-east-1", local=True)
    async with Gateway(backend) as gw:
        for fault in faults:
            gw.register("before-send", fault)
        lock = DeployLock(
            gw, config.tables.locks, "demo-web", config.rollout, audit_table=config.tables.rollouts
        )
        async with lock:
            plan = await make_plan(gw, config, DeployRequest("demo-web", version))
            return await Rollout(gw, config, plan, lock).run()
