"""Regenerate `screenshots/`: every console screen as SVG, and PNG through rsvg-convert.

    .venv/bin/python scripts/screenshots.py [NAME ...]

The scenes are the snapshot tests' (tests/console/console_scenes.py): deterministic fleets
with a frozen clock, so the files change only when the screens do. PNGs need
`rsvg-convert` (Debian: librsvg2-bin) and DejaVu Sans Mono (fonts-dejavu-core); the SVG's
font is set to it so the columns line up in the PNG.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "console"))
sys.path.insert(0, str(ROOT))

from console_scenes import SCENES, Scene, settle  # noqa: E402

OUT = ROOT / "screenshots"
FONT = "DejaVu Sans Mono"


async def shoot(scene: Scene) -> Path:
    app = scene.app()
    async with app.run_test(size=scene.size) as pilot:
        await settle(app, pilot, scene)
        svg = app.export_screenshot(title=f"freshfleet — {scene.about}")
    svg = svg.replace('"Fira Code"', f'"{FONT}"').replace("Fira Code,", f"{FONT},")
    # Without it rsvg drops the leading spaces of a line and indented rows shift left.
    svg = svg.replace("<svg ", '<svg xml:space="preserve" ', 1)
    path = OUT / f"{scene.name}.svg"
    path.write_text(svg)
    return path


def to_png(svg: Path) -> Path | None:
    if shutil.which("rsvg-convert") is None:
        print("rsvg-convert not found (apt-get install librsvg2-bin): SVG only", file=sys.stderr)
        return None
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "--format=png", "-o", str(png), str(svg)], check=True)
    return png


def main(names: list[str]) -> int:
    OUT.mkdir(exist_ok=True)
    chosen = [s for s in SCENES if not names or s.name in names]
    for scene in chosen:
        svg = asyncio.run(shoot(scene))
        png = to_png(svg)
        print(f"{svg.relative_to(ROOT)}" + (f"  {png.relative_to(ROOT)}" if png else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
