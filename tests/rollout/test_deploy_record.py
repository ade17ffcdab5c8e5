"""What a deploy says and leaves on record: template versions that read unlike releases,
instances launched as the launch template says (their type shows), and one boot counted
per instance that booted."""

from __future__ import annotations

import asyncio
import re

from rollout.aws.backend import Backend
from rollout.aws.gateway import Gateway
from rollout.fleet.observer import FleetObserver
from rollout.ledger.history import app_history, boot_durations
from rollout.ledger.instances import app_boots


async def _read(fleet) -> tuple[dict[str, str], dict[str, int]]:
    async with Gateway(Backend(endpoint_url=fleet.url, region="us-east-1", local=True)) as gw:
        snapshot, _ = await FleetObserver(gw, fleet.config.tables).tick()
        records, boots = await asyncio.gather(
            app_history(gw, fleet.config.tables, "demo-web"),
            app_boots(gw, fleet.config.tables, "demo-web"),
        )
    types = {i.instance_id: i.instance_type for i in snapshot.instances.values()}
    counts = {k: len(v) for k, v in boot_durations(records, boots).samples.items()}
    return types, counts


def test_a_deploys_instances_have_the_templates_type_and_each_boot_counts(fleet):
    run = fleet.cli("deploy", "demo-web", "v2", "-y")
    assert run.code == 0, run.out + run.err
    # The plan names template versions so no one takes one for a release (v1, v2, v3).
    assert re.search(r"LT version .*freshfleet-demo-web #\d+ .*freshfleet-demo-web #\d+", run.out)
    assert not re.search(r"freshfleet-demo-web v\d", run.out), run.out
    types, counts = asyncio.run(_read(fleet))
    (v2,) = [g for g in fleet.groups().values() if g["release"] == "v2"]
    assert len(v2["instances"]) == 3
    assert {types[i] for i in v2["instances"]} == {"t3.micro"}
    assert counts["v2"] == 3, counts


def test_deploy_json_is_one_object_as_the_readme_says(fleet):
    import json
    from pathlib import Path

    run = fleet.cli("deploy", "demo-web", "v2", "-y", "--no-wait", "--json")
    assert run.code == 0, run.err
    result = json.loads(run.out)  # one object: nothing before or after it
    readme = Path(__file__).resolve().parents[2] / "README.md"
    (line,) = [s for s in readme.read_text().splitlines() if s.startswith("- `deploy --json`")]
    for key in result:
        assert re.search(rf"\b{key}\b", line), (key, line)
    for key in result["plan"]:
        assert re.search(rf"\b{key}\b", line), (key, line)
    assert {c["what"] for c in result["plan"]["changes"]} >= {"release", "LT version"}
