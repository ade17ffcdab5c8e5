"""Can the load balancer reach a release's port on the instances? (docs/ARCHITECTURE.md §4,
step 1.) An ALB health-checks and forwards from its own security groups' addresses; an
instance security group that does not admit the release's port from them, or an ALB security
group whose egress rules do not send that port to the instances, makes every target
`unhealthy` (`Target.Timeout`) and the gate fail at its deadline.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.fleet.traffic import TrafficPoint


def _covers(perm: dict[str, Any], port: int) -> bool:
    proto = str(perm.get("IpProtocol", ""))
    if proto in ("-1", "all"):
        return True
    if proto not in ("tcp", "6"):
        return False
    return int(perm.get("FromPort", -1)) <= port <= int(perm.get("ToPort", -1))


def _cidr_admits(cidr: str, sources: list[str]) -> bool:
    """True when `cidr` holds every one of the load balancer's subnets."""
    try:
        rule = ipaddress.ip_network(cidr, strict=False)
        nets = [ipaddress.ip_network(s, strict=False) for s in sources]
    except ValueError:
        return False
    return bool(nets) and all(
        n.version == rule.version and n.subnet_of(rule)  # type: ignore[arg-type]
        for n in nets
    )


async def _load_balancer_groups(gw: Gateway, traffic: TrafficPoint) -> set[str]:
    """The security groups of the traffic point's load balancer."""
    got = await gw.call(
        "elbv2", "describe_load_balancers", LoadBalancerArns=[traffic.load_balancer_arn]
    )
    return {str(g) for lb in got.get("LoadBalancers", []) for g in lb.get("SecurityGroups", [])}


async def _rules_send(
    gw: Gateway,
    groups: list[str],
    rules: str,
    port: int,
    peer_groups: set[str],
    peer_subnets: list[str] | tuple[str, ...],
) -> bool:
    """True when a rule of one of `groups` (`rules`: "IpPermissions" for ingress,
    "IpPermissionsEgress" for egress) covers TCP `port` for one of `peer_groups`, or for
    addresses holding every one of `peer_subnets`."""
    cidrs: list[str] = []
    if peer_subnets:
        subnets = await gw.call("ec2", "describe_subnets", SubnetIds=list(peer_subnets))
        cidrs = [str(s["CidrBlock"]) for s in subnets.get("Subnets", []) if s.get("CidrBlock")]
    described = await gw.call("ec2", "describe_security_groups", GroupIds=groups)
    for group in described.get("SecurityGroups", []):
        for perm in group.get(rules, []):
            if not _covers(perm, port):
                continue
            pairs = {str(p.get("GroupId", "")) for p in perm.get("UserIdGroupPairs", [])}
            if pairs & peer_groups:
                return True
            if any(_cidr_admits(str(r.get("CidrIp", "")), cidrs) for r in perm.get("IpRanges", [])):
                return True
    return False


async def instance_security_groups(
    gw: Gateway, template_data: dict[str, Any], vpc_id: str
) -> list[str]:
    """The security groups the template gives its instances (the VPC's default without any)."""
    groups = [str(g) for g in template_data.get("SecurityGroupIds", [])]
    for nic in template_data.get("NetworkInterfaces", []):
        groups += [str(g) for g in nic.get("Groups", [])]
    if groups or not vpc_id:
        return groups
    got = await gw.call(
        "ec2",
        "describe_security_groups",
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "group-name", "Values": ["default"]},
        ],
    )
    return [str(g["GroupId"]) for g in got.get("SecurityGroups", [])]


async def ingress_problem(
    gw: Gateway, traffic: TrafficPoint, instance_groups: list[str], port: int
) -> str:
    """Why the load balancer cannot reach `port` on the instances, with the fix; "" when
    one of the instance security groups admits it from the load balancer."""
    if not instance_groups or not traffic.load_balancer_arn:
        return ""
    alb_groups = await _load_balancer_groups(gw, traffic)
    if await _rules_send(gw, instance_groups, "IpPermissions", port, alb_groups, traffic.subnets):
        return ""
    source = sorted(alb_groups)[0] if alb_groups else "<the load balancer's security group>"
    many = len(instance_groups) > 1
    return (
        f"the instances' security group{'s' if many else ''} {', '.join(instance_groups)} "
        f"admit{'' if many else 's'} no TCP {port} from the load balancer's "
        f"({', '.join(sorted(alb_groups)) or 'none'}): every health check would time out. "
        f"Fix: aws ec2 authorize-security-group-ingress --group-id {instance_groups[0]} "
        f"--protocol tcp --port {port} --source-group {source}"
    )


async def egress_problem(
    gw: Gateway,
    traffic: TrafficPoint,
    instance_groups: list[str],
    port: int,
    instance_subnets: list[str],
) -> str:
    """Why the load balancer's security groups send no TCP `port` to the instances (a group
    of theirs, or addresses holding every one of `instance_subnets`), with the fix; "" when
    one of them does. An ALB's security group filters its outbound health checks and
    requests too: an egress rule narrowed to, say, 443 times every check out."""
    if not instance_groups or not traffic.load_balancer_arn:
        return ""
    alb_groups = sorted(await _load_balancer_groups(gw, traffic))
    if not alb_groups:
        return ""
    if await _rules_send(
        gw, alb_groups, "IpPermissionsEgress", port, set(instance_groups), instance_subnets
    ):
        return ""
    many = len(alb_groups) > 1
    return (
        f"the load balancer's security group{'s' if many else ''} {', '.join(alb_groups)} "
        f"send{'' if many else 's'} no TCP {port} to the instances' "
        f"({', '.join(instance_groups)}): every health check would time out. "
        f"Fix: aws ec2 authorize-security-group-egress --group-id {alb_groups[0]} "
        f"--ip-permissions IpProtocol=tcp,FromPort={port},ToPort={port},"
        f"UserIdGroupPairs=[{{GroupId={instance_groups[0]}}}]"
    )
