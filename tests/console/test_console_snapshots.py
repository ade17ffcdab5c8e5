"""SVG snapshots of every console screen on deterministic fleets (frozen clock)."""

from __future__ import annotations

import pytest
from console_scenes import SCENES, Scene, settle


@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_screen_looks_as_recorded(snap_compare, scene: Scene):
    app = scene.app()

    async def run_before(pilot) -> None:
        await settle(app, pilot, scene)

    assert snap_compare(app, terminal_size=scene.size, run_before=run_before)
