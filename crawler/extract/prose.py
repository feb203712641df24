"""Sentences and the small facts a sentence states besides its figures: batch size, GPU count.

"draws about 300 W per GPU on an H100 PCIe at batch size 8" states batch size 8; "on 2 x A100"
or "TP=2" or "GPU quantity: 2" states a GPU count. Which figure a sentence holds and what it is
are read by units and figure_roles; where its context comes from, by documents.
"""

from __future__ import annotations

import re
from typing import Final

from .gpus import ascii_lower, case_blind_first

# Sentence ends: after . ! ? before a capital or an opening bracket or quote, and line breaks
# ("(?<=[.!?])\s+(?=[A-Z(\"'\[*])|\n+"), written to start with the white space both start with:
# the engine then skips through the words at C speed instead of entering the pattern at each
# character.
_SENTENCE_END_RE: Final = re.compile(r"\s(?:(?<=[.!?]\s)\s*(?=[A-Z(\"'\[*])|(?<=\n)\n*)")
# Each pattern below is an alternation whose alternatives start with a case-sensitive class (a
# word's first letter, case_blind_first) or a digit: the engine tests each alternative's first
# character before entering it, so it passes over the other words of a sentence in a few tests.
# (\b after the \W each pattern starts with holds wherever a word character follows: it is left
# out.) A run of digits or of white space that the pattern reads whole is read possessively
# ("{1,5}+", "*+"): what may follow a shorter run (white space, "x", a letter, a word boundary)
# cannot be a digit (or white space), so giving characters back never finds a match, and the
# engine need not try.
def _first_letter_alternatives(words) -> str:
    """The words as alternatives grouped by first letter ("t" starts two, three): one test per letter."""
    grouped: dict[str, list[str]] = {}
    for word in words:
        grouped.setdefault(word[0], []).append(re.escape(word[1:]))
    return "|".join(f"{case_blind_first(first)}(?:{'|'.join(rests)})" for first, rests in grouped.items())


_BATCH: Final = (
    r"(?:" + case_blind_first("batch") + r"(?:[\s_-]?size)?(?:\s+of)?\s*(?:=|:)?\s*(\d{1,5}+)\b"
    r"|" + case_blind_first("bs") + r"\s*=\s*(\d{1,5}+)\b"
    r"|(\d{1,5}+)\s*(?:prompts|requests|sequences)?\s*per batch\b)"
)
_WORD_COUNTS: Final = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                "single": 1, "dual": 2}
_GPU_COUNT: Final = (
    r"(?:(\d{1,5}+|" + _first_letter_alternatives(_WORD_COUNTS) + r")\s*+(?:x\s*)?"
    r"(?:(?!per\b)[A-Za-z][\w-]{1,11}\s+){0,2}gpus?\b(?![- ]?hours?)"
    r"|" + case_blind_first("gpu") + r"\s*(?:quantity|count)\s*[:=]?\s*(\d{1,5})\b"
    r"|" + case_blind_first("t") + r"(?:p|ensor[- _]parallel(?:ism)?(?:[- _]size)?)\s*[=:]?\s*(\d{1,3})\b)"
)


# The patterns start with a digit or a letter, word characters, so they match only where a word
# starts (where "\b" would hold). They are searched for from the non-word character before the
# word (a class first, which the engine skips to at C speed; "\b" first is tried at every
# position), in the text after a space that stands for its start (_search_at_word_starts).
_BATCH_RE: Final = re.compile(r"\W" + _BATCH, re.IGNORECASE)
_GPU_COUNT_RE: Final = re.compile(r"\W" + _GPU_COUNT, re.IGNORECASE)


def _search_at_word_starts(pattern: re.Pattern, text: str) -> re.Match | None:
    """The pattern's first match in the text, whose groups are read (its positions are one on)."""
    return pattern.search(" " + text)


# A "sentence" longer than this (a pasted log on one line) is read in pieces of about this size,
# cut at white space, so the work per figure stays bounded.
MAX_SENTENCE_CHARS: Final = 1000


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence of a block's text."""
    found, start = [], 0
    for end in _SENTENCE_END_RE.finditer(text):
        found += _pieces(text, start, end.start())
        start = end.end()
    return found + _pieces(text, start, len(text))


def _pieces(text: str, start: int, end: int) -> list[tuple[int, str]]:
    pieces = []
    while end - start > MAX_SENTENCE_CHARS:
        cut = text.rfind(" ", start + MAX_SENTENCE_CHARS // 2, start + MAX_SENTENCE_CHARS)
        cut = cut if cut > start else start + MAX_SENTENCE_CHARS
        if text[start:cut].strip():
            pieces.append((start, text[start:cut]))
        start = cut
    if text[start:end].strip():
        pieces.append((start, text[start:end]))
    return pieces


def batch_size(text: str) -> int | None:
    match = _search_at_word_starts(_BATCH_RE, text)
    if not match:
        return None
    return int(next(group for group in match.groups() if group))


def gpu_count(text: str) -> int | None:
    """The number of GPUs a sentence says it ran on: "8 GPUs", "64 A100 GPUs", "GPU quantity: 2", "TP=4"."""
    match = _search_at_word_starts(_GPU_COUNT_RE, text)
    if not match:
        return None
    word = ascii_lower(next(group for group in match.groups() if group))
    count = _WORD_COUNTS.get(word) or int(word)
    return count if count > 0 else None
