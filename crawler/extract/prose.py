"""Sentences that state a power or energy figure with its context -> one record per figure.

"draws about 300 W per GPU on an H100 PCIe at batch size 8 (measured with nvidia-smi)" gives
power "about 300 W" (as written; the normalising pipeline converts it), GPU "H100 PCIe", batch 8,
method nvidia-smi. GPU, batch size, workload and method are taken from the figure's own sentence,
else from the sentence before; the phase from the words just around the figure.
"""

from __future__ import annotations

import hashlib
import re

from .context import classify_method, classify_scope, classify_workload, phase_near
from .gpus import find_gpus
from .records import truncate
from .units import find_figures

FIGURE_FIELDS = {"power": "power_w", "energy": "energy_j", "energy_per_token": "energy_per_token_j",
                 "energy_per_query": "energy_per_query_j"}

_FENCED_CODE_RE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_INLINE_CODE_RE = re.compile(r"`[^`\n]*`")
# Sentence ends: after . ! ? before a capital, a blank line, a list item or a heading. Every
# alternative starts at white space, which the leading lookahead tests first (speed on long cards).
_SENTENCE_END_RE = re.compile(
    r"(?=\s)(?:(?<=[.!?])\s+(?=[A-Z(\"'])|\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.)\s)|\n#+\s)")
_BATCH_RE = re.compile(
    r"\bbatch(?:[\s_-]?size)?(?:\s+of)?\s*(?:=|:)?\s*(\d{1,5})\b|\bbs\s*=\s*(\d{1,5})\b"
    r"|\b(\d{1,5})\s*(?:prompts|requests|sequences)?\s*per batch\b",
    re.IGNORECASE,
)
_RATED_RE = re.compile(r"\bTDP\b|thermal design power|rated|power limit|power cap|"
                       r"peak power capacity|board power", re.IGNORECASE)
_ESTIMATE_RE = re.compile(r"\bestimat", re.IGNORECASE)
# How far around a figure its phase and rating words are looked for.
_WINDOW_AFTER = 25


def strip_code(text: str) -> str:
    """Prose without fenced code blocks or inline code: figures in code are not statements."""
    return _INLINE_CODE_RE.sub(" ", _FENCED_CODE_RE.sub("\n", text))


def sentences(text: str) -> list[str]:
    return [" ".join(part.split()) for part in _SENTENCE_END_RE.split(text) if part and part.strip()]


def batch_size(text: str) -> int | None:
    match = _BATCH_RE.search(text)
    if not match:
        return None
    return int(next(group for group in match.groups() if group))


def _sentence_key(sentence: str) -> str:
    return hashlib.sha1(sentence.encode("utf-8")).hexdigest()[:12]


def _paragraph_start(text: str, position: int) -> int:
    start = text.rfind("\n\n", 0, position)
    return 0 if start < 0 else start + 2


def _sentences_with_figures(text: str):
    """(sentence, the sentence before it) for each sentence holding a power or energy figure.

    Only the paragraphs that hold a figure are split into sentences: most of a long card has none,
    and one scan for figures over the whole text is far cheaper than splitting all of it.
    """
    done_until = 0
    for figure in find_figures(text):
        if figure.kind not in FIGURE_FIELDS or figure.start < done_until:
            continue
        start = _paragraph_start(text, figure.start)
        end = text.find("\n\n", figure.end)
        end = len(text) if end < 0 else end
        before = text[:start].rstrip()
        earlier = sentences(before[_paragraph_start(before, len(before)):]) if before else []
        previous = earlier[-1] if earlier else ""
        for sentence in sentences(text[start:end]):
            yield sentence, previous
            previous = sentence
        done_until = end


def prose_records(text: str, *, extractor: str = "prose", locator_prefix: str = "") -> list[dict]:
    """One record per power or energy figure stated in the text's sentences."""
    records = []
    for sentence, previous in _sentences_with_figures(strip_code(text)):
        figures = [f for f in find_figures(sentence) if f.kind in FIGURE_FIELDS]
        if not figures:
            continue
        own_gpus = find_gpus(sentence)
        # A sentence that names its own GPU is a new statement: nothing is carried over to it.
        carried = "" if own_gpus else previous
        gpus = own_gpus or find_gpus(carried)
        batch = batch_size(sentence) or batch_size(carried)
        workload = classify_workload(sentence)
        if workload == "unknown":
            workload = classify_workload(carried)
        method = classify_method(sentence) or classify_method(carried)
        scope = classify_scope(sentence) or classify_scope(carried)
        for index, figure in enumerate(figures):
            window_start = figures[index - 1].end if index else 0
            next_start = figures[index + 1].start if index + 1 < len(figures) else len(sentence)
            after = sentence[figure.end: min(next_start, figure.end + _WINDOW_AFTER)]
            window = sentence[window_start: figure.end] + after
            phase = phase_near(sentence[window_start: figure.start], after)
            nearest_gpu = min(gpus, key=lambda m: abs(m.start - figure.start)).match if gpus else None
            record = {
                "extractor": extractor,
                "locator": f"{locator_prefix}#sentence={_sentence_key(sentence)}&figure={index}",
                "excerpt": truncate(f"{carried} {sentence}" if carried and gpus else sentence),
                "gpu_raw": nearest_gpu.raw if nearest_gpu else None,
                "batch_size": batch,
                "workload": workload,
                "phase": phase,
                "method": method,
                "scope": scope,
                FIGURE_FIELDS[figure.kind]: figure.written.strip(),
                "flags": [],
            }
            if figure.kind == "power":
                if _RATED_RE.search(window):
                    record["power_kind"] = "rated"
                    record["flags"] = ["rated_not_measured"]
                elif _ESTIMATE_RE.search(sentence):
                    record["power_kind"] = "estimated"
                elif phase == "peak":
                    record["power_kind"] = "peak"
                else:
                    record["power_kind"] = "measured"
            if scope == "system":
                record["flags"] = [*record["flags"], "system_level"]
            records.append(record)
    return records
