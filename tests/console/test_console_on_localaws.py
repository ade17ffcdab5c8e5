"""The console against localaws (simulated): the demo fleet, and a target turning unhealthy."""

from __future__ import annotations

from console_helpers import console_on, screen_text, wait_for

from console.backend_choice import connect_live
from console.tui.app import FreshfleetApp
from console.tui.screens.fleet import FleetScreen
from localaws.testing import boto3_client
from rollout.config import Config


def fleet(app: FreshfleetApp) -> FleetScreen:
    return app.fleet_screen


async def test_the_demo_fleet_appears_with_its_three_healthy_instances(localaws):
    app = console_on(localaws)
    async with app.run_test(size=(160, 45)) as pilot:
        table = fleet(app).table

        def demo_healthy() -> bool:
            text = table.visible_text()
            return "demo-web  serving v1" in text and text.count(" healthy ") >= 3

        await wait_for(pilot, demo_healthy, within=60, what="demo-web's 3 healthy instances")
        # The AZ column: the demo's instances sit in both zones its load balancer enables.
        elbv2 = boto3_client("elbv2", localaws.url, localaws.region)
        (lb,) = elbv2.describe_load_balancers(Names=["demo-web"])["LoadBalancers"]
        zones = [z["ZoneName"] for z in lb["AvailabilityZones"]]
        assert len(zones) == 2
        text = table.visible_text()
        assert all(f" {zone} " in text for zone in zones), text
        header = screen_text(app).splitlines()[0]
        assert "LOCAL SANDBOX" in header and "updated" in header
        # enter: the instance's console output, with the boot agent's phase lines.
        await pilot.press("enter")
        log = app.screen.query_one("#console")
        await wait_for(
            pilot,
            lambda: any("freshfleet-boot" in line and "health ok" in line for line in log.lines),
            within=30,
            what="the boot agent's lines in the console output",
        )


async def test_a_target_failing_its_health_check_shows_unhealthy_with_awss_reason(
    fresh_localaws,
):
    app = console_on(fresh_localaws)
    elbv2 = boto3_client("elbv2", fresh_localaws.url, fresh_localaws.region)
    async with app.run_test(size=(160, 45)) as pilot:
        table = fleet(app).table
        await wait_for(
            pilot,
            lambda: table.visible_text().count(" healthy ") >= 3,
            within=60,
            what="the demo healthy",
        )
        # Someone sets the target group's success code to 299: every check now "fails".
        snap = table.snapshot
        assert snap is not None
        group = snap.apps[0].serving[0]
        # The ELB-checked group would replace them once marked unhealthy, as AWS does: this
        # test looks at the unhealthy instances themselves, so the group keeps them.
        boto3_client("autoscaling", fresh_localaws.url, fresh_localaws.region).suspend_processes(
            AutoScalingGroupName=group.name, ScalingProcesses=["ReplaceUnhealthy"]
        )
        elbv2.modify_target_group(
            TargetGroupArn=group.target_group_arn, Matcher={"HttpCode": "299"}
        )

        def all_unhealthy() -> bool:
            return table.visible_text().count("unhealthy Target.ResponseCodeMismatch") == 3

        await wait_for(pilot, all_unhealthy, within=30, what="the targets unhealthy")
        text = table.visible_text()
        assert "healthy 0/3" in text
        assert "serving with no healthy target" in text
        assert "every target unhealthy: ALB fails open" in text
        table.move_cursor_to(group.instance_ids[0])
        await pilot.pause()
        assert "Health checks failed with these codes: [200]" in screen_text(app)


async def test_the_header_says_the_sandbox_boots_are_simulated_and_why(
    localaws, localaws_endpoint_env
):
    from rollout.aws.backend import discover_backend

    backend = discover_backend()  # as `freshfleet` finds a running localaws
    assert backend is not None and backend.local
    app = FreshfleetApp(
        lambda: connect_live(backend, Config()), poll_seconds=0.25, backend_label=backend.label
    )
    async with app.run_test(size=(200, 45)) as pilot:
        await wait_for(
            pilot, lambda: "updated" in screen_text(app).splitlines()[0], what="the first poll"
        )
        header = screen_text(app).splitlines()[0]
        assert "LOCAL SANDBOX │ simulated boots │" in header, header
        assert f"simulated boots: {localaws.boot_reason}" in header, header
