"""What `freshfleet doctor` found: one `Check` per line, gathered in a `DoctorReport`."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from rollout.aws.gateway import Gateway
from rollout.config import Tables


class Verdict(enum.StrEnum):
    """A check's outcome. Only FAIL is red; the others keep `doctor` green."""

    OK = "ok"
    WARN = "warn"  # works, but something a user should know (e.g. not deployed yet)
    FAIL = "fail"
    UNAVAILABLE = "unavailable"  # the endpoint cannot answer this check (e.g. no simulator)
    SKIPPED = "skipped"  # an earlier failure makes this check meaningless


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the doctor's report."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""
    aws: bool = False  # a failure of AWS itself or of the credentials (exit 4), not of setup

    def as_dict(self) -> dict[str, Any]:
        """The check as `doctor --json` prints it: every field, the verdict as its string."""
        return {**asdict(self), "verdict": str(self.verdict)}


@dataclass(frozen=True, slots=True)
class DoctorReport:
    """Every check, in the order they ran."""

    app: str = ""
    role: str = "deployer"
    caller_arn: str = ""
    account: str = ""
    region: str = ""
    checks: tuple[Check, ...] = ()  # last: `as_dict` lists them after the rest

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.verdict is Verdict.FAIL)

    @property
    def green(self) -> bool:
        return not self.failed

    @property
    def aws_failed(self) -> bool:
        """True when an AWS or credentials check is red (exit 4 rather than 1)."""
        return any(c.aws for c in self.failed)

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)

    def as_dict(self) -> dict[str, Any]:
        """The report as `doctor --json` prints it: `green`, every field, then each check."""
        return {"green": self.green, **asdict(self), "checks": [c.as_dict() for c in self.checks]}


@dataclass
class Diagnosis:
    """The working state of one doctor run: what it checks and what it found so far."""

    gw: Gateway
    tables: Tables
    app: str | None
    role: str
    http_timeout: float
    checks: list[Check] = field(default_factory=list)
    caller_arn: str = ""
    account: str = ""
    region: str = ""
    instance_role_arn: str = ""  # the launch template's, for the iam:PassRole simulation

    def add(self, *args: Any, **kwargs: Any) -> Check:
        """Record a check (Check's arguments), in the order the checks run; returns it."""
        check = Check(*args, **kwargs)
        self.checks.append(check)
        return check

    def aws_failure(self, name: str, exc: Exception, fix: str = "") -> Check:
        """Record check `name` red for a failure of AWS itself or of the credentials: `exc`'s
        message, `fix` when there is one; such a check makes the doctor exit 4, not 1."""
        return self.add(name, Verdict.FAIL, str(exc), fix, aws=True)


def policy_fix(role: str) -> str:
    """The fix for missing permissions of a role."""
    return f"attach the policy in iam/{role}.json to the caller (see docs/REAL_AWS.md)"
