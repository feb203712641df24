"""What a figure in a sentence is, before it may become a record.

People write "N W" about many things besides what a GPU draws: the power supply, the cap they set,
the CPU, the whole machine at the wall, a guess, a plan, the inputs of a calculation, a price. Each
figure gets one role, read from the words of its own clause (the text between the figure and the
nearest clause break or neighbouring figure) and from the characters right around it:

recorded roles
    ``measured``   a GPU's draw or energy, plainly stated or read from a tool
    ``rated``      TDP, rated or peak power capacity, board power: a spec value
    ``estimated``  a figure the text gives as an estimate or a guess ("my rough guesses put it at
                   about 2kw": kept, as the answer it gives, never as measured)
    ``system``     a whole machine at the wall, a PDU, a smart plug (kept with scope ``system``)
skipped roles (counted as ``extract/skipped/<role>``)
    ``cap``        a power limit or cap ("160W power limit", "286W / 350W", "out of 700 W")
    ``psu``        a power supply, circuit or socket capacity
    ``component``  a CPU, RAM, fans or another part that is not the GPU
    ``assumption`` an assumed figure, feeding a plan or a calculation ("assume all GPUs draw 300W")
    ``hypothetical`` what would, could or should happen ("supposed to be well above 500 W")
    ``calculation_input`` an operand of a written-out calculation (only its result is a figure)
    ``rate``       a figure per kWh, per hour, per GB: carbon intensity, price, a slope
    ``delta``      a difference, saving or overhead ("recover ~52 W", "+49.9 W")
    ``not_gpu``    a figure of another device ("an iPhone charge is 3Wh")
    ``accounting`` carbon after offsets ("market-based emissions were 0 tons CO2eq")

Cue lists are data: each is a named, lower-case pattern list that a reader can follow and a test
can exercise on the shapes of text seen in real posts.
"""

from __future__ import annotations

import re
from typing import Final

from mypy_extensions import mypyc_attr

from .context import CuePattern, CueScan
from .records import cached_attribute

RECORDED_ROLES: Final = ("measured", "rated", "estimated", "system")

# Words that make the figure in their clause a cap or limit.
CAP_CUES: Final = (r"power[- ]?limit", r"power[- ]?cap", r"\bcap(?:ped|s)?\b", r"\blimit(?:ed|s|er)?\b",
            r"\bout of\b", r"-pl\b", r"\bpl\s*=", r"\bmax(?:imum)? power\b", r"\bset (?:it |them |the gpus? )?to\b",
            r"\benforc", r"\bdrop (?:it |them )?to\b", r"\bpower target", r"\bcurve\b", r"\bknee\b",
            r"\bfloor(?:s|ed)? at\b")
PSU_CUES: Final = (r"\bpsus?\b", r"power suppl", r"\bsuppl(?:y|ies)\b", r"\bplatinum\b", r"\bgold\b", r"\btitanium\b",
            r"\bbronze\b", r"\bbreaker", r"\bcircuit", r"\boutlet", r"wall socket", r"\bups\b", r"\bpower brick",
            r"\bsystem'?s\s*:")
COMPONENT_CUES: Final = (r"\bcpus?\b", r"processor", r"\bram\b", r"\bdram\b", r"\bdimm", r"\bfans?\b",
                  r"motherboard", r"\bssds?\b", r"\bnvme", r"chipset", r"\bmonitor\b", r"\bcooler\b",
                  r"\bpump\b", r"\bsoc\b", r"\bpackage power", r"\brapl\b", r"\bxeon", r"\bepyc",
                  r"\bryzen", r"threadripper", r"\bcore i\d", r"\b(?:i3|i5|i7|i9)-\d{4,5}", r"\bboard\b(?! power)",
                  r"\bchassis")
# Words that put the GPU back in the clause after a component cue ("CPU and GPU draw ...").
GPU_CUES: Final = (r"\bgpus?\b", r"graphics card", r"\bvram\b", r"\bcard\b", r"nvidia", r"\bcuda\b")
SYSTEM_CUES: Final = (r"from the wall", r"at the wall", r"wall[- ]?(?:power|meter|plug|socket|draw)",
               r"whole (?:system|machine|server|node|box|rig|pc)", r"entire (?:system|machine|server|node)",
               r"total system", r"system power", r"\bpdu\b", r"smart plug", r"kill[- ]a[- ]watt",
               # "per server", "gpu node" ... written out whole: each is then a stem of its own (see
               # CuePattern), where "per" and "gpu" alone, in most clauses about GPUs, would have
               # the clause searched for the list.
               *(f"{word} {unit}" for word in ("per", "each", "whole", "gpu", "dgx", "hgx") for unit in ("server", "node")),
               r"(?:server|node) power")
ESTIMATE_CUES: Final = (r"\bestimat", r"ml ?co2 ?impact", r"impact calculator", r"\bguess", r"napkin",
                 r"back[- ]of[- ](?:the[- ])?envelope", r"ballpark")
# An assumption feeds a calculation or a plan: its figure is no answer.
ASSUMPTION_CUES: Final = (r"\bassum(?:e|es|ed|ing|ption)\b", r"\bi (?:think|believe|imagine|reckon)\b",
                   r"\bprobably\b", r"\bsuppose\b", r"\bsay\b")
HYPOTHETICAL_CUES: Final = (r"\bwould\b", r"\bcould\b", r"\bshould\b", r"\bmight\b", r"supposed to",
                     r"expected to", r"\bexpect(?:ed|ing)?\b", r"\bin theory\b", r"theoretical",
                     r"\bif (?:we|i|you|one)\b", r"\bwill (?:need|draw|use|consume|take)\b",
                     r"\bneed(?:s)? to\b", r"\bwant(?:s|ed)? to\b", r"\btarget\b", r"\bbudget\b",
                     r"\bplan(?:s|ned)? to\b", r"\brecommend", r"\bworst[- ]case\b", r"\bbest[- ]case\b",
                     r"\bheadroom\b")
# "Board power" is what the card reports drawing ("11W board power"); "total board power" (TBP) is
# the rating.
RATED_CUES: Final = (r"\btdp\b", r"thermal design power", r"\brated\b", r"peak power capacity",
              r"power capacity", r"total board power", r"\btbp\b", r"\btgp\b", r"\bspec(?:s|ified)?\b",
              r"nameplate")
# Carbon after offsets, renewable purchases or market-based accounting ("the total market-based
# emissions were 0 tons CO2eq"): an accounting result, not the carbon of the work.
ACCOUNTING_CUES: Final = (r"market[- ]based", r"\boffset", r"net[- ]zero", r"carbon[- ]neutral", r"\bcompensat")
DELTA_CUES: Final = (r"\bsav(?:e|es|ed|ing|ings)\b", r"\brecover", r"\breduc(?:e|es|ed|tion|ing)\b",
              r"\boverhead\b", r"\bdifference\b", r"\bdelta\b", r"\bincrease (?:of|by)\b",
              r"\bdecrease (?:of|by)\b", r"\bmore than (?:before|with)\b")
OTHER_DEVICE_CUES: Final = (r"\biphone", r"\bphone\b", r"\bcharg(?:e|er|ing)\b", r"\blaptop battery",
                     r"\bhouse(?:hold)?\b", r"\bkettle\b", r"\bbulb\b", r"\bcar\b", r"\bfridge\b")

# Clause breaks: punctuation that ends a clause, and words that start another one
# ("[,;()\[\]]|\s[-–—]\s|=>|->|\bbut\b|\bwhile\b|\bwhereas\b|\band\b"). Every alternative starts with
# a literal, so the engine scans for their first characters at C speed and, where one stands,
# skips the alternatives that start otherwise with one comparison each; the \b before a word is
# checked after the word, only where it stands. A dash between spaces is found at its dash (the
# spaces are most of a text's characters, and each would be a place to try): _clause_break_spans
# gives such a break (the one with a group) its space back.
_CLAUSE_BREAK_RE: Final = re.compile(r",|;|\(|\)|\[|\]|=>|->|-(?<=\s-)(\s)|–(?<=\s–)(\s)|—(?<=\s—)(\s)"
                              r"|and\b(?<=\band)|but\b(?<=\bbut)|while\b(?<=\bwhile)|whereas\b(?<=\bwhereas)")


def _clause_break_spans(text: str):
    """(start, end) of each clause break of a text, in order, as a search from the start of the text
    finds them: a dash break whose space ended the break before it is no break."""
    end = 0
    for found in _CLAUSE_BREAK_RE.finditer(text):
        start = found.start()
        if found.lastindex:  # the dash of " - ": the break starts at the space before it
            start -= 1
            if start < end:
                continue
        end = found.end()
        yield start, end


# What follows a figure that makes it a rate: per kWh, per hour, per GB, per month.
# The units after "per" by first letter, each letter's in the order "k?wh|mwh|kw\b|h\b|hr|hour|gb|gib|mb|
# month|mo\b|year|yr|day|week|km|mile|\$|€|usd|eur|cent" gives them: the engine tries the alternatives
# of an alternation in turn, and "per GPU" failed on each of 22.
_RATE_AFTER_RE: Final = re.compile(r"^\s*(?:(?:/|per\s+|a\s+)\s*(?:k(?:wh|w\b|m)|w(?:h|eek)|m(?:wh|b|onth|o\b|ile)|h(?:\b|r|our)"
                            r"|g(?:b|ib)|y(?:ear|r)|day|\$|€|usd|eur|cent)|(?:monthly|yearly|annually|daily|weekly)\b)",
                            re.IGNORECASE)
# "monthly power alone is about 5,600 kWh": a figure per period is a rate, whichever side says so.
# "\b(?:monthly|yearly|annual(?:ly)?|daily|weekly|per (?:month|year|day|week))\b[^.]{0,40}$", written to
# start with the class of the words' first letters (read case-sensitively; no other character folds
# to them), which the engine scans for at C speed where a \b is tried at every position; then each
# word's second letter as such a class, which the engine tests before trying the rest, and the \b
# and the first letter checked after the word, only where it stands.
_PERIOD_BEFORE_RE: Final = re.compile(r"(?-i:[mMyYaAdDwWpP])(?:(?-i:[oO])nthly(?<=\bmonthly)|(?-i:[eE])(?:arly(?<=\byearly)"
                               r"|ekly(?<=\bweekly)|r (?<=\bper )(?:month|year|day|week))|(?-i:[nN])nual(?<=\bannual)(?:ly)?"
                               r"|(?-i:[aA])ily(?<=\bdaily))\b[^.]{0,40}$",
                               re.IGNORECASE)
# "uses 40W more with a model loaded": a difference.
_DELTA_AFTER_RE: Final = re.compile(r"^\s*(?:of\s+power\s+)?(?:more|less|extra|higher|lower)\b", re.IGNORECASE)
_MONEY_RE: Final = re.compile(r"[$€£]\s*$|\b(?:usd|eur|cents?|dollars?)\s*$", re.IGNORECASE)
# The last characters _MONEY_RE can match after white space (IGNORECASE: "ſ" is an "s"): a text
# stripped of its white space at the end that ends otherwise holds no currency there.
_MONEY_LAST: Final = frozenset("$€£dDrRtTsSſ")
_OPERATOR_AFTER_RE: Final = re.compile(r"^\s*(?:[*×+]|/(?!\s*(?:gpu|card|device)\b)|=(?![>=]))", re.IGNORECASE)
_OPERATOR_BEFORE_RE: Final = re.compile(r"(?:[*×/+]|\bx)\s*$", re.IGNORECASE)
_EQUALS_RE: Final = re.compile(r"=(?![>=])")
_DRAW_CAP_GAP_RE: Final = re.compile(r"\s*/\s*")
_NEAR_CHARS: Final = 80
# A setting named right after its figure: "160W power limit", "the 290 W efficiency knee".
_CAP_AFTER_RE: Final = re.compile(r"\s*(?:\*\*)?\s*(?:power\s*|efficiency\s*|sweet\s*)?(?:knee|spot|target|setting|cap|limit)\b")


def _compile(cues: tuple[str, ...]) -> CuePattern:
    return CuePattern(cues)


CAP, PSU, COMPONENT, GPU, SYSTEM, ASSUMPTION, ESTIMATE, HYPOTHETICAL, RATED, DELTA, OTHER_DEVICE, ACCOUNTING = map(
    _compile, (CAP_CUES, PSU_CUES, COMPONENT_CUES, GPU_CUES, SYSTEM_CUES, ASSUMPTION_CUES, ESTIMATE_CUES,
               HYPOTHETICAL_CUES, RATED_CUES, DELTA_CUES, OTHER_DEVICE_CUES, ACCOUNTING_CUES))
# The cue lists ROLE_RULES reads in a figure's clause, found in one scan of it: most clauses hold
# the stems of none or one, and the others need no search.
_CLAUSE_CUES: Final = CueScan((PSU, CAP, DELTA, COMPONENT, GPU, OTHER_DEVICE, ASSUMPTION, HYPOTHETICAL, RATED, SYSTEM))


def clause_around(sentence: str, start: int, end: int, previous_end: int = 0,
                  next_start: int | None = None) -> tuple[str, str]:
    """(text before, text after) a figure within its clause, lower-cased.

    The clause stops at a clause break or at the neighbouring figures, so "draws 80-100W (out of
    a 160W power limit)" gives the 80-100W no cap cue and the 160W "out of a" / "power limit".
    """
    next_start = len(sentence) if next_start is None else next_start
    before = sentence[previous_end:start]
    last_end = None
    for _, last_end in _clause_break_spans(before):
        pass
    if last_end is not None:
        before = before[last_end:]
    after = sentence[end:next_start]
    first_break = _CLAUSE_BREAK_RE.search(after)
    if first_break:
        after = after[: first_break.start() - (1 if first_break.lastindex else 0)]
    return before.lower(), after[:60].lower()


def _component_nearer_than_gpu(before: str, after: str) -> bool:
    """A part other than the GPU is what the clause is about: the last device word before the
    figure is a component ("RAM Power : 5.9 W"), or the clause after it names one ("180W for this
    CPU") and no GPU word comes first."""
    last_component = max((m.end() for m in COMPONENT.finditer(before)), default=-1)
    last_gpu = max((m.end() for m in GPU.finditer(before)), default=-1)
    if last_component > last_gpu:
        return True
    if last_component < 0 and last_gpu < 0:
        component_after, gpu_after = COMPONENT.search(after), GPU.search(after)
        return bool(component_after) and (not gpu_after or component_after.start() < gpu_after.start())
    return False


# Not a native class when compiled with mypyc: its cached_attribute values live in the instance's
# __dict__, which native instances do not have.
@mypyc_attr(native_class=False)
class SentenceText:
    """A sentence, lower-cased once, and whether it says the figures in it are estimates: the
    same for all of them, read once (a sentence often holds several)."""

    def __init__(self, sentence: str):
        self.sentence = sentence
        self.lowered = sentence.lower()

    @cached_attribute
    def estimated(self) -> bool:
        # A cue matches only where one of its few stems stands, and most sentences hold none:
        # str's search for each (C speed) rules that out for a sixth of the trie scan's cost.
        return (any(stem in self.lowered for stem in ESTIMATE.stems)  # type: ignore[union-attr]  # its cues have stems
                and bool(ESTIMATE.search(self.lowered)))


class _Around:
    """The text a figure's role is read from: its clause before and after it (lower case), both
    together, the cue lists with a stem in the clause (before and after are parts of it: a list
    with none finds nothing in them either), the sentence, and the characters right after it."""

    __slots__ = ("before", "after", "clause", "cues", "sentence", "right_after")

    def __init__(self, before: str, after: str, sentence: SentenceText, right_after: str):
        self.before, self.after, self.right_after, self.sentence = before, after, right_after, sentence
        self.clause = f"{before} {after}"
        self.cues = _CLAUSE_CUES.present(self.clause)


# The role of a figure once the structural cases (rates, calculations, draw / cap pairs) are out:
# the first rule whose cue its text holds, in this order, else "measured".
# A cue list is searched only when the clause holds one of its stems (``in a.cues``); without a
# component cue, _component_nearer_than_gpu is False.
ROLE_RULES: Final = (
    ("psu", lambda a: PSU in a.cues and PSU.search(a.clause)),
    ("cap", lambda a: (CAP in a.cues and CAP.search(a.before)) or _CAP_AFTER_RE.match(a.after)),
    ("delta", lambda a: (DELTA in a.cues and DELTA.search(a.clause)) or a.before.rstrip().endswith("+")
     or _DELTA_AFTER_RE.match(a.right_after)),
    ("component", lambda a: COMPONENT in a.cues and _component_nearer_than_gpu(a.before, a.after)),
    ("not_gpu", lambda a: OTHER_DEVICE in a.cues and OTHER_DEVICE.search(a.clause)),
    ("assumption", lambda a: ASSUMPTION in a.cues and ASSUMPTION.search(a.before)),
    ("hypothetical", lambda a: HYPOTHETICAL in a.cues and HYPOTHETICAL.search(a.before)),
    ("rated", lambda a: RATED in a.cues and RATED.search(a.clause)),
    ("system", lambda a: SYSTEM in a.cues and SYSTEM.search(a.clause)),
    ("estimated", lambda a: a.sentence.estimated),
)


def figure_role(sentence: str, start: int, end: int, *, previous_end: int = 0,
                next_start: int | None = None, clause: tuple[str, str] | None = None,
                text: SentenceText | None = None) -> str:
    """The role of the figure at sentence[start:end] (see the module docstring). ``clause``: what
    clause_around gives for the same figure and neighbours, and ``text``: SentenceText(sentence),
    when the caller has them already."""
    # What stands right around the figure (the patterns anchored there need no more): operators,
    # currency, "per month", "more".
    after_text = sentence[end: end + _NEAR_CHARS]
    before_text = sentence[max(0, start - _NEAR_CHARS): start]
    # The patterns searched before the figure end with "\s*$": they match only in the last
    # characters before it, past its white space, which are all they are given. A currency word
    # is at most 7 characters, a period word 9 with at most 41 after it; one character more for
    # the \b before it.
    stripped = before_text.rstrip()
    if _RATE_AFTER_RE.match(after_text) or (stripped[-1:] in _MONEY_LAST and _MONEY_RE.search(stripped[-8:])) or \
            _PERIOD_BEFORE_RE.search(before_text[-51:]):
        return "rate"
    # An operand of a written-out calculation: next to an operator, with an "=" after it.
    if (_OPERATOR_AFTER_RE.match(after_text) or _OPERATOR_BEFORE_RE.search(stripped[-2:])) and \
            _EQUALS_RE.search(sentence, end):
        return "calculation_input"
    # "286W / 350W" with no calculation: the second figure of a draw / cap pair is the cap.
    if previous_end and _DRAW_CAP_GAP_RE.fullmatch(sentence, previous_end, start):
        return "cap"
    before, after = clause or clause_around(sentence, start, end, previous_end, next_start)
    around = _Around(before, after, text or SentenceText(sentence), after_text)
    return next((role for role, holds in ROLE_RULES if holds(around)), "measured")
