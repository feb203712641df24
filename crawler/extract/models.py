"""Model names and sizes: 'TinyLlama-1.1B-Chat-v1.0' -> 1.1 (billions of parameters)."""

from __future__ import annotations

import re
from decimal import Decimal

# A size is a number with a B/M suffix standing alone between separators: "7b" in
# "Llama-2-7b-hf", not the "2" of "Llama-2" and not the "3B" of a mixture-of-experts "A3B" or
# "8x7B" (whose total size the name does not say).
_SIZE_IN_NAME_RE = re.compile(r"(?<![A-Za-z0-9.])(\d+(?:\.\d+)?)([BbMm])(?![A-Za-z0-9])")
_PARAM_COUNT_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KkMmBbTt])?\s*$")
_TO_BILLIONS = {"k": Decimal("1e-6"), "m": Decimal("1e-3"), "b": Decimal(1), "t": Decimal(1000)}


def params_from_name(name: str | None) -> float | None:
    """Parameters in billions from a model name or repo id, or None when the name does not say."""
    if not name:
        return None
    match = _SIZE_IN_NAME_RE.search(name.rsplit("/", 1)[-1])
    if not match:
        return None
    return float(Decimal(match[1]) * _TO_BILLIONS[match[2].lower()])


def params_from_count(text: str | int | float | None) -> float | None:
    """Parameters in billions from a count as datasets write it: '1.1B', '125M', 7000000000."""
    if text is None:
        return None
    if isinstance(text, (int, float)):
        return float(Decimal(str(text)) / Decimal(10**9)) if text > 0 else None
    match = _PARAM_COUNT_RE.match(text)
    if not match:
        return None
    value = Decimal(match[1])
    if match[2] is None:
        return float(value / Decimal(10**9)) if value >= 10**6 else None
    return float(value * _TO_BILLIONS[match[2].lower()])
