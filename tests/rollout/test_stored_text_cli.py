"""Stored text in the CLI is text (item 18.4): release notes, a lock's message and a boot
detail holding Rich markup or terminal escapes print literally, escapes made visible, and
crash no command (`releases`, `lock`, `status`, `deploy`, `history`)."""

from __future__ import annotations

import threading
import time
from typing import Any

from console.plain import plain
from localaws.testing import boto3_client

APP = "demo-web"
# A closing tag with nothing open (Rich raised MarkupError), an action link, and escapes
# that would clear the screen and set the terminal's title.
NOTES = "[/] [@click=app.quit]x \x1b[2J\x1b]0;pwned\x07"
# No spaces: a table may wrap a long cell at a space, never inside this word.
DETAIL = "[/][@click=app.quit]x\x1b[2J"


def no_raw_escapes(*outputs: str) -> bool:
    """Nothing printed holds an ESC or BEL of its own (a StringIO console adds no colour)."""
    return all("\x1b" not in o and "\x07" not in o for o in outputs)


def test_release_notes_with_markup_and_escapes_list_literally(fleet):
    sha = "ab" * 32
    url = "https://releases.example.com/demo-web/v9.tar.gz"
    add = fleet.cli(
        "release", "add", APP, "v9", "--url", url, "--sha256", sha, "--no-check-url",
        "--notes", NOTES,
    )  # fmt: skip
    assert add.code == 0, add.err
    listed = fleet.cli("releases", APP)
    assert listed.code == 0, listed.err
    assert plain(NOTES) == "[/] [@click=app.quit]x \\x1b[2J\\x1b]0;pwned\\x07"
    assert plain(NOTES) in listed.out
    assert no_raw_escapes(add.out, add.err, listed.out, listed.err)


def test_a_lock_message_with_markup_shows_literally_in_lock_status_and_the_refused_deploy(
    fleet,
):
    locked = fleet.cli("lock", APP, "-m", NOTES)
    assert locked.code == 0, locked.err
    assert plain(NOTES) in locked.out
    try:
        status = fleet.cli("status", APP)
        assert status.code == 0, status.err
        assert f"— {plain(NOTES)}" in status.out
        refused = fleet.cli("deploy", APP, "v2", "-y")
        assert refused.code == 3, refused.err
        assert f"{plain(NOTES)} (until" in refused.err
        assert no_raw_escapes(locked.out, status.out, status.err, refused.out, refused.err)
    finally:
        assert fleet.cli("unlock", APP).code == 0


def test_a_boot_detail_in_a_failure_reason_prints_literally_in_deploy_and_history(fleet):
    # v9 boots, then answers its health check too late for the gate: its boot reports end
    # early, and the boot agent's last word can be written over, as anyone with access to
    # the instances table could.
    fleet.put_release("v9", simulate={"health_delay": "30"})
    table = fleet.config.tables.instances
    db = boto3_client("dynamodb", fleet.url)
    written: list[str] = []

    def report_a_failure() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not written:
            for item in db.scan(TableName=table, ConsistentRead=True)["Items"]:
                if _booted(item, "v9"):
                    fail = {"status": {"S": "fail"}, "detail": {"S": DETAIL}}
                    db.put_item(TableName=table, Item={**item, **fail})
                    written.append(item["instance_id"]["S"])
                    return
            time.sleep(0.1)

    writer = threading.Thread(target=report_a_failure, daemon=True)
    writer.start()
    run = fleet.cli("deploy", APP, "v9", "-y")
    writer.join(timeout=5)
    assert written, "no v9 instance finished its boot"
    assert run.code == 1, run.err
    shown = plain(DETAIL)
    assert shown == "[/][@click=app.quit]x\\x1b[2J"
    assert f"failed its boot at health (health fail): {shown}" in run.out  # the failure, why
    assert f"boot health fail: {shown}" in run.out  # the instance's line
    history = fleet.cli("history", APP)
    assert history.code == 0, history.err
    assert shown in history.out
    assert no_raw_escapes(run.out, run.err, history.out, history.err)


def _booted(item: dict[str, Any], release: str) -> bool:
    values = {k: v.get("S") for k, v in item.items()}
    return values.get("release") == release and (values["phase"], values["status"]) == (
        "health",
        "ok",
    )
