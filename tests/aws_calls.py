"""Every AWS operation the test suite performs, and the role that performs it (IAM coverage).

A pytest plugin: load it from `tests/conftest.py` with `pytest_plugins = ("aws_calls",)`.
At session start it wraps botocore's client constructor so every client made afterwards —
the gateway's aiobotocore clients and the boot agent's boto3 clients alike — gets a
`before-call` handler. Each call is attributed by the innermost frame of ours that made it:

- `bootscript.*` -> the **agent** (checked against `iam/instance-role.json`);
- `rollout.*` / `console.*` -> the **engine** (checked against `iam/deployer.json`);
- `localaws.*`, tests, moto and botocore themselves -> not ours to grant: not recorded.

Calls are appended as JSON lines to `aws-calls.jsonl` in the session's base tmp dir (or to
the file `RECORD_AWS_CALLS` names). At session end the plugin checks them against the
policies and fails the run, naming each operation a policy lacks, so a new AWS call cannot
land without its policy change. `RECORD_AWS_CALLS=off` turns it all off.

The agent in a localaws child process (real boot mode) runs out of reach of this hook:
`tests/iam/test_policy_coverage.py` drives the agent's AWS calls in-process instead.
"""

from __future__ import annotations

import fnmatch
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ENV = "RECORD_AWS_CALLS"  # not FRESHFLEET_*: those are configuration keys
POLICY_DIR = Path(__file__).resolve().parents[1] / "iam"
ENGINE = "engine"
AGENT = "agent"
# The policy each role's calls must be within.
POLICY_OF = {ENGINE: "deployer", AGENT: "instance-role"}

# API operations whose IAM action has another name.
_ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:CreateMultipartUpload": "s3:PutObject",
    "s3:UploadPart": "s3:PutObject",
    "s3:CompleteMultipartUpload": "s3:PutObject",
}
_SKIP_MODULES = ("botocore", "aiobotocore", "boto3", "asyncio", "rollout.aws.gateway", "aws_calls")

# Permissions AWS checks without an API call of ours, listed by hand with the reason.
BY_HAND: dict[str, dict[str, str]] = {
    "deployer": {
        "iam:PassRole": "CreateAutoScalingGroup with a launch template that names an instance "
        "profile checks that the caller may pass its role to EC2",
        "ec2:RunInstances": "the ASG launches instances on our behalf; AWS checks the caller's "
        "right to run the launch template at CreateAutoScalingGroup/UpdateAutoScalingGroup",
        "ec2:CreateTags": "instances are launched with the ASG's propagated tags "
        "(and `init` tags security groups and the launch template on create)",
        "iam:CreateServiceLinkedRole": "the first ALB and the first ASG of an account create "
        "their service-linked roles on the caller's authority",
    },
    "instance-role": {
        "kms:Decrypt": "SSM decrypts SecureString parameters with the instance role's "
        "permission when the agent reads them with WithDecryption",
    },
}


@dataclass(frozen=True, slots=True)
class AwsCall:
    """One recorded call: the role that made it, the IAM action, and the module that asked."""

    role: str
    action: str
    where: str = ""

    def as_line(self) -> str:
        return json.dumps({"role": self.role, "action": self.action, "where": self.where})


def iam_action(signing_name: str, operation: str) -> str:
    """The IAM action an API operation needs: `elasticloadbalancing:ModifyListener`."""
    # CloudWatch signs as `monitoring` but its IAM actions are `cloudwatch:*`.
    prefix = {"monitoring": "cloudwatch"}.get(signing_name, signing_name)
    action = f"{prefix}:{operation}"
    return _ACTION_OF.get(action, action)


def role_of(frame: FrameType | None) -> tuple[str, str] | None:
    """(role, module) of the innermost frame of ours on the stack, or None when not ours."""
    via_gateway = False
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        via_gateway = via_gateway or module == "rollout.aws.gateway"
        if not module.startswith(_SKIP_MODULES):
            if module.startswith("bootscript"):
                return AGENT, module
            if module.startswith(("rollout", "console")):
                return ENGINE, module
            if module.startswith("localaws"):
                return None
            if module and module.split(".")[0] not in sys.stdlib_module_names:
                return None  # a test, moto or a fixture talking to AWS directly
        frame = frame.f_back
    # The gateway's sweeps run on a worker thread, whose stack ends at the gateway.
    return (ENGINE, "rollout.aws.gateway") if via_gateway else None


class Recorder:
    """Appends each AWS call of ours to a JSON-lines file (one line per distinct call)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[AwsCall] = set()
        self._lock = threading.Lock()

    def before_call(self, model: Any = None, **_: Any) -> None:
        if model is None:
            return
        found = role_of(sys._getframe(1))
        if found is None:
            return
        role, where = found
        call = AwsCall(role, iam_action(model.service_model.signing_name, model.name), where)
        with self._lock:
            if call in self._seen:
                return
            self._seen.add(call)
            with self.path.open("a") as f:
                f.write(call.as_line() + "\n")

    def calls(self) -> list[AwsCall]:
        return read_calls(self.path)


def read_calls(path: Path) -> list[AwsCall]:
    """The distinct calls recorded in a file (none when it does not exist)."""
    if not path.exists():
        return []
    seen: dict[tuple[str, str], AwsCall] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            raw = json.loads(line)
            seen.setdefault((raw["role"], raw["action"]), AwsCall(**raw))
    return list(seen.values())


# --- installing the hook on every botocore client -------------------------------------

_recorders: list[Recorder] = []
_installed = False


def _install_hook() -> None:
    """Wrap BaseClient.__init__ once: each new client gets a handler that fans out."""
    global _installed
    if _installed:
        return
    from botocore.client import BaseClient

    original: Callable[..., None] = BaseClient.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.meta.events.register("before-call", _fan_out, unique_id="freshfleet-aws-calls")

    BaseClient.__init__ = __init__  # type: ignore[method-assign]
    _installed = True


def _fan_out(**kwargs: Any) -> None:
    for recorder in [_exclusive[-1]] if _exclusive else list(_recorders):
        recorder.before_call(**kwargs)


_exclusive: list[Recorder] = []


@contextmanager
def recording(path: Path, *, exclusive: bool = False) -> Iterator[Recorder]:
    """Record the AWS calls of clients created from now on into `path` during the block.

    `exclusive` hides the block's calls from every other recorder (the session's too): for
    calls made on purpose outside the policies.
    """
    _install_hook()
    recorder = Recorder(path)
    _recorders.append(recorder)
    if exclusive:
        _exclusive.append(recorder)
    try:
        yield recorder
    finally:
        _recorders.remove(recorder)
        if exclusive:
            _exclusive.remove(recorder)


# --- checking calls against the policies ----------------------------------------------


def policy_actions(policy: str, policy_dir: Path = POLICY_DIR) -> list[str]:
    """The actions a policy document allows, wildcards as written."""
    doc = json.loads((policy_dir / f"{policy}.json").read_text())
    actions: list[str] = []
    for statement in doc["Statement"]:
        if statement.get("Effect") == "Allow":
            listed = statement["Action"]
            actions.extend([listed] if isinstance(listed, str) else listed)
    return actions


def allows(actions: Iterable[str], action: str) -> bool:
    """IAM's action match: case-insensitive, `*` and `?` wildcards."""
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions)


def missing_from_policies(calls: Iterable[AwsCall], policy_dir: Path = POLICY_DIR) -> list[AwsCall]:
    """The calls whose role's policy does not allow their action."""
    cache: dict[str, list[str]] = {}
    missing: list[AwsCall] = []
    for call in calls:
        policy = POLICY_OF[call.role]
        if policy not in cache:
            cache[policy] = policy_actions(policy, policy_dir)
        if not allows(cache[policy], call.action):
            missing.append(call)
    return sorted(missing, key=lambda c: (c.role, c.action))


def describe_missing(missing: Iterable[AwsCall]) -> str:
    return "\n".join(
        f"  {c.action} (by {c.role} in {c.where}): add it to iam/{POLICY_OF[c.role]}.json"
        for c in missing
    )


# --- the pytest plugin ----------------------------------------------------------------

_session_recording: Any = None
_session_recorder: Recorder | None = None


def _enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no", "false")


def pytest_sessionstart(session: Any) -> None:
    global _session_recording, _session_recorder
    if not _enabled():
        return
    named = os.environ.get(ENV, "")
    if named and named.lower() not in ("on", "1", "yes", "true"):
        path = Path(named)
    else:
        path = session.config._tmp_path_factory.getbasetemp() / "aws-calls.jsonl"
    _session_recording = recording(path)
    _session_recorder = _session_recording.__enter__()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    global _session_recording, _session_recorder
    recorder = _session_recorder
    if _session_recording is None or recorder is None:
        return
    _session_recording.__exit__(None, None, None)
    _session_recording, _session_recorder = None, None
    missing = missing_from_policies(recorder.calls())
    if not missing:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    text = (
        f"IAM coverage: {len(missing)} AWS operation(s) made by the suite are missing from "
        f"the policies (calls recorded in {recorder.path}):\n{describe_missing(missing)}"
    )
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "IAM policy coverage", red=True)
        reporter.write_line(text)
    else:
        sys.stderr.write(text + "\n")
    if session.exitstatus == 0:
        session.exitstatus = 1
