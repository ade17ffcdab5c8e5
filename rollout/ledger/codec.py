"""Plain Python values to DynamoDB attribute values and back (numbers as int or float), and
`Values`, the typed reads of an item's plain values every ledger reader goes through."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from rollout.ledger.timestamps import iso_seconds

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

# One value of an item as `from_item` gives it back; an item is a `dict[str, ItemValue]`.
ItemValue: TypeAlias = (
    "str | int | float | bool | list[ItemValue] | dict[str, ItemValue] | set[ItemValue] | None"
)

_SER = TypeSerializer()
_DES = TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [_from_dynamo(v) for v in value]
    return value


def attr(value: Any) -> AttributeValueTypeDef:
    """One attribute value (`{"S": ...}`, `{"N": ...}`, …)."""
    result: AttributeValueTypeDef = _SER.serialize(_to_dynamo(value))
    return result


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    """A whole item; None values are left out (DynamoDB has no use for them)."""
    return {k: attr(v) for k, v in values.items() if v is not None}


def from_item(item: Mapping[str, AttributeValueTypeDef]) -> dict[str, ItemValue]:
    """An item back as plain values: strings, int/float, bool, lists and dicts."""
    return {k: _from_dynamo(_DES.deserialize(v)) for k, v in item.items()}


class Values:
    """Typed reads of an item's plain values, tolerant of missing fields and old shapes: a
    missing (or None) field reads as the default."""

    def __init__(self, values: Mapping[str, ItemValue]) -> None:
        self.values = values

    def text(self, key: str, default: str = "") -> str:
        """The field as a string."""
        got = self.values.get(key)
        return default if got is None else str(got)

    def time(self, key: str) -> str:
        """A time field as the ledger's ISO string (epoch seconds converted); "" if absent."""
        got = self.values.get(key)
        if isinstance(got, int | float) and not isinstance(got, bool):  # epoch seconds
            return iso_seconds(datetime.fromtimestamp(got, UTC))
        return self.text(key)

    def number(self, key: str, default: int = 0) -> int:
        """The field as an int (the default for an empty or unreadable one)."""
        got = self.values.get(key)
        return as_int(got) if isinstance(got, int | float | str) and got != "" else default

    def seconds(self, key: str) -> float | None:
        """The field as a float; None when absent or empty."""
        got = self.values.get(key)
        return float(got) if isinstance(got, int | float | str) and got != "" else None

    def flag(self, key: str) -> bool:
        """The field's truth."""
        return bool(self.values.get(key))

    def map(self, key: str) -> Mapping[str, ItemValue]:
        """A map field ({} when absent or not a map)."""
        return as_map(self.values.get(key))

    def sequence(self, key: str) -> list[ItemValue]:
        """A list or set field ([] when absent or neither)."""
        got = self.values.get(key)
        return list(got) if isinstance(got, list | tuple | set) else []

    def maps(self, key: str) -> list[Mapping[str, ItemValue]]:
        """The maps of a list field."""
        return [m for m in self.sequence(key) if isinstance(m, Mapping)]


def as_map(value: ItemValue) -> Mapping[str, ItemValue]:
    """A value read as a map ({} when it is none)."""
    return value if isinstance(value, Mapping) else {}


def as_int(value: ItemValue) -> int:
    """A value read as an int (0 when it is not a number or a numeric string)."""
    return int(value) if isinstance(value, int | float | str) and value != "" else 0
