"""GitHub issue bodies and comments (Markdown) -> records, and the tools a discussion mentions."""

from __future__ import annotations

import re

from .documents import DocumentExtraction, document_records
from .records import without_surrogates

# Measurement tools and techniques people name when they discuss GPU power.
TOOL_CUES = (
    ("NVML", r"\bnvml\b|pynvml|nvidia-ml-py"),
    ("nvidia-smi", r"nvidia-smi"),
    ("Zeus", r"\bzeus\b"),
    ("CodeCarbon", r"code\s?carbon"),
    ("power capping", r"power[- ]?(?:cap|capping|limit)|nvidia-smi\s+-pl\b"),
    ("external meter", r"wall[- ]?(?:meter|plug|socket)|power meter|\bpdu\b|kill[- ]a[- ]watt|smart plug"),
    ("RAPL", r"\brapl\b"),
    ("DCGM", r"\bdcgm\b"),
    ("Carbontracker", r"carbon\s?tracker"),
    ("experiment-impact-tracker", r"experiment[- ]impact[- ]tracker"),
    ("pyJoules", r"pyjoules"),
    ("ML CO2 Impact calculator", r"ml\s?co2|impact calculator"),
)
_TOOL_RES = tuple((name, re.compile(pattern)) for name, pattern in TOOL_CUES)
# A body past this is read only up to it: a pasted log of megabytes holds no more statements.
MAX_BODY_CHARS = 200_000


def tools_mentioned(text: str) -> list[str]:
    """Tools and techniques named in the text, in TOOL_CUES order."""
    lowered = text.lower()
    return [name for name, regex in _TOOL_RES if regex.search(lowered)]


def comment_records(markdown: str, locator_prefix: str, *, title: str = "",
                    reply: bool = False) -> DocumentExtraction:
    """Tool output (in code blocks or not), power tables and prose figures of an issue body or comment.

    ``title``: the issue's title. With the body it is one post: read for context (the GPU it
    names), never for figures of its own. A reply (``reply``) does not inherit the title's GPU,
    its quoted blocks repeat what others wrote, and the title only says the thread is about GPUs.
    """
    return document_records(without_surrogates(markdown[:MAX_BODY_CHARS]), table_extractor="markdown_table",
                            locator_prefix=locator_prefix, title="" if reply else title, topic=title,
                            read_quotes=not reply)
