"""Free-form Markdown documents (card bodies, issue posts) -> records, read block by block.

A document is parsed into blocks (markdown_doc). Tool output is read first, wherever it stands
(tool_output); tables become table records (power_tables); the sentences of headings, paragraphs
and list items give one candidate per figure, and each candidate gets a role (figure_roles) before
it may become a record. Skipped figures are counted by role, so a user can audit what was passed
over.

Context comes from the document's structure, nearest first:

* GPU: the figure's sentence; the earlier sentences of its block; the earlier items of its list
  and the paragraph that leads into the list; the next sentence of its block when the figure's
  own sentence names no device; the earlier blocks of its section; else the one GPU its section,
  or failing that its post (an issue's title and body), names.
* batch size and GPU count: the sentence, then what its block said just before it;
* workload: the sentence, its block, its section, the post and its title; method: the sentence,
  its block, its section (a tool named elsewhere in a post did not measure this figure);
* phase: the figure's clause; its sentence, when no other figure's clause there names another;
  an idle cue in the next sentence; the sentence before (a "this usage doubled to 9-10W"
  continues the last one's phase).

One figure, one record: a figure repeated in the same document (the same value, the same range,
the same GPU or none) is recorded once, whichever rule saw it first.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

from mypy_extensions import mypyc_attr

from .context import METHOD, PHASE, WORKLOAD, SentenceCues, classify_method, classify_phase, classify_workload, phase_near
from .datafiles import Problem, read_delimited
from .dataset_tables import CODECARBON_COLUMNS, extract_codecarbon
from .figure_roles import ACCOUNTING, GPU as GPU_WORDS
from .figure_roles import RECORDED_ROLES, SentenceText, clause_around, figure_role
from .gpus import GpuMention, find_gpus
from .markdown_doc import Block, Layout, holds_one_of, layout, parse_blocks
from .power_tables import table_records
from .prose import batch_size, gpu_count, sentences
from .records import cached_attribute, truncate
from .tables import DocumentTable, html_tables
from .tool_output import tool_output_records
from .units import Figure, find_carbon, find_figures, find_gpu_hours

# Far more than a real document takes (a 50 KB card: ~5 ms), far less than a stalled crawl.
DOCUMENT_TIME_BUDGET_S: Final = 10.0
FIGURE_FIELDS: Final = {"power": "power_w", "energy": "energy_j", "energy_per_token": "energy_per_token_j",
                 "energy_per_query": "energy_per_query_j", "co2": "co2_kg", "gpu_hours": "gpu_hours"}
# Figures that describe GPU work only when the text ties them to a GPU; carbon and GPU-hours in
# a document about a model are about its compute.
_NEEDS_GPU_TIE: Final = {"power", "energy", "energy_per_token", "energy_per_query"}
# A line with none of these holds no figure: a number with a unit after it, a unit in brackets
# (a table header's "(W)"), carbon, hours, CodeCarbon's columns, a per-token unit. Looked for in
# the document's UTF-8 bytes with every digit made "0", tabs spaces, "[" "(" and letters lower
# case, so that every pattern starts with a literal: the regex engine finds a literal at memchr
# speed, where a pattern starting with a character class or an alternation of different first
# letters is tried at every position (ten times slower). Line numbers are the same in bytes as
# in characters.
_CANDIDATE_FOLD: Final = bytes.maketrans(b"0123456789\t[ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"0000000000 (abcdefghijklmnopqrstuvwxyz")
# "0 *[kmg]?[wj]..." (and "\([km]?[wj]" below), written as branches that each start with a
# character or a class: the engine rejects a "0" that no unit follows (most of a card's digits) by
# a byte compare, where the optional prefixes first cost it a repeat and a backtrack at every digit.
_FOLDED_NUMBER_UNIT_RE: Final = re.compile(rb"0(?:[wj]|[kmg][wj]| +[kmg]?[wj])(?:h|atts?|oules?)?(?![a-z])")
_FOLDED_CANDIDATE_RES: Final = (_FOLDED_NUMBER_UNIT_RE, re.compile(rb"\((?:[wj]|[km][wj])"), re.compile("co(?:0|₂)".encode()),
                         re.compile(rb"hour"), re.compile(rb"gpu_energy"), re.compile(rb"j/(?:tok|out)"),
                         re.compile(rb"per token"), re.compile(rb"wh/"))
# Some strings hold a byte few texts have more than a handful of: the "j" of "j/tok" and "j/out",
# and the last byte of "₂" in UTF-8 (0x82, in the UTF-8 of few common characters). Their places
# are found from that byte's places, which bytes.find locates at memchr speed, where the search
# for a string steps through the text. Each place costs a turn of a loop, so a text where the
# byte is common (one byte in _RARE_SHARE) is searched for the strings instead. The other
# strings' bytes are common in real cards: "/" in links, "_" in code, "(" everywhere.
_FOUND_FROM_A_RARE_BYTE: Final = (((b"j/tok", b"j/out"), 0), (("co₂".encode(),), 4))  # pattern 5, pattern 2's "co₂"
_RARE_SHARE: Final = 1000
# Most are plain strings, found by bytes.find, whose search skips ahead by a string's length
# where the regex engine steps through every byte: a 30 KB card's regex search costs ~170k
# instructions, a find 20-70k (the finds for "co0" and "co₂", which never start at one place,
# cost less than the one regex search for both).
_FOUND_CANDIDATE_STRINGS: Final = (b"co0", b"hour", b"gpu_energy", b"per token", b"wh/")  # patterns 2-4, 6, 7
_SCANNED_CANDIDATE_RES: Final = (_FOLDED_CANDIDATE_RES[1],)
# "uJ (1e-6J)": a power of ten in scientific notation says what a unit is, it measures nothing.
_UNIT_SCALE_RE: Final = re.compile(r"1(?:\.0+)?[eE][-+]?\d")
# "38/140W": a draw over its cap, the unit written once. The draw starts with a digit with none of
# [\d.,/] before it, written as a digit then a lookbehind: a pattern that starts with a class is
# scanned for at C speed, one that starts with a lookbehind is entered at every position.
_DRAW_OVER_CAP_RE: Final = re.compile(r"(\d(?<![\d.,/]\d)\d{0,3}(?:\.\d+)?)\s*/\s*\d{1,4}(?:\.\d+)?\s*(?:W|watts?)\b",
                               re.IGNORECASE)
# A list item that is one line of a hardware spec sheet ("TDP: 125W", "System's: 750W",
# "PSU: 1000W"): candidate parts' ratings, not figures of GPU work.
_SPEC_LABEL_RE: Final = re.compile(r"^\s*(?:tdp|tgp|tbp|system'?s?(?: power)?|psu|power suppl(?:y|ies)|recommended [\w ]{0,20}"
                            r"|max(?:imum)? power|power limit|rated power|board power|power connectors?)\s*[:=]",
                            re.IGNORECASE)
# A number glued to a word before it is part of a name or version ("pytorch-1.11 w/ CUDA").
_GLUED_BEFORE_RE: Final = re.compile(r"(?:[A-Za-z][-_.]?|\d[.,]|[-_]\d)$")  # "pytorch-1.11", the "5" of "1,5 kW"
# How much text before and after a table is its caption and its notes.
_CAPTION_CHARS: Final = 1000
# How far back in a block a figure's batch size and GPU count are looked for.
_EARLIER_CHARS: Final = 600
_WITH_ABBREVIATION_RE: Final = re.compile(r"^/\s")  # "1.11 w/ CUDA": the w/ is "with"
# "nvidia[- ]smi|\bnvml\b|\bzeus\b|codecarbon|code carbon|\bdcgm", each word's \b written after its
# first letter ("n" with no word character before it): every alternative starts with a letter,
# which the engine scans for at C speed (a \b first is tried at every position).
_TOOL_WORDS_RE: Final = re.compile(r"nvidia[- ]smi|n(?<!\wn)vml\b|z(?<!\wz)eus\b|codecarbon|code carbon|d(?<!\wd)cgm")
_ROLE_KINDS: Final = {"rated": "rated", "estimated": "estimated", "measured": "measured", "system": "measured"}


@dataclass
class DocumentExtraction:
    records: list[dict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def _candidates(sentence: str) -> list[Figure]:
    """Every power, energy, carbon and GPU-hours figure of a sentence, in order, without overlaps."""
    found = [figure for figure in find_figures(sentence) if figure.kind in FIGURE_FIELDS]
    for pair in _DRAW_OVER_CAP_RE.finditer(sentence) if "/" in sentence else ():
        if not any(c.start <= pair.start() < c.end for c in found):
            draw = float(pair[1])
            found.append(Figure("power", draw, None, None, False, pair[1] + " W", pair.start(), pair.end(1)))
    lowered = sentence.lower()
    quantities = [*(find_carbon(sentence) if "co" in lowered else ()),
                  *(find_gpu_hours(sentence) if "hour" in lowered else ())]
    for quantity in quantities:
        if not any(c.start < quantity.end and quantity.start < c.end for c in found):
            found.append(quantity)
    return sorted(found, key=lambda c: c.start)


def _is_part_of_a_name(sentence: str, candidate: Figure) -> bool:
    before = sentence[max(0, candidate.start - 3): candidate.start]
    number_start = candidate.start
    while number_start < candidate.end and not sentence[number_start].isdigit():
        number_start += 1
    if number_start != candidate.start:  # "~300 W": the approximation mark is not glued
        before = ""
    glued = bool(before) and bool(_GLUED_BEFORE_RE.search(before))
    with_word = candidate.written.rstrip()[-1:].lower() == "w" and bool(_WITH_ABBREVIATION_RE.match(sentence[candidate.end:]))
    return glued or with_word


def _role(text: SentenceText, candidates: list[Figure], position: int, clause: tuple[str, str]) -> str:
    sentence, candidate = text.sentence, candidates[position]
    if _is_part_of_a_name(sentence, candidate) or _UNIT_SCALE_RE.match(candidate.written):
        return "not_a_figure"
    if candidate.kind == "co2" and candidate.value == 0 and ACCOUNTING.search(text.lowered):
        return "accounting"  # "market-based emissions were 0 tons": offsets, not the work's carbon
    if candidate.value == 0 and candidate.kind != "co2":
        return "zero"  # "returns power_usage = 0 W": no reading of anything
    return figure_role(sentence, candidate.start, candidate.end,
                       previous_end=candidates[position - 1].end if position else 0,
                       next_start=candidates[position + 1].start if position + 1 < len(candidates) else None,
                       clause=clause, text=text)


def _next_or_previous_phase(parts: list[tuple[int, str]], number: int, next_sentence: str) -> str | None:
    """For a sentence that names no phase: an idle cue in the next sentence when that one states
    no figure ("... increases to 50W. But still the GPU is not calculating."), else the phase the
    nearest earlier sentence states ("With 0.3.9 this usage doubled to 9-10W" continues the idle
    of the sentence before)."""
    if classify_phase(next_sentence) == "idle" and not _candidates(next_sentence):
        return "idle"
    for _, sentence in reversed(parts[max(0, number - 3):number]):
        phase = classify_phase(sentence)
        if phase:
            return phase
    return None


def _sentence_key(sentence: str) -> str:
    return hashlib.sha1(sentence.encode("utf-8")).hexdigest()[:12]


def _folded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass").translate(_CANDIDATE_FOLD)


def candidate_lines(text: str) -> list[int]:
    """The numbers (from 0) of the lines that may hold a figure, in order (see _FOLDED_CANDIDATE_RES)."""
    return _candidates_and_units(text)[0]


def _candidates_and_units(text: str) -> tuple[list[int], dict[int, int]]:
    """candidate_lines, and how many numbers with a power or energy unit each line holds (what
    _FOLDED_NUMBER_UNIT_RE finds in that line alone: its matches hold no line break)."""
    folded = _folded(text)
    number_units = [match.start() for match in _FOLDED_NUMBER_UNIT_RE.finditer(folded)]
    # The other patterns start with other characters than "0": no position is found twice.
    positions = number_units + [match.start() for pattern in _SCANNED_CANDIDATE_RES
                                for match in pattern.finditer(folded)]
    for string in _FOUND_CANDIDATE_STRINGS:  # none overlaps itself: every match is found
        position = folded.find(string)
        while position >= 0:
            positions.append(position)
            position = folded.find(string, position + len(string))
    for strings, rare in _FOUND_FROM_A_RARE_BYTE:
        positions += _places(folded, strings, rare)
    units_at = set(number_units)
    lines: list[int] = []
    units: dict[int, int] = {}
    line, counted_to = 0, 0
    for position in sorted(positions):
        line += folded.count(b"\n", counted_to, position)
        counted_to = position
        if not lines or lines[-1] != line:
            lines.append(line)
        if position in units_at:
            units[line] = units.get(line, 0) + 1
    return lines, units


def _places(folded: bytes, strings: tuple[bytes, ...], rare: int) -> list[int]:
    """Where the strings stand in ``folded`` (none overlaps itself or another), found from the
    places of the byte they hold at index ``rare`` (see _FOUND_FROM_A_RARE_BYTE)."""
    byte = strings[0][rare:rare + 1]
    starts: list[int] = []
    position = folded.find(byte, rare)
    for _ in range(8 + len(folded) // _RARE_SHARE):
        if position < 0:
            return starts
        if folded.startswith(strings, position - rare):
            starts.append(position - rare)
        position = folded.find(byte, position + 1)
    if position >= 0:  # a common byte in this text: the strings' own searches go on from its place
        for string in strings:
            found = folded.find(string, position - rare)
            while found >= 0:
                starts.append(found)
                found = folded.find(string, found + len(string))
    return starts


class _Document:
    """A parsed document and the context lookups its figures need, each computed once.

    A section's context is read within CONTEXT_CHARS of the figure's block: in a long section,
    text further away is rarely about the figure, and reading all of it for every figure would
    cost the crawl its speed.
    """

    CONTEXT_CHARS = 4000
    CONTEXT_BLOCKS = 40

    def __init__(self, blocks: list[Block], title: str, is_post: bool, topic: str = ""):
        self.blocks = blocks
        self.title = title
        self.topic = topic or title
        self.is_post = is_post
        self._gpus: dict[int, list[GpuMention]] = {}
        self._gpu_starts: dict[int, list[int]] = {}
        self._names_gpus: dict[int, bool] = {}
        self._only: dict[tuple, GpuMention | None] = {}
        self._labels: dict[tuple, str | None] = {}
        self._sections: dict[int, list[int]] = {}
        self._positions: dict[int, int] = {}  # a block's place among its section's blocks
        self._nearby: dict[int, list[int]] = {}
        for index, block in enumerate(blocks):
            members = self._sections.setdefault(block.section, [])
            self._positions[index] = len(members)
            members.append(index)

    def gpu_starts(self, index: int) -> list[int]:
        if index not in self._gpu_starts:
            self._gpu_starts[index] = [mention.start for mention in self.gpus(index)]
        return self._gpu_starts[index]

    def gpus(self, index: int) -> list[GpuMention]:
        if index not in self._gpus:
            block = self.blocks[index]
            self._gpus[index] = find_gpus(block.text) if block.kind not in ("code", "html") else []
        return self._gpus[index]

    def nearby(self, index: int) -> list[int]:
        """The blocks of the block's section (its heading first) within CONTEXT_CHARS of it, and
        CONTEXT_BLOCKS blocks at most on each side (a list of a thousand one-line items)."""
        if index not in self._nearby:
            self._nearby[index] = self._window(index)
        return self._nearby[index]

    def _window(self, index: int) -> list[int]:
        section = self.blocks[index].section
        members = self._sections.get(section, [])
        position = self._positions.get(index, 0)
        start, budget = position, self.CONTEXT_CHARS
        while start > 0 and budget > 0 and position - start < self.CONTEXT_BLOCKS:
            start -= 1
            budget -= self.blocks[members[start]].size
        end, budget = position, self.CONTEXT_CHARS
        while end < len(members) - 1 and budget > 0 and end - position < self.CONTEXT_BLOCKS:
            end += 1
            budget -= self.blocks[members[end]].size
        heading = [section] if section >= 0 and start == 0 else []
        return heading + members[start: end + 1]

    def list_lead_in(self, index: int) -> list[int]:
        """Earlier items of the block's list (nearest first), then the paragraph before the list."""
        block = self.blocks[index]
        if block.list_id is None:
            return []
        earlier = []
        for other in range(index - 1, max(-1, index - 50), -1):
            if self.blocks[other].list_id != block.list_id:
                break
            earlier.append(other)
        first = earlier[-1] if earlier else index
        lead = [first - 1] if first > 0 and self.blocks[first - 1].kind == "paragraph" else []
        return earlier + lead

    def only_gpu(self, key: tuple, indexes, extra_text: str = "") -> GpuMention | None:
        """The GPU when the blocks (and extra text) name exactly one distinct GPU, else None."""
        if key not in self._only:
            self._only[key] = _one_gpu(itertools.chain(
                (self.gpus(i) for i in indexes), [find_gpus(extra_text)] if extra_text else []))
        return self._only[key]

    def section_gpu(self, index: int) -> GpuMention | None:
        return self.only_gpu(("section", index), self.nearby(index))

    def post_gpu(self) -> GpuMention | None:
        """The one GPU a post (an issue's title and body, a comment) names; cards are no posts."""
        if not self.is_post:
            return None
        return self.only_gpu(("post",), range(len(self.blocks)), self.title)

    def names_gpus(self, index: int) -> bool:
        """Whether a block says GPU or names a GPU tool (read once per block)."""
        if index not in self._names_gpus:
            lowered = self.blocks[index].text.lower()
            self._names_gpus[index] = bool(GPU_WORDS.search(lowered) or _TOOL_WORDS_RE.search(lowered))
        return self._names_gpus[index]

    def label(self, key: tuple, indexes, classify) -> str | None:
        """A context label (method, workload) read once per section or post."""
        if key not in self._labels:
            label = classify(self.block_text(indexes))
            self._labels[key] = None if label == "unknown" else label
        return self._labels[key]

    def block_text(self, indexes) -> str:
        return " ".join(self.blocks[i].text for i in indexes if self.blocks[i].kind not in ("code", "html"))


def _one_gpu(mention_lists) -> GpuMention | None:
    """The first mention when all name one GPU; None as soon as a second GPU is named."""
    first, name = None, None
    for mentions in mention_lists:
        for mention in mentions:
            mention_name = mention.match.canonical or mention.match.raw.lower()
            if first is None:
                first, name = mention, mention_name
            elif mention_name != name:
                return None
    return first


def _nearest(mentions: list[GpuMention], position: int) -> GpuMention | None:
    if not mentions:
        return None
    return min(mentions, key=lambda m: (abs(m.start - position), m.start > position))


def _gpu_for(doc: _Document, facts: _SentenceFacts, position: int) -> tuple[GpuMention | None, str | None]:
    """(the GPU of a figure at ``position`` in the sentence of ``facts``, where it was found when
    not in its own sentence)."""
    index, sentence_offset, sentence = facts.index, facts.offset, facts.sentence
    mentions = doc.gpus(index)
    starts = doc.gpu_starts(index)
    first, after = bisect_left(starts, sentence_offset), bisect_left(starts, sentence_offset + len(sentence))
    if after > first:
        return _nearest(mentions[first:after], sentence_offset + position), None
    if first:
        return mentions[first - 1], "an earlier sentence of the same paragraph"
    for other in doc.list_lead_in(index):
        if doc.gpus(other):
            return doc.gpus(other)[-1], "the list it stands in"
    following = facts.next_sentence_gpus
    if following:
        return following[0], "the next sentence"
    for other in reversed([i for i in doc.nearby(index) if i < index]):
        if doc.gpus(other):
            return doc.gpus(other)[-1], "an earlier paragraph of the same section"
    only = doc.section_gpu(index)
    if only:
        return only, "the only GPU its section names"
    only = doc.post_gpu()
    if only:
        return only, "the only GPU the post names"
    return None, None


# Not a native class when compiled with mypyc: its cached_attribute values live in the instance's
# __dict__, which native instances do not have.
@mypyc_attr(native_class=False)
class _SentenceFacts:
    """What a sentence says for all its figures, each read once (a sentence often holds several)."""

    def __init__(self, reader: _Reader, index: int, offset: int, sentence: str, next_sentence: str,
                 cues: SentenceCues):
        self.reader, self.index, self.offset, self.sentence, self.cues = reader, index, offset, sentence, cues
        self.next_sentence = next_sentence

    @cached_attribute
    def next_sentence_gpus(self) -> list[GpuMention]:
        """The GPUs the next sentence of the block names (searched once, for all the figures)."""
        return find_gpus(self.next_sentence) if self.next_sentence else []

    @cached_attribute
    def earlier(self) -> str:
        """What the block said just before this sentence (bounded: a post can be one paragraph)."""
        return self.reader.doc.blocks[self.index].text[max(0, self.offset - _EARLIER_CHARS):self.offset]

    @cached_attribute
    def method(self) -> str | None:
        return self.reader.context_label(self.index, self.cues.first(METHOD)[0], classify_method, post=False)

    @cached_attribute
    def workload(self) -> str:
        return self.reader.context_label(self.index, self.cues.first(WORKLOAD)[0], classify_workload) or "unknown"

    @cached_attribute
    def gpu_count(self) -> int | None:
        return gpu_count(self.sentence) or gpu_count(self.earlier)

    @cached_attribute
    def batch_size(self) -> int | None:
        return batch_size(self.sentence) or batch_size(self.earlier)

    @cached_attribute
    def about_gpus(self) -> bool:
        return self.reader.about_gpus(self.index, self.sentence)

    @cached_attribute
    def key(self) -> str:
        return _sentence_key(self.sentence)

    @cached_attribute
    def excerpt(self) -> str:
        return truncate(" ".join(self.sentence.split()))


class _Reader:
    def __init__(self, doc: _Document, locator_prefix: str):
        self.doc = doc
        self.locator_prefix = locator_prefix
        self.result = DocumentExtraction()
        # (field, value to 6 significant digits) -> [(bounds, GPU as written)] of figures recorded
        self.seen: dict[tuple[str, str], list[tuple[tuple | None, str | None]]] = {}
        self._post_text: str | None = None
        self._post_has_gpu_words: bool | None = None

    @property
    def post_text(self) -> str:
        if self._post_text is None:
            self._post_text = self.doc.title + " " + self.doc.block_text(range(len(self.doc.blocks)))
        return self._post_text

    @property
    def post_has_gpu_words(self) -> bool:
        if self._post_has_gpu_words is None:
            self._post_has_gpu_words = bool(GPU_WORDS.search(self.post_text.lower()))
        return self._post_has_gpu_words

    def context_label(self, index: int, sentence_label: str | None, classify, post: bool = True) -> str | None:
        """A label (method, workload): the sentence's (``sentence_label``), else its block's,
        section's, and (``post``) the post's and its title's."""
        if sentence_label:
            return sentence_label
        label = (self.doc.label((classify, "block", index), [index], classify)
                 or self.doc.label((classify, "section", index), self.doc.nearby(index), classify))
        if label or not post:
            return label
        if self.doc.is_post:
            label = self.doc.label((classify, "post"), range(len(self.doc.blocks)), classify)
        title_label = classify(self.doc.title) if not label and self.doc.title else None
        return label or (None if title_label == "unknown" else title_label)

    def about_gpus(self, index: int, sentence: str) -> bool:
        """Whether a figure's text is about GPUs when it names none: its sentence or block says
        GPU (or names a GPU tool), or, in a post, the post or its thread's title does."""
        lowered = sentence.lower()
        if GPU_WORDS.search(lowered) or _TOOL_WORDS_RE.search(lowered) or self.doc.names_gpus(index):
            return True
        return self.doc.is_post and (self.post_has_gpu_words or bool(GPU_WORDS.search(self.doc.topic.lower())))

    def repeat(self, field_name: str, value: float, bounds, gpu: str | None) -> bool:
        """Whether the document already gave this figure (same value, range and compatible GPU)."""
        return any(seen_bounds == bounds and (gpu is None or seen_gpu is None or gpu == seen_gpu)
                   for seen_bounds, seen_gpu in self.seen.get((field_name, f"{value:.6g}"), ()))

    def remember(self, record: dict) -> None:
        gpu = record.get("gpu_raw")
        for field_name in FIGURE_FIELDS.values():
            value = record.get(field_name)
            if isinstance(value, (int, float)):
                bounds = tuple((record.get("bounds") or {}).get(field_name) or ()) or None
                self.seen.setdefault((field_name, f"{float(value):.6g}"), []).append((bounds, gpu))

    def skip(self, role: str, count: int = 1) -> None:
        self.result.skipped[role] += count

    def add(self, record: dict) -> None:
        self.remember(record)
        self.result.records.append(record)

    # ------------------------------------------------------------------ prose
    def read_text_block(self, index: int) -> None:
        block = self.doc.blocks[index]
        parts = sentences(block.text)
        for number, (offset, sentence) in enumerate(parts):
            next_sentence = parts[number + 1][1] if number + 1 < len(parts) else ""
            candidates = _candidates(sentence)
            if not candidates:
                continue
            if block.kind == "list_item" and _SPEC_LABEL_RE.match(sentence):
                self.skip("spec_list", len(candidates))
                continue
            # Each figure's clause, read once for its role and its phase.
            clauses = [clause_around(sentence, c.start, c.end, candidates[i - 1].end if i else 0,
                                     candidates[i + 1].start if i + 1 < len(candidates) else None)
                       for i, c in enumerate(candidates)]
            text = SentenceText(sentence)
            roles = [_role(text, candidates, position, clauses[position]) for position in range(len(candidates))]
            # A cap stated beside a draw ("peaks at 340 W (power limit 450 W)") goes into its notes.
            caps = [c.written.strip() for c, role in zip(candidates, roles) if role == "cap"]
            # Each recorded figure's phase from its own clause; the others share the sentence's
            # unless another figure's clause names a different one ("16W when idle and 280W when
            # fully active" gives each its own; "pulling 60W or just 11W during idle" both idle).
            cues = SentenceCues(text.lowered)  # the phase now, the method and workload if a figure is recorded
            sentence_phase, phase_cue_stands = cues.first(PHASE)
            clause_phases = [phase_near(*clause) if role in RECORDED_ROLES and phase_cue_stands else None
                             for clause, role in zip(clauses, roles)]
            facts = _SentenceFacts(self, index, offset, sentence, next_sentence, cues)
            shared = sentence_phase if all(p in (None, sentence_phase) for p in clause_phases) else None
            # The phase of the sentences around, for the figures with none of their own: the same
            # for all of them, read at most once.
            around: list[str | None] = []
            for position, role in enumerate(roles):
                if role in RECORDED_ROLES:
                    phase = clause_phases[position] or shared
                    if phase is None and sentence_phase is None:
                        if not around:
                            around.append(_next_or_previous_phase(parts, number, next_sentence))
                        phase = around[0]
                    self.read_figure(facts, candidates, position, role, caps, phase)
                else:
                    self.skip(role)

    def read_figure(self, facts: _SentenceFacts, candidates, position, role, caps, phase):
        candidate = candidates[position]
        gpu, gpu_from = _gpu_for(self.doc, facts, candidate.start)
        if candidate.kind in _NEEDS_GPU_TIE and gpu is None and not facts.about_gpus:
            self.skip("not_gpu")
            return
        if role == "system" and not (gpu is not None or self.post_has_gpu_words):
            self.skip("not_gpu")
            return
        field_name = FIGURE_FIELDS[candidate.kind]
        bounds = (candidate.low, candidate.high) if candidate.low is not None else None
        gpu_raw = gpu.match.raw if gpu else None
        if self.repeat(field_name, candidate.value, bounds, gpu_raw):
            self.skip("repeat")
            return
        method = facts.method
        if method == "tdp-estimate" and candidate.kind == "power" and role != "rated":
            method = None  # a TDP named beside a reading does not make the reading an estimate
        if role == "estimated" and candidate.kind == "co2" and method is None:
            method = "tdp-estimate"
        notes = [f"power cap {cap} stated beside it" for cap in caps if candidate.kind == "power"]
        if gpu_from:
            notes.append(f"GPU from {gpu_from}")
        record = {
            "extractor": "prose",
            "locator": f"{self.locator_prefix}#sentence={facts.key}&figure={position}",
            "excerpt": facts.excerpt,
            "gpu_raw": gpu_raw,
            "gpu_count": (gpu.match.count if gpu and gpu.match.count else None) or facts.gpu_count,
            "batch_size": facts.batch_size,
            "workload": facts.workload,
            "phase": phase,
            "method": method,
            "scope": "system" if role == "system" else ("gpu" if candidate.kind == "power" else None),
            field_name: candidate.value,
            "flags": [],
        }
        if bounds:
            record["bounds"] = {field_name: list(bounds)}
            record["flags"].append("range_midpoint")
        described = candidate.describe()
        if described:
            notes.append(described)
        if candidate.kind == "power":
            kind = _ROLE_KINDS[role]
            record["power_kind"] = "peak" if kind == "measured" and phase == "peak" else kind
            if kind == "rated":
                record["flags"].append("rated_not_measured")
        if role == "estimated":
            record["flags"].append("estimated")
        if role == "system":
            record["flags"].append("system_level")
        record["notes"] = "; ".join(notes) or None
        self.add(record)

    def read_pasted_codecarbon(self, index: int) -> bool:
        """A CodeCarbon emissions.csv pasted into a code block: its runs, as from the file."""
        text = self.doc.blocks[index].text
        if not _is_codecarbon_header(text.lstrip().split("\n", 1)[0]):
            return False
        table = read_delimited(text.lstrip())
        extraction = extract_codecarbon(table.rows, "emissions.csv", self.post_text)
        self.result.problems += table.problems + extraction.problems
        for number, record in enumerate(extraction.records, start=1):
            record["locator"] = f"{self.locator_prefix}#pasted-codecarbon@{self.doc.blocks[index].line}:{number}"
            self.add(record)
        return True

    # ------------------------------------------------------------------ tables
    def read_table(self, index: int, table: DocumentTable, number: int, extractor: str,
                   last_line: int | None = None) -> None:
        """A table's records; its caption is the text just before it, its notes the text just
        after it (up to two paragraphs: "Power Consumption: peak power capacity per GPU")."""
        earlier: list[int] = [i for i in self.doc.nearby(index) if i < index]
        before = self.doc.block_text(earlier[-3:])[-_CAPTION_CHARS:]
        last_line = self.doc.blocks[index].end_line if last_line is None else last_line
        blocks = self.doc.blocks
        following = list(itertools.islice((i for i in range(index + 1, len(blocks))  # the first two, not all
                                           if blocks[i].line > last_line and blocks[i].kind in ("paragraph", "list_item")), 2))
        after = self.doc.block_text(following)[:_CAPTION_CHARS]

        def section_gpu():
            for other in earlier[::-1]:  # the nearest earlier GPU of its section ...
                if self.doc.gpus(other):
                    return self.doc.gpus(other)[-1].match
            return getattr(self.doc.section_gpu(index), "match", None)  # ... or the one it names

        extracted = table_records(table, before=before, after=after, extractor=extractor,
                                  locator_prefix=f"{self.locator_prefix}table{number}",
                                  section_gpu=section_gpu)
        self.result.problems += extracted.problems
        if extracted.skipped:  # Counter.update is Python code, even for nothing to add
            self.result.skipped.update(extracted.skipped)
        for record in extracted.records:
            self.add(record)


class ReadingPlan:
    """Which lines of a document are worth parsing, from one pass over it before any parsing.

    ``lines``: lines that may hold a figure outside fenced code, and the header line of a fenced
    block that may be a pasted CodeCarbon CSV; only their sections are parsed. ``code_lines``:
    lines inside other fenced code that may hold a figure (not statements: their power and energy
    figures are counted, not read). ``number_units``: line number -> numbers with a power or
    energy unit on it.
    """

    def __init__(self, text: str, lines: list[int], code_lines: list[int], layout: Layout,
                 number_units: dict[int, int]):
        self.text, self.lines, self.code_lines, self.layout = text, lines, code_lines, layout
        self.number_units = number_units
        self._text_lines: list[str] | None = None

    def text_lines(self) -> list[str]:
        """The document's lines, split when a rule first needs one (most documents: never)."""
        if self._text_lines is None:
            self._text_lines = self.text.split("\n")
        return self._text_lines


# An HTML table read past its block is bounded: a missing </table> costs at most this much text.
_HTML_TABLE_LINES: Final = 2000


def _whole_html_table(block: Block, text_lines: list[str]) -> tuple[str, int]:
    """An HTML table block's source through its closing tag, and the table's last line.

    CommonMark ends an HTML block at a blank line, so a table written with blank lines between
    its rows comes as several blocks; the table is read from the source, through </table>.
    """
    if "</table" in block.text.lower():
        return block.text, block.end_line
    last = min(len(text_lines), block.line + _HTML_TABLE_LINES) - 1
    for number in range(block.line, last + 1):
        if "</table" in text_lines[number].lower():
            return "\n".join(text_lines[block.line: number + 1]), number
    # Never closed: read to the bound, as a browser would render it, with the tag closed.
    return "\n".join(text_lines[block.line: last + 1]) + "</table>", last


def reading_plan(text: str) -> ReadingPlan:
    candidates, number_units = _candidates_and_units(text)
    sections = layout(text, until=candidates[-1] if candidates else -1)
    plan = ReadingPlan(text, [], [], sections, number_units)
    code_blocks, block = sections.code, 0  # both in order: one walk
    for number in candidates:
        while block < len(code_blocks) and code_blocks[block][1] < number:
            block += 1
        code = code_blocks[block] if block < len(code_blocks) and code_blocks[block][0] <= number else None
        if code is None or (number == code[0] and _is_codecarbon_header(plan.text_lines()[number])):
            plan.lines.append(number)
        else:
            plan.code_lines.append(number)
    return plan


def _is_codecarbon_header(line: str) -> bool:
    return CODECARBON_COLUMNS <= {column.strip() for column in line.split(",")}


def document_records(text: str, *, table_extractor: str, locator_prefix: str, title: str = "",
                     topic: str = "", is_post: bool = True, read_quotes: bool = True,
                     blocks: list[Block] | None = None,
                     plan: ReadingPlan | None = None, claimed=frozenset(),
                     time_budget_s: float = DOCUMENT_TIME_BUDGET_S) -> DocumentExtraction:
    """Records of a Markdown document.

    ``table_extractor`` is a prefix: the table kind is appended ("card_table" -> "card_table.html").
    ``title`` is read for context only (an issue's title names its GPU); ``topic``, the title of the
    thread a reply stands in, only says whether the talk is of GPUs. ``is_post``: the document
    is one person's GitHub post, whose single GPU its figures belong to (a card is not: its
    sections are), and whose line breaks end sentences (GitHub renders them as breaks).
    ``read_quotes=False`` passes over quoted blocks (a reply quoting another post).
    ``plan`` and ``blocks`` (parsed by that plan) when the caller has them already; ``claimed``:
    the indexes of blocks another rule has read. ``time_budget_s``: past it, the blocks left are
    not read (a problem says so); every rule is linear in its input, so this is the last line of
    defence against a document no test foresaw.
    """
    tools = tool_output_records(text, locator_prefix)  # "111" under dmon's "pwr" has no unit of its own
    plan = reading_plan(text) if plan is None else plan
    if not plan.lines and not plan.code_lines and not tools.records:
        return DocumentExtraction(skipped=tools.skipped)
    tool_lines = [(text.count("\n", 0, start), text.count("\n", 0, end)) for start, end in tools.spans]
    if blocks is None:  # a post is read whole: the one GPU it names may stand anywhere in it
        blocks = parse_blocks(text, line_breaks=True) if is_post else parse_blocks(text, plan.lines, plan.layout)
    doc = _Document(blocks, title, is_post, topic)
    reader = _Reader(doc, locator_prefix)
    for record in tools.records:
        if record.get("gpu_raw") is None and doc.post_gpu():  # dmon, Zeus and CodeCarbon name no GPU
            record["gpu_raw"] = doc.post_gpu().match.raw  # type: ignore[union-attr]  # tested just above
            record["notes"] = "; ".join(filter(None, [record.get("notes"), "GPU from the only GPU the post names"]))
        reader.add(record)
    reader.result.skipped.update(tools.skipped)
    for number in plan.code_lines:
        if not (tool_lines and any(start <= number <= end for start, end in tool_lines)):
            figures = plan.number_units.get(number, 0)
            if figures:
                reader.skip("code", figures)
    tables, html_until = 0, -1
    deadline = time.monotonic() + time_budget_s
    for index, block in enumerate(blocks):
        if index in claimed or (block.quoted and not read_quotes) or block.line <= html_until:
            continue
        if time.monotonic() > deadline:
            reader.result.problems.append(Problem(
                "time_budget", f"stopped reading after {time_budget_s:g} s, at line {block.line + 1}; "
                               f"the {len(reader.result.records)} records read before are kept"))
            break
        if tool_lines and any(start <= block.end_line and block.line <= end for start, end in tool_lines):
            continue
        if not holds_one_of(plan.lines, block.line, block.end_line):
            continue  # nothing on the block's lines looks like a figure
        if block.kind == "table" and len(block.rows) > 1:
            tables += 1
            table = DocumentTable(header=block.rows[0], rows=block.rows[1:], start=block.line,
                                  end=block.end_line, kind="markdown", ragged_rows=block.short_rows)
            reader.read_table(index, table, tables, f"{table_extractor}.markdown")
        elif block.kind == "html" and "<table" in block.text.lower():
            html, last_line = _whole_html_table(block, plan.text_lines())
            for table in html_tables(html):
                tables += 1
                reader.read_table(index, table, tables, f"{table_extractor}.html", last_line)
            html_until = last_line
        elif block.kind == "code":
            if reader.read_pasted_codecarbon(index):
                continue
            figures = len(_candidates(block.text))  # code that stood in an unclosed fence
            if figures:
                reader.skip("code", figures)
        elif block.kind in ("heading", "paragraph", "list_item"):
            reader.read_text_block(index)
    return reader.result
