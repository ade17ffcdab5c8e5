"""Can instances in a subnet reach S3 and DynamoDB? (docs/ARCHITECTURE.md §6.) The boot agent
fetches an s3:// release and reports its phases to DynamoDB; a subnet with neither a route
out (a NAT gateway, or an internet gateway with public addresses) nor VPC endpoints for
those services boots instances that can do neither, nor even say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rollout.aws.gateway import Gateway

SERVICES = ("s3", "dynamodb")


@dataclass(frozen=True, slots=True)
class SubnetEgress:
    """What one subnet's instances can reach, and how."""

    subnet_id: str
    route_table: str
    reaches: dict[str, str]  # service -> how ("NAT gateway nat-…", "gateway endpoint vpce-…")

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(s for s in SERVICES if s not in self.reaches)


def _default_route(routes: list[dict[str, Any]], public_ip: bool) -> str:
    """How the route table reaches the internet, or "" when it does not."""
    for route in routes:
        if route.get("DestinationCidrBlock") != "0.0.0.0/0" or route.get("State") == "blackhole":
            continue
        if route.get("NatGatewayId"):
            return f"NAT gateway {route['NatGatewayId']}"
        gateway = str(route.get("GatewayId", ""))
        if gateway.startswith("igw-") and public_ip:
            return f"internet gateway {gateway}"
        for key in ("TransitGatewayId", "NetworkInterfaceId", "InstanceId"):
            if route.get(key):
                return f"{key.removesuffix('Id').lower()} {route[key]}"
    return ""


async def _route_table(gw: Gateway, subnet: dict[str, Any]) -> dict[str, Any]:
    """The subnet's route table: its own association, else its VPC's main table."""
    got = await gw.call(
        "ec2",
        "describe_route_tables",
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}],
    )
    tables = got.get("RouteTables", [])
    if not tables:
        got = await gw.call(
            "ec2",
            "describe_route_tables",
            Filters=[
                {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                {"Name": "association.main", "Values": ["true"]},
            ],
        )
        tables = got.get("RouteTables", [])
    return dict(tables[0]) if tables else {}


async def subnet_egress(
    gw: Gateway, subnet_ids: list[str], *, public_ip: bool | None = None
) -> list[SubnetEgress]:
    """For each subnet, which of S3 and DynamoDB its instances reach and through what.

    `public_ip` says whether instances get public addresses (None: the subnet's
    MapPublicIpOnLaunch decides); an internet gateway route counts only with one.
    """
    if not subnet_ids:
        return []
    got = await gw.call("ec2", "describe_subnets", SubnetIds=subnet_ids)
    subnets = got.get("Subnets", [])
    vpcs = sorted({str(s["VpcId"]) for s in subnets})
    endpoints = await gw.paginate(
        "ec2",
        "describe_vpc_endpoints",
        "VpcEndpoints",
        Filters=[{"Name": "vpc-id", "Values": vpcs}],
    )
    out = []
    for subnet in subnets:
        table = await _route_table(gw, subnet)
        table_id = str(table.get("RouteTableId", ""))
        public = bool(subnet.get("MapPublicIpOnLaunch")) if public_ip is None else public_ip
        reaches: dict[str, str] = {}
        route = _default_route(table.get("Routes", []), public)
        for service in SERVICES:
            for ep in endpoints:
                if ep.get("VpcId") != subnet["VpcId"] or ep.get("State", "available") not in (
                    "available",
                    "pending",
                ):
                    continue
                if not str(ep.get("ServiceName", "")).endswith(f".{service}"):
                    continue
                if ep.get("VpcEndpointType") == "Interface":
                    if subnet["SubnetId"] in ep.get("SubnetIds", []):
                        reaches[service] = f"interface endpoint {ep['VpcEndpointId']}"
                elif table_id in ep.get("RouteTableIds", []):
                    reaches[service] = f"gateway endpoint {ep['VpcEndpointId']}"
            if service not in reaches and route:
                reaches[service] = route
        out.append(SubnetEgress(str(subnet["SubnetId"]), table_id, reaches))
    return out


def egress_fix(egress: SubnetEgress, vpc_id: str, region: str) -> str:
    """The commands that give a subnet what it lacks: gateway endpoints on its route table."""
    table = egress.route_table or "<its route table>"
    return (
        "; ".join(
            f"aws ec2 create-vpc-endpoint --vpc-id {vpc_id} --service-name "
            f"com.amazonaws.{region}.{service} --route-table-ids {table}"
            for service in egress.missing
        )
        + " (or a NAT gateway route 0.0.0.0/0 in that route table)"
    )
