"""`./dev` names no package mirror: the backports line comes from the machine's own apt
configuration, in either of apt's two formats."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A host name: labels with dots ending in a top-level domain of letters (not a file name).
HOST = re.compile(r"\b(?:[a-z0-9-]+\.)+(?:org|com|net|io|dev|cloud|debian)\b", re.I)
PACKAGES = {"docker.io"}  # Debian package names that look like hosts


def source_uri(etc: Path, codename: str = "bookworm") -> str:
    script = f'. "{ROOT}/scripts/apt_source.sh"; debian_source_uri {codename}'
    done = subprocess.run(
        ["bash", "-c", script],
        env={"FRESHFLEET_APT_ETC": str(etc), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def test_dev_and_its_scripts_name_no_host():
    for path in (ROOT / "dev", ROOT / "scripts" / "apt_source.sh", ROOT / ".ci" / "run"):
        hosts = [m.group(0) for m in HOST.finditer(path.read_text())]
        hosts = [h for h in hosts if h not in PACKAGES]
        assert hosts == [], f"{path.name} names {hosts}"


def test_the_source_comes_from_a_deb822_stanza_for_the_codename(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    assert source_uri(tmp_path) == "http://mirror.test/debian"
    # The matching stanza first, another after it: still the one URI, once.
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\n"
        "Types: deb\nURIs: http://mirror.test/debian-security\nSuites: bookworm-security\n"
        "Components: main\n"
    )
    assert source_uri(tmp_path) == "http://mirror.test/debian"
    assert source_uri(tmp_path, "trixie") == ""


def test_the_source_comes_from_a_one_line_entry_with_options(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# a comment\ndeb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main\n"
    )
    assert source_uri(tmp_path) == "http://mirror.test/debian"


def _bash_array(name: str) -> set[str]:
    text = (ROOT / "dev").read_text()
    match = re.search(rf"^{name}=\(([^)]*)\)", text, re.M)
    assert match, f"dev has no {name}"
    return set(match.group(1).split())


def test_what_dev_console_installs_for_real_boots_is_what_dev_test_installs_too():
    real = _bash_array("REAL_BOOT_PACKAGES")
    assert "mmdebstrap" in real
    assert real <= _bash_array("DEB_PACKAGES")
