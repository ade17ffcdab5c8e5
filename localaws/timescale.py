"""localaws's one clock: AWS's own timings, `time_scale` times as long (docs/ARCHITECTURE.md §7).

Every wait localaws plays for AWS (health-check intervals and timeouts, deregistration delays,
an instance's pending time and boot phases, grace periods, consistency windows) is written in
AWS's seconds and passes through `scaled()`, so their ratios are AWS's: at a scale of 0.1 a
target group's 5 × 30 s checks take 15 s, its 300 s deregistration delay 30 s.
The process sets the scale once at start (`--time-scale`, config `localaws.time_scale`).
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_scale = 1.0


def set_time_scale(scale: float) -> None:
    """Make every later `scaled()` use `scale` (> 0; 1.0 is AWS's own pace)."""
    global _scale
    if not scale > 0:
        raise ValueError(f"the time scale must be above 0, got {scale!r}")
    with _lock:
        _scale = float(scale)


def time_scale() -> float:
    """The scale in use (1.0 until `set_time_scale`)."""
    return _scale


def scaled(aws_seconds: float) -> float:
    """Local seconds for `aws_seconds` of AWS's time."""
    return float(aws_seconds) * _scale
