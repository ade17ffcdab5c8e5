"""Following console output: each line once, even as EC2's 64 KB window slides."""

from __future__ import annotations

import base64

from rollout.fleet.console_output import (
    WINDOW_BYTES,
    complete_lines,
    decode_output,
    new_lines,
    window_lines,
)


def test_a_growing_console_yields_only_the_new_lines() -> None:
    first = ["boot", "fetch start"]
    assert new_lines([], first) == first
    assert new_lines(first, [*first, "fetch ok", "verify start"]) == ["fetch ok", "verify start"]
    assert new_lines(first, first) == []


def test_a_sliding_window_yields_each_line_once() -> None:
    console = [f"line {n}" for n in range(3000)]
    window = 1000  # lines EC2 keeps, standing in for its 64 KB
    seen: list[str] = []
    previous: list[str] = []
    for end in range(200, 3001, 350):  # polls while the console grows and the window slides
        current = console[max(0, end - window) : end]
        seen += new_lines(previous, current)
        previous = current
    assert seen == console


def test_a_64_kb_window_cut_by_bytes_yields_each_line_once() -> None:
    # EC2 keeps the console's last 64 KB, cut by bytes: a full window starts mid-line
    # (sometimes mid-character), a fragment that no earlier window holds as a line.
    console = [f"[{n:8d}] boot step {n}: caf\u00e9 {'x' * (n % 37)}" for n in range(2500)]
    text = "".join(line + "\n" for line in console).encode()
    ends = [0]
    for line in console:
        ends.append(ends[-1] + len(line.encode()) + 1)
    seen: list[str] = []
    previous: list[str] = []
    for end in [*range(1, 1500, 97), *range(1500, 2501), 2500]:  # a line a poll, then idle
        data = text[: ends[end]][-WINDOW_BYTES:]
        raw = base64.b64encode(data).decode()
        current = window_lines(decode_output(raw))
        seen += new_lines(previous, current)
        previous = current or previous
    assert seen == console


def test_a_fragment_first_line_is_skipped_when_matching() -> None:
    previous = ["alpha", "beta", "gamma"]
    assert new_lines(previous, ["ta", "gamma", "delta"]) == ["delta"]


def test_repeated_lines_are_not_mistaken_for_the_overlap() -> None:
    previous = ["a", "tick", "tick"]
    current = ["tick", "tick", "b", "tick"]  # "a" slid out; "b" and a new tick appeared
    assert new_lines(previous, current) == ["b", "tick"]


def test_a_partial_last_line_waits_for_its_newline() -> None:
    assert complete_lines("one\ntwo\nthr") == ["one", "two"]
    assert complete_lines("one\r\ntwo\n") == ["one", "two"]


def test_output_is_base64_as_ec2_sends_it() -> None:
    text = "freshfleet-boot 2026-11-27T10:00:00Z fetch start\n"
    assert decode_output(base64.b64encode(text.encode()).decode()) == text
    assert decode_output(None) == ""
