"""Spider arguments (-a name=value), parsed and checked up front so a bad one is a clear error."""

from __future__ import annotations

from scrapy.exceptions import UsageError


def list_argument(name: str, value, default: tuple[str, ...]) -> tuple[str, ...]:
    """'a,b , c' -> ('a', 'b', 'c'); None -> the default; '' -> () (nothing)."""
    if value is None:
        return tuple(default)
    if isinstance(value, (list, tuple)):
        items = value
    else:
        items = str(value).split(",")
    return tuple(item.strip() for item in items if item.strip())


def positive_int_argument(name: str, value, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise UsageError(f"-a {name}={value!r}: expected a whole number of 1 or more")
    return number
