"""Plain Python values to DynamoDB attribute values and back (numbers as int or float)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

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
