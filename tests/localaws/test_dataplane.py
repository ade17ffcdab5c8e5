"""The ALB data plane: `http://<DNSName>:<listener port>` answers, by weight, from healthy
targets only — and fails open, like an ALB, when no target is healthy.

Patches: ELBv2Backend.create_load_balancer (DNSName), .create_listener (a real local
port), .modify_listener (the port stays).
"""

from __future__ import annotations

import itertools
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from localaws_helpers import health_of

from localaws.process import LocalAws


def versions_served(url: str, requests: int) -> Counter[str]:
    """How many of `requests` GETs each release answered (bodies are `app version id`)."""
    seen: Counter[str] = Counter()
    for _ in range(requests):
        body = urllib.request.urlopen(url, timeout=10).read().decode()
        seen[body.split()[1]] += 1
    return seen


def forward(*groups: tuple[str, int]) -> list[dict[str, Any]]:
    targets = [{"TargetGroupArn": arn, "Weight": weight} for arn, weight in groups]
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": targets}}]


def test_the_listener_forwards_by_weight_to_healthy_targets_only(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    groups: dict[str, str] = {}
    for version, simulate in (("v1", None), ("v2", None), ("v3", {"never_healthy": 1})):
        tg = target_group()
        (instance,) = launch(version, simulate=simulate)
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
        groups[version] = tg
    eventually(
        lambda: all(
            health_of(elb, groups[v])
            and all(h["State"] == "healthy" for h in health_of(elb, groups[v]).values())
            for v in ("v1", "v2")
        ),
        what="v1 and v2 healthy",
    )
    eventually(
        lambda: {h["State"] for h in health_of(elb, groups["v3"]).values()} == {"unhealthy"},
        what="v3 unhealthy",
    )

    lb = elb.create_load_balancer(Name=f"contract-{uuid.uuid4().hex[:8]}", Subnets=subnets)[
        "LoadBalancers"
    ][0]
    assert lb["DNSName"] == "127.0.0.1"
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward((groups["v1"], 100), (groups["v2"], 0)),
    )["Listeners"][0]
    port = listener["Port"]
    assert port != 80
    described = elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]
    assert described["Port"] == port
    url = f"http://{lb['DNSName']}:{port}/"

    assert versions_served(url, 10) == {"v1": 10}

    elb.modify_listener(
        ListenerArn=listener["ListenerArn"],
        Port=80,
        DefaultActions=forward((groups["v1"], 0), (groups["v2"], 100)),
    )
    assert (
        elb.describe_listeners(ListenerArns=[listener["ListenerArn"]])["Listeners"][0]["Port"]
        == port
    )
    assert versions_served(url, 10) == {"v2": 10}

    elb.modify_listener(
        ListenerArn=listener["ListenerArn"],
        DefaultActions=forward((groups["v1"], 50), (groups["v2"], 50)),
    )
    assert set(versions_served(url, 40)) == {"v1", "v2"}

    # An unhealthy group never gets traffic while another group has healthy targets...
    elb.modify_listener(
        ListenerArn=listener["ListenerArn"],
        DefaultActions=forward((groups["v1"], 50), (groups["v3"], 50)),
    )
    assert versions_served(url, 20) == {"v1": 20}

    # ...but with no healthy target anywhere the listener fails open.
    elb.modify_listener(
        ListenerArn=listener["ListenerArn"], DefaultActions=forward((groups["v3"], 100))
    )
    assert versions_served(url, 5) == {"v3": 5}


def test_the_demo_listener_answers_v1(localaws: LocalAws, aws_client: Callable[..., Any]) -> None:
    elb = aws_client("elbv2")
    lb = elb.describe_load_balancers(Names=["demo-web"])["LoadBalancers"][0]
    listener = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"][0]
    url = f"http://{lb['DNSName']}:{listener['Port']}/"
    assert url == localaws.albs["demo-web"] + "/"
    assert versions_served(url, 3) == {"v1": 3}


def test_no_request_fails_through_shifts_and_a_drain(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    groups: dict[str, str] = {}
    instances: dict[str, list[str]] = {}
    for version in ("v1", "v2"):
        groups[version] = target_group()
        instances[version] = launch(version, count=2)
        elb.register_targets(
            TargetGroupArn=groups[version], Targets=[{"Id": i} for i in instances[version]]
        )
    for version in ("v1", "v2"):
        eventually(
            lambda v=version: (
                [h["State"] for h in health_of(elb, groups[v]).values()] == ["healthy", "healthy"]
            ),
            what=f"{version} healthy",
        )
    lb = elb.create_load_balancer(Name=f"contract-{uuid.uuid4().hex[:8]}", Subnets=subnets)[
        "LoadBalancers"
    ][0]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward((groups["v1"], 100), (groups["v2"], 0)),
    )["Listeners"][0]
    url = f"http://{lb['DNSName']}:{listener['Port']}/"

    answers: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def more_traffic() -> None:
        seen = len(answers)
        eventually(lambda: len(answers) > seen + 5, what="traffic flowing")

    def load() -> None:
        while not stop.is_set():
            try:
                answers.append(urllib.request.urlopen(url, timeout=10).read().decode().split()[1])
            except Exception as exc:
                failures.append(repr(exc))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        for weights in ((0, 100), (100, 0), (0, 100)):
            more_traffic()
            elb.modify_listener(
                ListenerArn=listener["ListenerArn"],
                DefaultActions=forward((groups["v1"], weights[0]), (groups["v2"], weights[1])),
            )
        # v2 serves; one of its two targets drains while traffic flows.
        elb.deregister_targets(TargetGroupArn=groups["v2"], Targets=[{"Id": instances["v2"][0]}])
        eventually(lambda: instances["v2"][0] not in health_of(elb, groups["v2"]), what="drained")
        more_traffic()
    finally:
        stop.set()
        worker.join(30)
    assert failures == []
    assert answers[-1] == "v2"
    # The version changes once per shift and never flips back and forth in between.
    changes = [b for a, b in itertools.pairwise(answers) if a != b]
    assert changes == ["v2", "v1", "v2"]


def test_a_shared_listener_routes_apps_by_host_and_path_rules(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    groups: dict[str, str] = {}
    for version in ("v1", "v2"):
        groups[version] = target_group()
        (instance,) = launch(version)
        elb.register_targets(TargetGroupArn=groups[version], Targets=[{"Id": instance}])
        eventually(
            lambda v=version, i=instance: health_of(elb, groups[v])[i]["State"] == "healthy",
            what=f"{version} healthy",
        )
    lb = elb.create_load_balancer(Name=f"contract-{uuid.uuid4().hex[:8]}", Subnets=subnets)[
        "LoadBalancers"
    ][0]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[
            {
                "Type": "fixed-response",
                "FixedResponseConfig": {"StatusCode": "404", "MessageBody": "no app here"},
            }
        ],
    )["Listeners"][0]
    elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=10,
        Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": ["one.example"]}}],
        Actions=forward((groups["v1"], 1)),
    )
    elb.create_rule(
        ListenerArn=listener["ListenerArn"],
        Priority=20,
        Conditions=[{"Field": "path-pattern", "PathPatternConfig": {"Values": ["/two/*"]}}],
        Actions=forward((groups["v2"], 1)),
    )
    base = f"http://{lb['DNSName']}:{listener['Port']}"

    def get(path: str, host: str = "") -> tuple[int, str]:
        request = urllib.request.Request(base + path, headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert get("/", "one.example")[1].startswith("demo-web v1 ")
    assert get("/two/page")[1].startswith("demo-web v2 ")
    assert get("/elsewhere") == (404, "no app here")


def test_a_request_in_flight_finishes_within_the_deregistration_delay_and_no_longer(
    localaws: LocalAws,
    launch: Callable[..., list[str]],
    target_group: Callable[..., str],
    aws_client: Callable[..., Any],
    eventually: Callable[..., Any],
) -> None:
    """The group drains for AWS's default 300 s, 3 s at the tests' time scale: a 0.3 s
    request finishes, a 5 s one is cut."""
    ec2, elb = aws_client("ec2"), aws_client("elbv2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"][:2]]
    tg = target_group()
    lb = elb.create_load_balancer(Name=f"contract-{uuid.uuid4().hex[:8]}", Subnets=subnets)[
        "LoadBalancers"
    ][0]
    listener = elb.create_listener(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward((tg, 1)),
    )["Listeners"][0]
    base = f"http://{lb['DNSName']}:{listener['Port']}/"

    def attempt(delay: float) -> str:
        """One slow request, its target deregistered while it is in flight: what it got."""
        (instance,) = launch("v1")
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
        eventually(lambda: health_of(elb, tg)[instance]["State"] == "healthy", what="healthy")
        outcome: list[str] = []

        def slow_request() -> None:
            try:
                body = urllib.request.urlopen(f"{base}?delay={delay}", timeout=30).read()
                outcome.append(body.decode().split()[1])
            except urllib.error.HTTPError as exc:
                outcome.append(str(exc.code))  # it arrived after the drain began
            except Exception as exc:
                outcome.append(f"cut: {exc!r}")

        worker = threading.Thread(target=slow_request)
        worker.start()
        time.sleep(0.2)  # let the request reach its target (a 503 outcome means it did not)
        elb.deregister_targets(TargetGroupArn=tg, Targets=[{"Id": instance}])
        worker.join(30)
        return outcome[0]

    def settled(delay: float) -> str:
        return next(o for o in (attempt(delay) for _ in range(5)) if o != "503")

    assert settled(0.3) == "v1"
    assert settled(5).startswith("cut: ")
