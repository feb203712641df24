"""GPU taxonomy, the normaliser from raw GPU names to canonical ones, and GPU names in prose.

The taxonomy is data (``gpus.csv`` beside this module): canonical name, vendor, family, form
factor, memory, TDP (board power), the highest board power of any variant the name could mean
(``power_ceiling_w``, used to flag figures above what the hardware can draw), and aliases.

Names are compared as token sequences: lower case, punctuation dropped, letters and digits split
("A100-SXM4-40GB" -> a 100 sxm 4 40 gb), vendor words dropped. The longest alias found as a run of
tokens wins, so "H100 80GB HBM3" is an H100 SXM while "H100 80GB" stays an H100 of unknown form.
A run must be a name of its own: it starts a word and is not glued to more letters ("p4d" is an
AWS instance, not a P4), except a plural "s" or a memory size ("A100s", "L40S48GB").
An alias that names its vendor ("tesla p4") is matched with the vendor words kept: short names
that mean other things when bare (P4, A2, A16) are only recognised next to their vendor.
A name that is only a GeForce model number ("4090", "3090 Ti", "1660 super") is that card.

Unknown names are never guessed: their spec is None and the raw name is what the record keeps.

TPUs: named by generation ("TPU v3-8", "TPUv4", "TPU VM v3-8") they have catalogue rows of their own
(vendor Google, no TDP: Google publishes no per-chip board power), so a record on a TPU says which
one; a bare "TPU" or "v4-64 TPU" is a mention whose spec is None, so a figure next to it keeps the
TPU's raw name instead of borrowing a GPU named elsewhere.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final

_VENDOR_TOKENS: Final = {"nvidia", "geforce", "tesla", "quadro", "amd", "radeon"}
_NOISE_TOKENS: Final = _VENDOR_TOKENS | {"gpu", "gpus", "graphics", "card", "cards"}
# Letters that may stick to a model number without making it another name: a plural, a memory size.
_GLUED_SUFFIXES: Final = {"s", "gb"}
_SPELLED_COUNTS: Final = {"single": 1, "two": 2, "dual": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                   "seven": 7, "eight": 8}
_SPELLED_COUNT: Final = "|".join(_SPELLED_COUNTS)
# "8x A100", "384 A100 80GB GPUs", "two RTX 4060 Ti". Without an "x", a number followed by a
# suffix word is the model number itself ("3090 Ti", "4090s", "4080 Laptop"), not a count.
_LEADING_COUNT_RE: Final = re.compile(
    rf"^\s*(?:(?P<count>\d{{1,5}})\s*(?:(?:x|×|\*)\s*(?=\w)"
    r"|(?=[A-Za-z])(?!(?:gb|tb|ti|super|s|gpus?|cards?|laptop|mobile|x)\b))"
    rf"|(?P<spelled>{_SPELLED_COUNT})\s+)",
    re.IGNORECASE,
)
# "A100 x 8": the x stands apart, so model names such as "Tesla X900" are not counts; or the x
# follows the model number ("T4x2", "RTX 3090 x2", as Kaggle names its accelerators).
_TRAILING_COUNT_RE: Final = re.compile(
    r"(?:\s+(?:x|×|\*)\s+(?P<count>\d{1,5})|(?<=\d)\s?(?:x|×)(?P<glued>\d{1,2}))\s*$", re.IGNORECASE
)


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


@dataclass(frozen=True)
class _Tokens:
    """A name's tokens and, for each, whether it starts a word (False: glued to the one before)."""

    words: tuple[str, ...]
    starts: tuple[bool, ...]

    def without(self, dropped: set[str]) -> _Tokens:
        kept = [(w, s) for w, s in zip(self.words, self.starts) if w not in dropped]
        return _Tokens(tuple(w for w, _ in kept), tuple(s for _, s in kept))

    def contains(self, needle: tuple[str, ...]) -> bool:
        """Whether the needle is a run of whole tokens: a word start, not glued to more letters."""
        width, length = len(needle), len(self.words)
        for i in range(length - width + 1):
            if self.words[i: i + width] != needle or not self.starts[i]:
                continue
            after = i + width
            if (after == length or self.starts[after] or self.words[after].isdigit()
                    or self.words[after] in _GLUED_SUFFIXES):
                return True
        return False


def _tokenise(name: str) -> _Tokens:
    words, starts = [], []
    for word in re.split(r"[^a-z0-9]+", name.lower()):
        for index, token in enumerate(re.findall(r"[a-z]+|\d+", word)):
            words.append(token)
            starts.append(index == 0)
    return _Tokens(tuple(words), tuple(starts))


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
def _alias_index() -> tuple[tuple[tuple[str, ...], bool, GpuSpec], ...]:
    """(alias tokens, whether the alias names its vendor, spec), longest aliases first."""
    entries = []
    for spec in taxonomy():
        for alias in spec.aliases:
            tokens = _tokenise(alias).without(_NOISE_TOKENS - _VENDOR_TOKENS).words
            entries.append((tokens, bool(_VENDOR_TOKENS.intersection(tokens)), spec))
    return tuple(sorted(entries, key=lambda entry: -len(entry[0])))


@lru_cache(maxsize=1)
def _geforce_numbers() -> dict[tuple[str, ...], GpuSpec]:
    """'RTX 3090 Ti' -> {('3090', 'ti'): RTX 3090 Ti}: GeForce names without their RTX or GTX."""
    return {
        tokens[1:]: spec
        for tokens, _, spec in _alias_index()
        if len(tokens) > 1 and tokens[0] in ("rtx", "gtx") and re.fullmatch(r"\d{4}", tokens[1])
    }


def spec_for(canonical: str) -> GpuSpec | None:
    """The taxonomy row of a canonical name."""
    return next((spec for spec in taxonomy() if spec.canonical == canonical), None)


def split_count(raw: str) -> tuple[int | None, str]:
    """'384 A100 80GB GPUs' -> (384, 'A100 80GB GPUs'); 'two RTX 4060 Ti' -> (2, 'RTX 4060 Ti');
    'T4x2' -> (2, 'T4'); '1 x NVIDIA A100' -> (1, 'NVIDIA A100')."""
    match = _LEADING_COUNT_RE.match(raw)
    if match:
        count = int(match["count"]) if match["count"] else _SPELLED_COUNTS[ascii_lower(match["spelled"])]
        return count, raw[match.end():]
    match = _TRAILING_COUNT_RE.search(raw)
    if match:
        return int(match["count"] or match["glued"]), raw[: match.start()]
    return None, raw


def _lookup(name: str) -> GpuSpec | None:
    tokens = _tokenise(name)
    without_vendor = tokens.without(_NOISE_TOKENS)
    with_vendor = tokens.without(_NOISE_TOKENS - _VENDOR_TOKENS)
    for alias_tokens, names_vendor, spec in _alias_index():
        if alias_tokens and (with_vendor if names_vendor else without_vendor).contains(alias_tokens):
            return spec
    words = without_vendor.words
    if words[-1:] == ("s",):  # "3090s"
        words = words[:-1]
    return _geforce_numbers().get(words)


@lru_cache(maxsize=4096)
def normalise_gpu(raw: str) -> GpuMatch:
    """Read a raw GPU name: canonical spec (or None when unknown) and the GPU count it states."""
    count, name = split_count(raw)
    return GpuMatch(raw=raw, spec=_lookup(name), count=count)


# The letters a case-blind pattern matches for an ASCII letter besides its two cases: "İ" and "ı"
# for i, "ſ" for s, the Kelvin sign for k (tests/test_gpus.py checks every character).
FOLDED_LETTERS: Final = {"i": "\u0130\u0131", "s": "\u017f", "k": "\u212a"}
_TO_ASCII_LETTERS: Final = {ord(letter): ascii_letter for ascii_letter, letters in FOLDED_LETTERS.items() for letter in letters}


def ascii_lower(word: str) -> str:
    """A word a case-blind pattern matched, in the lower-case ASCII letters it was matched as:
    "ſix" is "six" ("ſix".lower() stays "ſix", and "İ".lower() is two characters)."""
    return word.translate(_TO_ASCII_LETTERS).lower()


def case_blind_first(word: str) -> str:
    """The word as a case-blind pattern does, its first letter as a case-sensitive class: the
    engine then passes over it in one test where the text starts with another letter (in a
    case-blind alternation it enters every alternative)."""
    first = word[0].lower()
    return f"(?-i:[{first}{first.upper()}{FOLDED_LETTERS.get(first, '')}]){re.escape(word[1:])}"


def _one_of(*words: str) -> str:
    """A case-blind alternation of words, each starting with a case-sensitive class (case_blind_first)."""
    return "(?:" + "|".join(map(case_blind_first, words)) + ")"


# Mentions in prose. Every repetition is bounded and each repeated part starts with a fixed word,
# so a run of "NVIDIA NVIDIA ..." costs a few steps per position, not a rescan of the run.
# Each alternative starts with a class (a word's first letter by case_blind_first, "\d\d{0,2}" for
# "\d{1,3}"), which the engine tests before entering it; a case-blind letter or a repeat first is
# entered at every try.
_MAKER_WORDS: Final = ("NVIDIA", "Tesla", "GeForce", "Quadro", "AMD", "Instinct", "Radeon", "Intel", "Habana", "GPU")
_LETTER: Final = f"(?-i:[A-Za-z{''.join(FOLDED_LETTERS.values())}])"  # what [A-Z] matches case-blind
_COUNT_BEFORE: Final = rf"(?:\d\d{{0,3}}\s*[x×]\s*|{_one_of(*_SPELLED_COUNTS)}\s+)"
_COUNT_AFTER: Final = r"(?:(?:\s?[x×]\d{1,2}|\s[x×]\s\d{1,3})(?!\w|\.\d))"
_MODEL: Final = (
    rf"(?:{case_blind_first('RTX')}[\s_-]?(?:A|PRO[\s_-]?)?\d{{4}}|{case_blind_first('GTX')}[\s_-]?\d{{3,4}}"
    rf"|{case_blind_first('Titan')}[\s_-]+(?:RTX|V)|{case_blind_first('RX')}[\s_-]?\d{{4}}|{case_blind_first('Gaudi')}[\s_-]?\d"
    rf"|{case_blind_first('Jetson')}(?:[\s_-]+(?:AGX|Orin|Xavier)){{1,2}}|{case_blind_first('AGX')}[\s_-]+(?:Orin|Xavier)"
    rf"|{_one_of('Orin', 'Xavier')}[\s_-]+(?:AGX|Nano|NX)|{_LETTER}{_LETTER}?\d{{1,4}}[A-Z]{{0,2}})"
)
_MODEL_SUFFIX: Final = (
    rf"(?:[\s_-]+(?:{case_blind_first('SXM')}\d?|{case_blind_first('PCIe')}|{case_blind_first('NVL')}\d*"
    rf"|{case_blind_first('HBM')}\d?e?|{case_blind_first('GDDR')}\d\w?|\d\d{{0,2}}\s?Gi?B?"
    rf"|{_one_of('Ti', 'Super', 'SFF')}|{case_blind_first('XT')}X?|{_one_of('Max-Q', 'Laptop', 'Mobile')}"
    rf"|{case_blind_first('Ada')}(?:[\s_]Generation)?|{_one_of('Nano', 'NX')})"
    r"|\s*\((?:HBM\d?e?|GDDR\d\w?)\))"
)
_MENTION: Final = (
    # Google TPUs: "TPU v3-8", "TPUv4", "Cloud TPU v5e", "v4-64 TPU", "TPUs".
    rf"(?:(?P<tpu>(?:{case_blind_first('TPU')}[\s_-]?v\d[a-z]?(?:-\d{{1,4}})?|{case_blind_first('v')}\d[a-z]?-\d{{1,4}}\s+TPU"
    rf"|{case_blind_first('TPU')})s?)"
    rf"|(?P<gpu>{_COUNT_BEFORE}?(?:{_one_of(*_MAKER_WORDS)}[\s_]+){{0,3}}{_MODEL}{_MODEL_SUFFIX}{{0,6}}{_COUNT_AFTER}?))"
    r"(?![A-Za-z0-9])"
)


def _first_letter_trie(words: tuple[tuple[str, str], ...]) -> list[str]:
    """(word, what follows it) -> alternatives by first letter, that letter in each case a literal."""
    by_first: dict[str, list[str]] = {}
    for word, after in words:
        by_first.setdefault(word[0], []).append(re.escape(word[1:]) + after)
    return [f"(?-i:{variant})(?:{'|'.join(rests)})"
            for first, rests in by_first.items() for variant in (first, first.upper(), *FOLDED_LETTERS.get(first, ""))]


# What a mention starts with, as a lookahead tried at each word start before the alternatives of
# _MENTION: a count ("8x"), a model number ("A100", "v3"), or a word of one followed by what
# _MENTION needs after it ("NVIDIA ", "two ", "Titan-", "RTX"). Every match of _MENTION starts with
# one of these, so the lookahead only skips words where _MENTION would fail; most words start
# none, and one literal test per first letter passes over them. A model number's letters are
# "L(?:\d|L\d)", not "LL?\d": the same words, without an optional repeat's backtracking at
# every word; the count's digits and spaces are read possessively (what follows a shorter run is
# a digit or a space, never the "x" after it).
_MENTION_STARTS: Final = "(?=" + "|".join([
    r"\d\d{0,3}+\s*+[x×]", rf"{_LETTER}(?:\d|{_LETTER}\d)", *_first_letter_trie((
        *((word.lower(), r"[\s_]") for word in _MAKER_WORDS), *((word, r"\s") for word in _SPELLED_COUNTS),
        ("tpu", ""), ("rtx", ""), ("gtx", ""), ("rx", ""), ("gaudi", ""),
        *((word, r"[\s_-]") for word in ("titan", "jetson", "agx", "orin", "xavier"))))]) + ")"
# A mention starts where [A-Za-z0-9] (case-blind) does not match the character before it. The
# search is for that character (a class first: the engine skips to it at C speed, where a
# lookbehind first is tried at every position), in the text after a space that stands for its
# start (see _mentions_in_windows).
_NOT_WORD_CHAR: Final = f"(?-i:[^A-Za-z0-9{''.join(FOLDED_LETTERS.values())}])"
_MENTION_AFTER_EDGE_RE: Final = re.compile(_NOT_WORD_CHAR + _MENTION_STARTS + _MENTION, re.IGNORECASE)
# A GeForce model number on its own ("my 5090", "dual 3090s", "2x 3090", "a 1080 Ti") is a card
# only when the words around it say so: an article or count before it, or Ti/Super/s/GPU/card
# after it. "4090 tokens" or "in 2080 steps" stay numbers.
_BARE_GEFORCE_RE: Final = re.compile(
    r"(?<![\w.,])(?:(?P<article>my|an?|the)\s+)?"
    r"(?P<gpu>(?P<count>" + _COUNT_BEFORE + r")?\d{4}"
    r"(?P<suffix>(?:\s?(?:Ti|Super)|\s(?:Laptop|Mobile))?(?:s|\s(?:GPU|card)s?)?))"
    r"(?![\w.,]\d|\w)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class GpuMention:
    match: GpuMatch
    start: int
    end: int


# Every mention holds a model number: a letter then a digit, perhaps with a space or dash between
# ("A100", "RTX 4090", "TPUv3", "MI300X", "Gaudi 2"), or is one of the few names without one
# ("Titan V", "Jetson AGX Orin", "TPUs"); a bare GeForce number is four digits ("my 5090"). The
# full patterns (case-blind alternations, a few MB/s) run only in windows around those anchors:
# a mention starts at most MENTION_LEAD characters before its model number (a count and three
# maker words) and ends at most MENTION_TAIL after it (six suffixes and a count).
# The anchor patterns start with a digit's class, which the engine scans for at C speed (an
# alternation or a repeat first is entered at every position).
_MODEL_DIGIT_RE: Final = re.compile(r"[0-9](?:(?<=[A-Za-z][0-9])|(?<=[A-Za-z][\s_-][0-9]))")
_NAMES_WITHOUT_DIGITS: Final = ("tpu", "titan", "jetson", "orin", "xavier", "agx")
_FOUR_DIGITS_RE: Final = re.compile(r"[0-9][0-9]{3}")
MENTION_LEAD, MENTION_TAIL = 80, 200


def _mention_windows(text: str) -> list[tuple[int, int]]:
    """Merged (start, end) spans of the text that can hold a mention, in order (an end may pass
    the end of the text)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # lower() changed the length ("İ"): positions would be off
        return [(0, len(text))]
    if len(text) <= MENTION_TAIL:
        # Every anchor's window reaches the end of the text, so they merge into one from the first
        # anchor: only that one is looked for, and a name only before a digit too far to start at 0.
        digit = _MODEL_DIGIT_RE.search(text)
        if digit and digit.start() <= MENTION_LEAD:
            return [(0, len(text))]
        names = [found for found in map(lowered.find, _NAMES_WITHOUT_DIGITS) if found >= 0]
        anchors = [digit.start(), *names] if digit else names
        return [(max(0, min(anchors) - MENTION_LEAD), len(text))] if anchors else []
    anchors = [m.start() for m in _MODEL_DIGIT_RE.finditer(text)]
    for name in _NAMES_WITHOUT_DIGITS:
        found = lowered.find(name)
        while found >= 0:
            anchors.append(found)
            found = lowered.find(name, found + 1)
    windows: list[tuple[int, int]] = []
    for anchor in sorted(anchors):
        start, end = max(0, anchor - MENTION_LEAD), anchor + MENTION_TAIL
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def _mentions_in_windows(text: str):
    """(start, end, whether a TPU) of each mention a search of the windows in turn finds, the
    search going on from the end of the last mention (as finditer over each window would)."""
    # The match starts with the character before the mention, at position p of "padded" for a
    # mention at p of the text; the space stands for the start of the text.
    padded = " " + text
    searched_to = 0
    for start, end in _mention_windows(text):
        at, end = max(start, searched_to), min(end, len(text))
        while found := _MENTION_AFTER_EDGE_RE.search(padded, at, end + 1):
            searched_to = at = found.end() - 1
            yield found.start(), at, found["tpu"] is not None


def find_gpus(text: str) -> list[GpuMention]:
    """Every known GPU, and every TPU, named in free text, in order ("on an H100 PCIe",
    "8x A100-SXM4-80GB", "my 4090"). A TPU mention has spec None (see the module docstring)."""
    mentions = []
    for start, end, is_tpu in _mentions_in_windows(text):
        match = normalise_gpu(text[start:end].strip())
        if match.spec is not None or is_tpu:
            mentions.append(GpuMention(match, start, end))
    for found in _BARE_GEFORCE_RE.finditer(text) if _FOUR_DIGITS_RE.search(text) else ():
        if not (found["article"] or found["count"] or found["suffix"]):
            continue
        if any(m.start < found.end("gpu") and found.start("gpu") < m.end for m in mentions):
            continue
        match = normalise_gpu(found["gpu"])
        if match.spec is not None:
            mentions.append(GpuMention(match, found.start("gpu"), found.end("gpu")))
    return sorted(mentions, key=lambda mention: mention.start)
