"""IAM's evaluation of one identity policy, for the parts freshfleet's policies use.

AWS's policy simulator needs an account; this evaluates `iam/*.json` locally so a test can
play an attack against the documents themselves. It follows IAM's documented logic
(reference_policies_evaluation-logic, reference_policies_elements_condition_operators):

- a request is allowed when an Allow statement matches and no Deny statement does;
- a statement matches when its Action (or NotAction) and Resource (or NotResource) match
  and every condition holds (operators AND, keys AND, a key's values OR);
- `${key}` policy variables in Resource and condition values take the request's value; a
  variable the request does not carry makes the statement not match;
- a single-valued operator on a key the request does not carry is false (`...IfExists` and
  negated operators: true); `ForAllValues:` on a missing or empty key is true, `ForAnyValue:`
  false;
  `Null: "true"` holds when the key is missing.

Keys are matched case-insensitively, as IAM does. An operator it does not know raises, so a
policy change it cannot judge fails loudly instead of passing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class Request:
    """One authorization: an action on a resource with its request context."""

    action: str
    resource: str
    context: Mapping[str, str | Sequence[str]] = field(default_factory=dict)

    def values(self, key: str) -> list[str] | None:
        """The context values of `key` (case-insensitive), None when the request has none."""
        for name, value in self.context.items():
            if name.lower() == key.lower():
                return [value] if isinstance(value, str) else list(value)
        return None


def allowed(policy: Mapping[str, Any], request: Request) -> bool:
    """Whether `policy` allows `request` (an explicit Deny wins over any Allow)."""
    matching = [s for s in _statements(policy) if _matches(s, request)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False
    return any(s.get("Effect") == "Allow" for s in matching)


def _statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    listed = policy.get("Statement", [])
    return [listed] if isinstance(listed, dict) else list(listed)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _glob(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's wildcard match: `*` any run of characters, `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _substitute(text: str, request: Request) -> str | None:
    """`text` with its policy variables replaced; None when the request lacks one."""
    missing = False

    def value(match: re.Match[str]) -> str:
        nonlocal missing
        got = request.values(match.group(1))
        if not got or len(got) != 1:  # multi-valued keys cannot be variables
            missing = True
            return ""
        return got[0]

    out = _VARIABLE.sub(value, text)
    return None if missing else out


def _matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(_glob(a, request.action, case=False) for a in _as_list(statement["Action"])):
            return False
    elif any(_glob(a, request.action, case=False) for a in _as_list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        patterns, inverted = _as_list(statement["Resource"]), False
    else:
        patterns, inverted = _as_list(statement["NotResource"]), True
    resolved = [_substitute(p, request) for p in patterns]
    hit = any(p is not None and _glob(p, request.resource) for p in resolved)
    if hit == inverted:
        return False
    return all(
        _holds(operator, key, expected, request)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def _holds(operator: str, key: str, expected: Any, request: Request) -> bool:
    have = request.values(key)
    wanted = [str(w) if not isinstance(w, bool) else str(w).lower() for w in _as_list(expected)]
    if operator == "Null":
        return (have is None) == (wanted[0].lower() == "true")
    qualifier, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    negated = "Not" in base
    compare = _COMPARE.get(base.replace("Not", "", 1))
    if compare is None or qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise NotImplementedError(f"condition operator {operator} is not evaluated here")
    patterns = [p for p in (_substitute(w, request) for w in wanted) if p is not None]

    def one(value: str) -> bool:
        return any(compare(p, value) for p in patterns) != negated

    if qualifier == "ForAllValues":
        return not have or all(one(v) for v in have)
    if qualifier == "ForAnyValue":
        return bool(have) and any(one(v) for v in have)
    if have is None:  # a negated operator on a missing key holds, as IAM documents
        return if_exists or negated
    if negated:  # a negated single-valued operator: no value matches any pattern
        return all(one(v) for v in have)
    return any(one(v) for v in have)


_COMPARE = {
    "StringEquals": lambda p, v: p == v,
    "StringEqualsIgnoreCase": lambda p, v: p.lower() == v.lower(),
    "StringLike": _glob,
    "ArnEquals": lambda p, v: p == v,
    "ArnLike": _glob,
    "Bool": lambda p, v: p.lower() == v.lower(),
}
