"""GPU taxonomy and the normaliser from raw GPU names to canonical ones.

The taxonomy is data (``gpus.csv`` beside this module): canonical name, vendor, family, form
factor, memory, TDP (board power), the highest board power of any variant the name could mean
(``power_ceiling_w``, used to flag figures above what the hardware can draw), and aliases.

Names are compared as token sequences: lower case, punctuation dropped, letters and digits split
("A100-SXM4-40GB" -> a 100 sxm 4 40 gb), vendor words dropped. The longest alias found as a run of
tokens wins, so "H100 80GB HBM3" is an H100 SXM while "H100 80GB" stays an H100 of unknown form.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_NOISE_TOKENS = {"nvidia", "geforce", "tesla", "quadro", "amd", "radeon", "gpu", "gpus", "graphics"}
_LEADING_COUNT_RE = re.compile(
    r"^\s*(?P<count>\d{1,5})\s*(?:x|×|\*)?\s*(?=[A-Za-z])(?!gb\b|tb\b|x\s*$)", re.IGNORECASE
)
# "A100 x 8": the x stands apart, so model names such as "Tesla X900" are not counts.
_TRAILING_COUNT_RE = re.compile(r"\s+(?:x|×|\*)\s+(?P<count>\d{1,5})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class GpuSpec:
    canonical: str
    vendor: str
    family: str
    form_factor: str | None
    memory_gb: float | None
    tdp_w: float | None
    power_ceiling_w: float | None
    aliases: tuple[str, ...]
    notes: str | None


@dataclass(frozen=True)
class GpuMatch:
    """A raw name read against the taxonomy: ``spec`` is None for an unknown GPU."""

    raw: str
    spec: GpuSpec | None
    count: int | None

    @property
    def canonical(self) -> str | None:
        return self.spec.canonical if self.spec else None


def _tokens(name: str) -> tuple[str, ...]:
    spaced = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", name.lower())
    return tuple(t for t in re.split(r"[^a-z0-9]+", spaced) if t and t not in _NOISE_TOKENS)


def _optional_float(text: str) -> float | None:
    return float(text) if text.strip() else None


@lru_cache(maxsize=1)
def taxonomy() -> tuple[GpuSpec, ...]:
    """Every GPU the project knows, as listed in gpus.csv."""
    table = resources.files(__package__).joinpath("gpus.csv").read_text(encoding="utf-8")
    return tuple(
        GpuSpec(
            canonical=row["canonical"],
            vendor=row["vendor"],
            family=row["family"],
            form_factor=row["form_factor"] or None,
            memory_gb=_optional_float(row["memory_gb"]),
            tdp_w=_optional_float(row["tdp_w"]),
            power_ceiling_w=_optional_float(row["power_ceiling_w"]),
            aliases=tuple(a.strip() for a in row["aliases"].split("|") if a.strip()),
            notes=row["notes"] or None,
        )
        for row in csv.DictReader(table.splitlines())
    )


@lru_cache(maxsize=1)
def _alias_index() -> tuple[tuple[tuple[str, ...], GpuSpec], ...]:
    """(alias tokens, spec), longest aliases first."""
    entries = [(_tokens(alias), spec) for spec in taxonomy() for alias in spec.aliases]
    return tuple(sorted(entries, key=lambda entry: -len(entry[0])))


def spec_for(canonical: str) -> GpuSpec | None:
    """The taxonomy row of a canonical name."""
    return next((spec for spec in taxonomy() if spec.canonical == canonical), None)


def _contains_run(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    width = len(needle)
    return any(haystack[i : i + width] == needle for i in range(len(haystack) - width + 1))


def split_count(raw: str) -> tuple[int | None, str]:
    """'384 A100 80GB GPUs' -> (384, 'A100 80GB GPUs'); '1 x NVIDIA A100' -> (1, 'NVIDIA A100')."""
    match = _LEADING_COUNT_RE.match(raw)
    if match:
        return int(match["count"]), raw[match.end():]
    match = _TRAILING_COUNT_RE.search(raw)
    if match:
        return int(match["count"]), raw[: match.start()]
    return None, raw


@lru_cache(maxsize=4096)
def normalise_gpu(raw: str) -> GpuMatch:
    """Read a raw GPU name: canonical spec (or None when unknown) and the GPU count it states."""
    count, name = split_count(raw)
    tokens = _tokens(name)
    for alias_tokens, spec in _alias_index():
        if alias_tokens and _contains_run(tokens, alias_tokens):
            return GpuMatch(raw=raw, spec=spec, count=count)
    return GpuMatch(raw=raw, spec=None, count=count)


# A GPU name as it appears in prose: optional count and vendor words, a model number such as
# H100, A100, RTX 4090 or RTX A6000, then form-factor and memory words ("-SXM4-80GB", " PCIe",
# " 80GB HBM3", " Ada Generation"). Each candidate is then checked against the taxonomy.
_GPU_MENTION_RE = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?:\d{1,5}\s*(?:x|×)\s*)?"
    r"(?:(?:NVIDIA|Tesla|GeForce|Quadro|AMD|Instinct)[\s_]+)*"
    r"(?:RTX[\s_-]?A?\d{4}|[A-Z]{1,2}\d{1,4}[A-Z]{0,2})"
    r"(?:[\s_-]+(?:SXM\d?|PCIe|NVL|HBM\d?e?|\d{2,3}\s?GB|Ti|Super|SFF|Ada(?:[\s_]Generation)?))*"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GpuMention:
    match: GpuMatch
    start: int
    end: int


def find_gpus(text: str) -> list[GpuMention]:
    """Every known GPU named in free text, in order ("on an H100 PCIe", "8x A100-SXM4-80GB")."""
    mentions = []
    for found in _GPU_MENTION_RE.finditer(text):
        match = normalise_gpu(found.group(0).strip())
        if match.spec is not None:
            mentions.append(GpuMention(match, found.start(), found.end()))
    return mentions
