"""What the words around a figure say: workload, phase and measuring method.

Each classifier returns the label of the earliest matching cue in the text, or None (workload:
'unknown') when there is none, so the caller can look at the figure's own sentence first and then
at the wider context.
"""

from __future__ import annotations

import re
from heapq import heapify, heappop, heapreplace
from typing import Final

_WORKLOAD_CUES: Final = (
    ("fine-tuning", r"fine[- _]?tun(?:e|ed|ing)|finetun(?:e|ed|ing)|\bsft\b|\blora\b"),
    ("training", r"pre[- ]?train(?:ed|ing)?|\btrain(?:ed|ing|s)?\b"),
    ("inference", r"inference|\binfer\b|generat(?:e|ion|ing)|serving|\bdecod(?:e|ing)\b|prefill|"
                  r"prompts?\b|queries|\bquery\b|tokens?/s|latency|throughput"),
)
# "0 % util" is written as its two spellings ("0 ?%" would have the stem "0", which every figure
# of a sentence holds: a search of each, per sentence and per figure, for a cue that is rarely there).
_PHASE_CUES: Final = (
    ("idle", r"\bidle|\bidling|standby|\bp8\b|no (?:model|models) (?:is |are )?loaded|nothing (?:is )?loaded|"
             r"before (?:any |a )?(?:model|models) (?:is |are )?loaded|before loading|between generations|"
             r"while no prompt|no (?:activity|in-flight requests|requests|load\b)|not (?:calculating|computing|"
             r"doing anything|in use)|waiting for (?:new |api |requests)|waits for|unused loaded|"
             r"\b0 % (?:gpu[- ])?util|\b0% (?:gpu[- ])?util|\bnot (?:being )?used\b|\bunused\b|\b(?:do|does|doing) nothing|nothing (?:is )?running|at rest\b"),
    ("peak", r"\bpeak(?:s|ed|ing)?\b|\bmax(?:imum)?\b|\bspikes?\b"),
    ("prefill", r"\bprefill"),
    ("decode", r"\bdecod(?:e|ing)\b"),
    ("steady", r"steady[- ]state|\bsteady\b|sustained|under ?(?:full )?load|at full load|fully active"),
)
_METHOD_CUES: Final = (
    ("codecarbon", r"code\s?carbon"),
    ("zeus", r"\bzeus\b"),
    ("nvidia-smi", r"nvidia[- ]smi"),
    ("nvml", r"\bnvml\b|pynvml|nvmldeviceget"),
    ("external-meter", r"wall[- ]?(?:plug|socket|meter|power)|power meter|\bpdu\b|kill[- ]a[- ]watt|"
                       r"smart plug|external meter|at the wall"),
    ("tdp-estimate", r"ml ?co2 ?impact|co2 ?calculator|machine learning impact calculator|"
                     r"based on (?:the )?tdp|\btdp\b"),
)


def _alternatives(pattern: str) -> list[str]:
    """The top-level alternatives of a pattern ("a|b(?:c|d)" -> ["a", "b(?:c|d)"])."""
    parts, depth, start, escaped = [], 0, 0, False
    for position, char in enumerate(pattern):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "|" and depth == 0:
            parts.append(pattern[start:position])
            start = position + 1
    return parts + [pattern[start:]]


_META: Final = set("\\()[]?*+{|.^$")


def literal_stems(pattern: str) -> set[str] | None:
    """The literal words a match of a cue pattern must start with ("\\bpsus?\\b|power suppl" ->
    {"psu", "power suppl"}), or None when a cue starts with no literal (a class, an escape)."""
    stems = set()
    for alternative in _alternatives(pattern):
        alternative = alternative.removeprefix("\\b")
        if alternative.startswith("(?:"):
            depth, end = 1, 3
            while depth and end < len(alternative):
                depth += {"(": 1, ")": -1}.get(alternative[end], 0)
                end += 1
            inner = literal_stems(alternative[3:end - 1])
            if inner is None:
                return None
            stems |= inner
            continue
        run = 0
        while run < len(alternative) and alternative[run] not in _META:
            run += 1
        if run < len(alternative) and alternative[run] in "?*{":
            run -= 1  # the quantifier makes the last character optional
        if run <= 0:
            return None
        stems.add(alternative[:run])
    return stems


# Up to this length (a sentence) a text's stems are found by one scan of it (_stem_scanner); a
# longer text (a section's context) by str.find per stem, which costs less where the text is long
# (measured: the scan takes ~7% fewer instructions on sentences of 150 characters, twice as many
# on 5,000 characters).
_SHORT_TEXT: Final = 200


def _cues_starting_with(patterns, stem: str, capture: bool) -> re.Pattern:
    """The cue pattern with only the alternatives that can match where ``stem`` stands: those with
    a stem that starts with it or that it starts with (the stems of a CuePattern are prefix-free,
    so no other alternative's stem stands there). Tried in the same order, they give the match the
    whole pattern gives there. The rest of a cue becomes a branch that never matches, so that
    each cue keeps its group number."""
    def fits(alternative: str) -> bool:
        return any(other.startswith(stem) or stem.startswith(other) for other in literal_stems(alternative) or ())

    cues = []
    for pattern in patterns:
        alternatives = _alternatives(pattern)
        try:  # each piece must stand alone: a bracket the splitter misread leaves one that does not
            for alternative in alternatives:
                re.compile(alternative)
        except re.error:
            alternatives = [pattern]
        kept = "|".join(alternative for alternative in alternatives if fits(alternative))
        if capture:
            cues.append(f"({kept or '(?!)'})")
        elif kept:
            cues.append(kept)
    return re.compile("|".join(cues))


def literal_trie(words) -> str:
    """A pattern that matches exactly the given literal words, written as a trie ("pdu", "psu",
    "psus" -> "p(?:du|su(?:s)?)"): at each position the engine follows one branch per character
    instead of trying every word, and where several words start there it gives the longest (each
    optional part is greedy)."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def pattern(node: dict) -> str:
        branches = [re.escape(char) + pattern(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return pattern(trie)


class CuePattern:
    """A cue list compiled to one pattern, run only where a cue can start.

    Python's regex engine tries an alternation of many cues at every position of the text (a few
    MB/s). When every cue starts with a literal word, its matches can start only where one of
    those words stands: str.find locates them (C speed), and the pattern is tried there alone, in
    order, which gives the same matches as a search of the whole text. Where a word stands, only
    the cues that can start with it are tried (a pattern per word).
    """

    def __init__(self, patterns: tuple[str, ...] | list[str], *, capture: bool = False):
        joined = "|".join(f"({p})" if capture else p for p in patterns)
        self.regex = re.compile(joined)
        stems = [literal_stems(p) for p in patterns]
        self.stems: tuple[str, ...] | None = None
        self._stem_scanner: re.Pattern | None = None
        if all(s is not None for s in stems):  # "do" finds every place "does" could start
            every: set[str] = set().union(*(s for s in stems if s is not None))
            self.stems = tuple(s for s in every if not any(o != s and s.startswith(o) for o in every))
            # The stems as a trie: the engine skips every position whose character starts no
            # stem and follows one branch per character where one does. No stem starts another:
            # where the scan finds one, it is the only one there.
            self._stem_scanner = re.compile(literal_trie(self.stems))
            self._at_stem = {stem: _cues_starting_with(patterns, stem, capture) for stem in self.stems}

    def _starts(self, text: str) -> list[tuple[int, str]]:
        """Where a cue may start, in order, and the stem that stands there."""
        found = []
        for stem in self.stems:  # type: ignore[union-attr]  # called only when the cues have stems
            position = text.find(stem)
            while position >= 0:
                found.append((position, stem))
                position = text.find(stem, position + 1)
        found.sort()
        return found

    def search(self, text: str):
        if self.stems is None:
            return self.regex.search(text)
        if len(text) <= _SHORT_TEXT:
            return self._search_short(text)[0]
        # The next place each stem stands, visited in order: most searches end at the first.
        upcoming = [(position, stem) for stem in self.stems if (position := text.find(stem)) >= 0]
        heapify(upcoming)
        while upcoming:
            start, stem = upcoming[0]
            match = self._at_stem[stem].match(text, start)
            if match:
                return match
            following = text.find(stem, start + 1)
            if following >= 0:
                heapreplace(upcoming, (following, stem))
            else:
                heappop(upcoming)
        return None

    def _search_short(self, text: str) -> tuple[re.Match | None, bool]:
        """The first match in a short text, and whether a stem stands in it."""
        # Called only when the cues have stems (so a stem scanner).
        scan, at_stem, start, stem_seen = self._stem_scanner.search, self._at_stem, 0, False  # type: ignore[union-attr]
        while stem := scan(text, start):
            stem_seen = True
            start = stem.start()
            match = at_stem[stem[0]].match(text, start)
            if match:
                return match, True
            start += 1
        return None, stem_seen

    def match_at_stem(self, stem: str, text: str, start: int):
        """The match of the cues that can start with ``stem``, where it stands at ``start``."""
        return self._at_stem[stem].match(text, start)

    def search_noting_stems(self, text: str) -> tuple[re.Match | None, bool]:
        """search(text), and whether any stem stands in the text (where none does, the pattern
        finds nothing in any part of it)."""
        if len(text) <= _SHORT_TEXT:
            return self._search_short(text)
        # Called only when the cues have stems.
        return self.search(text), any(stem in text for stem in self.stems)  # type: ignore[union-attr]

    def finditer(self, text: str):
        if self.stems is None:
            yield from self.regex.finditer(text)
            return
        if len(text) <= _SHORT_TEXT:
            # Cues without stems were searched above.
            scan, at_stem, start = self._stem_scanner.search, self._at_stem, 0  # type: ignore[union-attr]
            while stem := scan(text, start):
                match = at_stem[stem[0]].match(text, stem.start())
                if match:
                    yield match
                start = max(stem.start() + 1, match.end()) if match else stem.start() + 1
            return
        end = 0
        for start, stem in self._starts(text):
            if start >= end and (match := self._at_stem[stem].match(text, start)):
                end = match.end()
                yield match


class CueScan:
    """Which of several CuePatterns can match in a text, from one scan of it for all their stems.

    A CuePattern matches only where one of its stems stands, so a pattern none of whose stems the
    text holds finds nothing there: searching for it can be skipped. Where several stems stand at
    one place they are prefixes of the longest, which the scan gives; each stem maps to every
    pattern with a stem that starts it.
    """

    def __init__(self, patterns):
        if any(pattern.stems is None for pattern in patterns):
            raise ValueError("a cue pattern without literal stems can match anywhere")
        every = set().union(*(pattern.stems for pattern in patterns))
        self._scanner = re.compile(literal_trie(every))
        self._patterns_at = {stem: frozenset(pattern for pattern in patterns
                                             if any(stem.startswith(own) for own in pattern.stems))
                             for stem in every}

    def present(self, text: str) -> frozenset:
        """The patterns with a stem in the text (each of the others finds nothing in it)."""
        found: frozenset[CuePattern] = frozenset()
        scan, patterns_at = self._scanner.search, self._patterns_at
        match = scan(text)
        while match:
            found |= patterns_at[match[0]]
            match = scan(text, match.start() + 1)
        return found


def _compile(cues) -> CuePattern:
    """One pattern for all cues of a classifier (one scan of the text); group N is cue N.

    Cues are written in lower case and matched against lower-cased text: much faster than
    re.IGNORECASE on long documents.
    """
    return CuePattern([pattern for _, pattern in cues], capture=True)


def _outer_label(match: re.Match, cues) -> str:
    """The label of the cue that matched (cue patterns use only non-capturing groups)."""
    return cues[match.lastindex - 1][0]  # type: ignore[operator]  # every cue is a group: one matched


_WORKLOAD_RES: Final = (_compile(_WORKLOAD_CUES), _WORKLOAD_CUES)
_PHASE_RES: Final = (_compile(_PHASE_CUES), _PHASE_CUES)
_METHOD_RES: Final = (_compile(_METHOD_CUES), _METHOD_CUES)


def _earliest(text: str | None, compiled) -> str | None:
    if not text:
        return None
    regex, cues = compiled
    match = regex.search(text.lower())
    return _outer_label(match, cues) if match else None


def classify_workload(text: str | None) -> str:
    """'inference', 'training', 'fine-tuning' or 'unknown'."""
    return _earliest(text, _WORKLOAD_RES) or "unknown"


def phase_near(before: str, after: str) -> str | None:
    """The phase of a figure: the cue closest before it, else the first one just after it.

    In "steady-state and peaked at 342 W" the 342 W is the peak; in "averaged 285 W
    steady-state" the cue follows the figure.
    """
    regex, cues = _PHASE_RES
    last = None
    for last in regex.finditer(before.lower()):
        pass
    if last is not None:
        return _outer_label(last, cues)
    return classify_phase(after)


# What SentenceCues reads: a sentence's phase, workload and method (the indexes of this tuple).
_SENTENCE_CLASSIFIERS: Final = (_PHASE_RES, _WORKLOAD_RES, _METHOD_RES)
PHASE, WORKLOAD, METHOD = range(len(_SENTENCE_CLASSIFIERS))
_SENTENCE_STEMS: Final = set().union(*(regex.stems or () for regex, _ in _SENTENCE_CLASSIFIERS))
# The scanner gives the longest of these stems where several start; each classifier's own stem
# there is the one of its stems that starts it (its stems are prefix-free: at most one does).
_SENTENCE_SCANNER: Final = re.compile(literal_trie(_SENTENCE_STEMS))
_OWN_STEMS: Final = {stem: tuple(next((own for own in regex.stems or () if stem.startswith(own)), None)
                          for regex, _ in _SENTENCE_CLASSIFIERS)
              for stem in _SENTENCE_STEMS}


class SentenceCues:
    """The earliest phase, workload and method cue of a lower-cased sentence, each what
    classify_phase, classify_workload and classify_method give for it, from one scan of it for
    the stems of all three (each classifier's own scan visits the places where its stems stand,
    in order, and tries its cues there: these are the places where the joint scan finds a stem
    that one of its stems starts). A longer text is searched by each classifier (see _SHORT_TEXT)."""

    def __init__(self, lowered: str):
        self.lowered = lowered
        self._stems: list[tuple[int, tuple[str | None, ...]]] | None = None

    def _where(self) -> list[tuple[int, tuple[str | None, ...]]]:
        if self._stems is None:
            found, scan, text = [], _SENTENCE_SCANNER.search, self.lowered
            stem = scan(text)
            while stem:
                found.append((stem.start(), _OWN_STEMS[stem[0]]))
                stem = scan(text, stem.start() + 1)
            self._stems = found
        return self._stems

    def first(self, which: int) -> tuple[str | None, bool]:
        """The label of the classifier's earliest cue (PHASE, WORKLOAD or METHOD; None when there is
        none), and whether the stem of one of its cues stands in the sentence. Where none does
        (phase), none stands in a lower-cased part of it either (the stems are ASCII, and
        str.lower maps each character alone but the Greek sigma, which is no ASCII), so
        phase_near finds nothing in the sentence's clauses and need not look."""
        regex, cues = _SENTENCE_CLASSIFIERS[which]
        if len(self.lowered) > _SHORT_TEXT:
            match, stem_seen = regex.search_noting_stems(self.lowered)
            return (_outer_label(match, cues) if match else None), stem_seen
        stem_seen = False
        for start, own_stems in self._where():
            own = own_stems[which]
            if own is not None:
                stem_seen = True
                match = regex.match_at_stem(own, self.lowered, start)
                if match:
                    return _outer_label(match, cues), True
        return None, stem_seen


def classify_phase(text: str | None) -> str | None:
    """'idle', 'steady', 'peak', 'prefill', 'decode' or None when the text does not say."""
    return _earliest(text, _PHASE_RES)


def classify_method(text: str | None) -> str | None:
    """'codecarbon', 'nvidia-smi', 'nvml', 'zeus', 'external-meter', 'tdp-estimate' or None."""
    return _earliest(text, _METHOD_RES)
