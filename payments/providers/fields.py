"""Reading what a provider sent, strictly: a value of the wrong type or shape is malformed, never a crash.

Notifications are posted by anyone, and even a validly signed body is only trusted once its
shape is right. Each reader raises MalformedField (a ValueError); a notification parser turns it
into NotificationRejected (400), a parser of an answer to our own call into ProviderError.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Collection, Mapping
from typing import Any


class MalformedField(ValueError):
    pass


def text(fields: Mapping[str, Any], name: str, *, required: bool = True) -> str:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise MalformedField(f"missing {name}")
        return ""
    if not isinstance(value, str):
        raise MalformedField(f"{name} is not text")
    if "\x00" in value:
        raise MalformedField(f"{name} holds a NUL character")
    return value


def choice(fields: Mapping[str, Any], name: str, choices: Collection[str]) -> str:
    value = text(fields, name)
    if value not in choices:
        raise MalformedField(f"unknown {name}")
    return value


def whole_number(fields: Mapping[str, Any], name: str, *, required: bool = True) -> int | None:
    """A non-negative JSON integer (not a boolean, not a float, not text)."""
    value = fields.get(name)
    if value is None:
        if required:
            raise MalformedField(f"missing {name}")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedField(f"{name} is not a whole number")
    return value


def mapping(fields: Mapping[str, Any], name: str, *, required: bool = True) -> Mapping[str, Any]:
    value = fields.get(name)
    if value is None:
        if required:
            raise MalformedField(f"missing {name}")
        return {}
    if not isinstance(value, dict):
        raise MalformedField(f"{name} is not an object")
    return value


def moment(
    fields: Mapping[str, Any],
    name: str,
    parse: Callable[[str], datetime.datetime],
    *,
    required: bool = True,
) -> datetime.datetime | None:
    """A point in time; `parse` turns the provider's text into an aware datetime or raises ValueError."""
    value = text(fields, name, required=required)
    if not value:
        return None
    try:
        parsed = parse(value)
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            raise MalformedField(f"{name} has no time zone")
        parsed.astimezone(datetime.UTC)  # what the database stores; 0001-01-01+08:00 has no UTC
    except (ValueError, OverflowError) as exc:
        raise MalformedField(f"{name} is not a time") from exc
    return parsed


def storable(raw: dict[str, Any]) -> dict[str, Any]:
    """What we keep of a body; refused when PostgreSQL's jsonb could not store it (a NUL anywhere)."""
    try:
        nul = _holds_nul(raw)
    except RecursionError as exc:
        raise MalformedField("nested too deeply") from exc
    if nul:
        raise MalformedField("a NUL character")
    return raw


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    return False
