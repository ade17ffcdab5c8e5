"""The console fits the default 80×24 terminal: the fleet table keeps the columns that matter,
the dialogs and the footer stay on screen; a wide terminal keeps every column."""

from __future__ import annotations

import pytest
from console_helpers import screen_text, wait_for
from console_scenes import SCENES, SMALL, settle
from textual.widgets import Button

from console.tui.fleet_rows import COLUMNS, fit_fleet_columns
from console.tui.screens.history import HistoryScreen
from console.tui.screens.rollout import RolloutScreen
from console.tui.widgets.fleet_table import INDENT

ESSENTIAL = ("id", "state", "health", "release", "boot")


def scene(name: str):
    return next(s for s in SCENES if s.name == name)


@pytest.mark.parametrize("width", [60, 73, 80, 100, 120, 146, 150, 200])
def test_the_columns_that_matter_are_always_shown_and_the_table_fits(width: int) -> None:
    shown = fit_fleet_columns(width, INDENT)
    keys = [c.key for c, _ in shown]
    assert [k for k in keys if k in ESSENTIAL] == list(ESSENTIAL)
    assert all(w >= c.least for c, w in shown)
    # Down to 73 cells the table is as wide as the screen; below, it scrolls sideways.
    assert INDENT + sum(w for _, w in shown) + len(shown) - 1 == max(width, 73)


def test_a_wide_terminal_keeps_every_column_at_its_width_the_flag_takes_the_rest() -> None:
    shown = fit_fleet_columns(150, INDENT)
    assert [c for c, _ in shown] == list(COLUMNS)
    assert [w for _, w in shown[:-1]] == [c.width for c in COLUMNS[:-1]]
    assert shown[-1][1] == 150 - INDENT - sum(c.width + 1 for c in COLUMNS[:-1])


async def test_at_80x24_every_instance_line_shows_its_id_state_health_release_and_boot() -> None:
    fleet = scene("fleet-80x24")
    app = fleet.app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot, fleet)
        table = app.fleet_screen.table
        lines = table.visible_text().splitlines()
        assert lines[0].split() == ["INSTANCE", "▲", "EC2", "TARGET", "HEALTH", "RELEASE", "BOOT"]
        snap = table.snapshot
        assert snap is not None
        for instance in snap.instances.values():
            (line,) = [line for line in lines if instance.instance_id in line]
            assert instance.state.value in line and instance.release in line, line
            assert instance.boot is not None and instance.boot.phase.value in line, line
            assert instance.health is not None and instance.health.state.value in line, line
        assert all(len(line) <= SMALL[0] for line in lines)
        # The footer's keys, `q` and `?` included, fit the width.
        footer = app.screen.query_one("FittedFooter")
        keys = [w for w in footer.query("FooterKey") if w.display]
        assert {"quit", "help", "deploy", "rollback"} <= {k.action for k in keys}  # type: ignore[attr-defined]
        assert all(k.region.right <= SMALL[0] for k in keys)


@pytest.mark.parametrize("name", ["deploy-plan-80x24", "rollback-80x24"])
async def test_at_80x24_a_dialog_and_all_its_buttons_are_on_screen(name: str) -> None:
    dialog = scene(name)
    app = dialog.app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot, dialog)
        screen = app.screen
        box = screen.query_one("Vertical")
        await wait_for(pilot, lambda: box.region.width > 0, what="the dialog laid out")
        assert box.region.x >= 0 and box.region.right <= SMALL[0], box.region
        assert box.region.bottom <= SMALL[1], box.region
        for button in screen.query(Button):
            inside = box.region.intersection(button.region)
            assert inside == button.region and button.region.width > 0, (button.id, button.region)


async def test_at_80x24_the_history_shows_each_rollout_id_and_outcome_whole() -> None:
    history = scene("history-80x24")
    app = history.app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot, history)
        shown = screen_text(app)
        lines = shown.splitlines()
        assert all(len(line) <= SMALL[0] for line in lines)
        assert "…" not in shown
        screen = app.screen
        assert isinstance(screen, HistoryScreen)
        words = " ".join(shown.split())
        for r in screen.records:
            (line,) = [line for line in lines if r.rollout_id in line]
            assert r.state in line and r.to_release in line, line
            assert (r.reason or r.outcome) in words  # wrapped onto more lines, never cut


async def test_at_80x24_a_rollout_shows_each_instance_id_whole_on_one_line() -> None:
    rollout = scene("rollout-failed-80x24")
    app = rollout.app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(app, pilot, rollout)
        lines = screen_text(app).splitlines()
        assert all(len(line) <= SMALL[0] for line in lines)
        screen = app.screen
        assert isinstance(screen, RolloutScreen)
        for instance in screen.view.instances.values():
            (line,) = [line for line in lines if line.strip().startswith(instance.instance_id)]
            assert instance.state in line and instance.boot_text in line, line
