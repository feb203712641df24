"""Markdown documents (card bodies, issue posts) as a list of blocks, read by a CommonMark parser.

CommonMark decides what is code (an unclosed fence runs to the end of the document), what a table
is (GitHub's pipe tables, outer pipes optional) and what a list is; the extraction rules then read
each block knowing its kind and where it stands: the section heading above it, the list it belongs
to, whether it is quoted.

The parser is markdown-it-pyrs, the Rust port of markdown-it with the same token model as
markdown-it-py: about ten times faster, which matters on 30 KB cards read by the thousand.

One exception to CommonMark, because the text wins over the markup: a fence left unclosed that
swallows Markdown structure (headings or "- **Label:** value" bullets) is read as Markdown from
its first such line. A renderer shows that part as code, but it is plainly the author's prose
(a template section pasted after a code sample whose closing fence was forgotten).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any, Final

from markdown_it_pyrs import MarkdownIt
from mypy_extensions import mypyc_attr

from .records import cached_attribute

_PARSER: Final = MarkdownIt("commonmark").enable("table")
# The parser recurses once per nested container: a line of 50,000 ">" (or "1. " repeated) overflows
# its stack and kills the process. No real document nests quotes and lists this deep.
MAX_CONTAINER_DEPTH: Final = 50
_DEEP_CONTAINERS_RE: Final = re.compile(r"(?m)^[ \t]*(?:(?:>|[-+*]|\d{1,9}[.)])[ \t]*){%d}" % (MAX_CONTAINER_DEPTH + 1))
# What a line nested that deep holds somewhere: two container marks in a row. The signs are
# grouped by a character each holds: a text without ">" (most sections) holds none of the five
# ">" signs, and a one-character test is a memchr, where each sign's own search steps through the
# text ("" stands in every text: its signs are always searched for).
_NESTING_SIGNS_BY_CHARACTER: Final = ((">", (">>", "> >", "> -", "> 1", "- >")), ("*", ("* *",)), ("+", ("+ +",)),
                               (")", (") 1",)), ("", ("- -", ". 1", ". -")))


def _may_nest_deep(source: str) -> bool:
    """Whether the source holds one of the nesting signs (no line without one can be that deep)."""
    for character, signs in _NESTING_SIGNS_BY_CHARACTER:
        if character in source:
            for sign in signs:
                if sign in source:
                    return True
    return False


# markdown-it-pyrs 0.4 panics on a "[" before an unclosed code span ("see [the `x"): the inline
# parser indexes past its bracket stack. Without square brackets it does not.
_BRACKETS_AS_PARENTHESES: Final = str.maketrans("[]", "()")


class MarkdownParserPanic(ValueError):
    """The Markdown parser crashed on a text even with its brackets replaced."""


def _parse(source: str):
    """The parser's tree of ``source``, with container marks past MAX_CONTAINER_DEPTH on a line
    blanked out (same length, so every source offset stays true): the line is then plain text.

    When the parser panics, the source is parsed again with its square brackets as parentheses
    (same length again): links are lost, which the plain text drops anyway, and the rest stands.
    """
    if _may_nest_deep(source):  # most documents: no line could be that deep
        source = _DEEP_CONTAINERS_RE.sub(lambda deep: " " * len(deep[0]), source)
    for brackets_replaced in (False, True):
        try:
            return _PARSER.tree(source.translate(_BRACKETS_AS_PARENTHESES) if brackets_replaced else source)
        except BaseException as exc:  # a Rust panic arrives as pyo3's PanicException, a BaseException
            if type(exc).__name__ != "PanicException":
                raise
    raise MarkdownParserPanic("the Markdown parser failed on this text, with its brackets replaced too")


# Markdown structure inside an unclosed fence: a heading or a bold-label bullet.
_MARKDOWN_LINE_RE: Final = re.compile(r"^(?:#{1,6}\s+\S|\s{0,3}[-*+]\s+\*\*[^*\n]{1,80}\*\*)", re.MULTILINE)
_INLINE_SKIPPED: Final = {"image", "html_inline"}


# Not a native class when compiled with mypyc: its cached_attribute values live in the instance's
# __dict__, which native instances do not have.
@mypyc_attr(native_class=False)
@dataclass
class Block:
    """One block of a document.

    ``text``: the text with inline markup removed (headings, paragraphs, list items), or the
    literal content (code, HTML), or a table's source. ``section``: index of the nearest heading
    above, -1 when none. ``list_id``: list items of one list share it. ``line``: first source line.
    A table's cells are read only when asked for (``rows``): most tables hold no figure.
    """

    kind: str  # "heading", "paragraph", "list_item", "table", "code", "html"
    line: int
    end_line: int
    section: int = -1
    list_id: int | None = None
    quoted: bool = False
    info: str = ""  # a code block's info string ("bash", "csv")
    literal: str | None = field(default=None, repr=False)  # code and HTML content
    source: tuple = field(default=(b"", 0, 0), repr=False)  # (document bytes, start, end)
    table_node: Any = field(default=None, repr=False)
    line_breaks: bool = False  # the source's line breaks are breaks in the text (GitHub comments)

    @property
    def size(self) -> int:
        """Length of the block's source (bytes), known without reading its text."""
        return len(self.literal) if self.literal is not None else self.source[2] - self.source[1]

    @cached_attribute
    def raw(self) -> str:
        """The block's source (a code or HTML block's content): cheap to test for words before
        the text is worked out."""
        if self.literal is not None:
            return self.literal
        data, start, end = self.source
        return data[start:end].decode("utf-8", errors="replace")

    def source_contains(self, ascii_text: bytes) -> bool:
        """Whether ``raw`` holds ``ascii_text``, asked of the source's bytes without decoding them:
        an ASCII byte stands in UTF-8 only for itself, and a replaced invalid byte is never ASCII."""
        if self.literal is not None:
            return ascii_text.decode("ascii") in self.literal
        data, start, end = self.source
        return data.find(ascii_text, start, end) >= 0

    @cached_attribute
    def text(self) -> str:
        """Read when first asked for: most blocks of a long document are never read."""
        if self.literal is not None or self.kind == "table":
            return self.raw
        return _plain(self.raw, self.kind == "heading", self.line_breaks)

    @property
    def lines(self) -> list[str]:
        """The plain text of each source line (a paragraph of "Label: value" lines)."""
        if self.literal is not None:
            return self.literal.split("\n")
        data, start, end = self.source
        return [_plain(line) for line in data[start:end].decode("utf-8", errors="replace").split("\n")]

    @cached_attribute
    def _table(self) -> tuple[list[list[str]], list[int]]:
        if self.kind != "table":
            return [], []
        if self.table_node is not None:
            return _table_rows(self.table_node)
        # Its rows were blanked for the parse of its section (_without_unread_table_rows): the
        # table is parsed again from its source.
        table = next((node for node in _parse(self.raw).walk() if node.name == "table"), None)
        return _table_rows(table) if table is not None else ([], [])

    @property
    def rows(self) -> list[list[str]]:
        """A table's header row, then its rows."""
        return self._table[0]

    @property
    def short_rows(self) -> list[int]:
        """A table's body rows written short (numbered from 1)."""
        return self._table[1]


# Inline markup in a block's source: images, links (their text kept), inline HTML, emphasis and
# code marks, backslash escapes; and the container marks at line starts (quotes, list markers).
_IMAGE_RE: Final = re.compile(r"!\[[^\]\[\n]{0,500}\]\([^)\n]{0,500}\)")
_LINK_RE: Final = re.compile(r"\[([^\]\[\n]{0,500})\](?:\([^)\n]{0,500}\)|\[[^\]\n]{0,100}\])")
_TAG_RE: Final = re.compile(r"</?[A-Za-z][^<>\n]{0,500}>")
# Emphasis marks open before a non-space or close after one ("**80W**"); a "*" between spaces is
# a literal ("180 * 0.5"), as CommonMark reads it. Each alternative starts with its mark itself
# ("\*(?<=\S\*)" for "(?<=\S)\*", "\*\*{0,2}" for "\*{1,3}"): the engine then skips to the next
# mark at C speed, where an alternative starting with a lookbehind or a repeat is tried at every
# character (a 170-character paragraph: 34 µs, now 3).
_MARK_RE: Final = re.compile(r"\*\*{0,2}(?=\S)|\*(?<=\S\*)\*{0,2}"
                             r"|_(?<![A-Za-z0-9]_)_{0,2}(?=\S)|_(?<=\S_)_{0,2}(?![A-Za-z0-9])"
                             r"|``*|\\(?=[!-/:-@\[-`{-~])")
_MARK_CHARACTERS: Final = ("*", "_", "`", "\\")
# Matched at each line's start (it never holds a line break): a search for it would try every
# position of the block.
_LINE_START_RE: Final = re.compile(r"[ \t]*(?:>[ \t]?)*[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?)?")
_HEADING_MARKS_RE: Final = re.compile(r"^[ \t]*#{1,6}[ \t]*|(?<![ \t])[ \t]+#+[ \t]*$|\n[=-]+[ \t]*$", re.MULTILINE)
_HARD_BREAK_RE: Final = re.compile(r"(?<! ) {2,}\n|\\\n")
_WRAPPED_LINE_RE: Final = re.compile(r"\n(?![A-Z])")


def _without_line_starts(source: str) -> str:
    """Each line of the source without its container marks (_LINE_START_RE)."""
    if "\n" not in source:  # most blocks: one line
        return source[_LINE_START_RE.match(source).end():]  # type: ignore[union-attr]  # matches any line
    return "\n".join(line[_LINE_START_RE.match(line).end():]  # type: ignore[union-attr]  # matches any line
                     for line in source.split("\n"))


def _plain(source: str, heading: bool = False, line_breaks: bool = False) -> str:
    """A block's source as plain text: markup removed, soft line breaks as spaces (or, where the
    renderer breaks lines, ``line_breaks``, kept), hard ones kept."""
    text = _without_line_starts(source)
    if heading:
        text = _HEADING_MARKS_RE.sub("", text)
    if "[" in text:
        text = _LINK_RE.sub(r"\1", _IMAGE_RE.sub("", text))
    if "<" in text:
        text = _TAG_RE.sub("", text)
    if "\n" in text:
        text = _HARD_BREAK_RE.sub("\x00", text)
    if any(mark in text for mark in _MARK_CHARACTERS):  # most sentences hold no markup at all
        text = _MARK_RE.sub("", text)
    if line_breaks:  # a line that goes on in lower case is a wrapped sentence ("comes to\n~695W.")
        return _WRAPPED_LINE_RE.sub(" ", text).replace("\x00", "\n").strip()
    return " ".join(text.split("\n")).replace("\x00", "\n").strip()


def _inline_text(node) -> str:
    parts = []
    for child in node.children:
        name = child.name
        if name == "text":
            parts.append(child.meta.get("content", ""))
        elif name == "softbreak":
            parts.append(" ")
        elif name == "hardbreak":
            parts.append("\n")
        elif name in _INLINE_SKIPPED:
            continue
        else:
            parts.append(_inline_text(child))
    return "".join(parts)


class _LineIndex:
    """Byte offsets (the parser's source map) to line numbers of the source."""

    def __init__(self, data: bytes):
        self.starts = [0]
        position = data.find(b"\n")
        while position >= 0:
            self.starts.append(position + 1)
            position = data.find(b"\n", position + 1)

    def line(self, offset: int) -> int:
        return bisect_right(self.starts, offset) - 1


class _Reader:
    def __init__(self, source: str, line_offset: int = 0, line_breaks: bool = False):
        self.line_breaks = line_breaks
        self.source = source
        self.data = source.encode("utf-8")
        self.lines = _LineIndex(self.data)
        self.line_offset = line_offset
        self.blocks: list[Block] = []
        self.section = -1
        self.lists = 0

    def span(self, srcmap: tuple[int, int]) -> tuple[int, int]:
        """The first and last line of a node's source map (read from the node once: each read
        of a node's attribute builds a new Python object)."""
        start, end = srcmap
        return (self.line_offset + self.lines.line(start),
                self.line_offset + self.lines.line(max(start, end - 1)))

    def add(self, kind: str, node, *, start: int | None = None, end: int | None = None, **fields) -> Block:
        srcmap = node.srcmap or (0, 0)
        line, end_line = self.span(srcmap)
        source = (self.data, srcmap[0] if start is None else start, srcmap[1] if end is None else end)
        block = Block(kind, line, end_line, section=self.section, source=source, line_breaks=self.line_breaks,
                      **fields)
        self.blocks.append(block)
        return block

    def read(self, node, *, list_id: int | None = None, quoted: bool = False) -> None:
        """Every block under the node, in document order. Walked with a stack, not recursion: a
        hostile post can nest lists or quotes thousands deep."""
        stack = [(iter(node.children), list_id, quoted)]
        while stack:
            children, list_id, quoted = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                continue
            name = child.name
            if name == "heading":
                heading = self.add("heading", child, quoted=quoted)
                if heading.text:  # an empty heading ("## ") is a visual break, not a new section
                    self.section = len(self.blocks) - 1
            elif name == "paragraph":
                kind = "list_item" if list_id is not None else "paragraph"
                self.add(kind, child, list_id=list_id, quoted=quoted)
            elif name in ("bullet_list", "ordered_list"):
                self.lists += 1
                stack.append((iter(child.children), self.lists, quoted))
            elif name == "list_item":
                stack.append((iter(self.list_item(child, list_id, quoted)), list_id, quoted))
            elif name == "blockquote":
                stack.append((iter(child.children), list_id, True))
            elif name == "table":
                self.add("table", child, table_node=child, quoted=quoted)
            elif name in ("fence", "code_block"):
                self.code(child, quoted)
            elif name == "html_block":
                self.add("html", child, literal=child.meta.get("content", ""), quoted=quoted)

    def list_item(self, node, list_id: int | None, quoted: bool) -> list:
        """Adds a tight item's own text; returns the blocks nested in the item, to be read next."""
        children = node.children
        blocks = [c for c in children if c.name in _BLOCK_NAMES]
        if len(blocks) < len(children):  # a tight item: its text stands directly in the item
            srcmap = node.srcmap
            end = blocks[0].srcmap[0] if blocks else srcmap[1]
            self.add("list_item", node, start=srcmap[0], end=end, list_id=list_id, quoted=quoted)
        return blocks

    def code(self, node, quoted: bool) -> None:
        meta = node.meta
        content = meta.get("content", "")
        info = str(meta.get("info", "") or "").strip()
        srcmap = node.srcmap or (0, 0)
        line, end_line = self.span(srcmap)
        if node.name == "fence" and not _fence_closed(self.data, srcmap, meta):
            swallowed = _MARKDOWN_LINE_RE.search(content)
            if swallowed:
                code_part = content[: swallowed.start()]
                self.blocks.append(Block("code", line, end_line, section=self.section,
                                         quoted=quoted, info=info, literal=code_part))
                # Read the swallowed part as Markdown into the same block list (sections and
                # lists go on counting), with its lines numbered where they stand in the source.
                outer = (self.source, self.data, self.lines, self.line_offset)
                self.source = content[swallowed.start():]
                self.data = self.source.encode("utf-8")
                self.lines = _LineIndex(self.data)
                self.line_offset = line + 1 + code_part.count("\n")
                self.read(_parse(self.source), quoted=quoted)
                self.source, self.data, self.lines, self.line_offset = outer
                return
        self.blocks.append(Block("code", line, end_line, section=self.section,
                                 quoted=quoted, info=info, literal=content))


_BLOCK_NAMES: Final = {"paragraph", "bullet_list", "ordered_list", "blockquote", "table", "fence",
                "code_block", "html_block", "heading", "hr"}


def _fence_closed(data: bytes, srcmap: tuple[int, int], meta: dict) -> bool:
    """Whether a fence (its source map and meta) has its closing line (CommonMark lets an
    unclosed one run to the end)."""
    start, end = srcmap
    text = data[start:end].decode("utf-8", errors="replace").rstrip("\n")
    marker = meta.get("marker", "`") * int(meta.get("marker_len", 3) or 3)
    last = text.rsplit("\n", 1)[-1].strip() if "\n" in text else ""
    return last.startswith(marker) and not last.strip(marker[0])


def _table_rows(node) -> tuple[list[list[str]], list[int]]:
    """The rows of a table (header first) and the numbers (from 1) of body rows written short.

    GFM pads a row with fewer cells than the header; the padding cells stand, empty, at the row's
    end. A short row is often one cut off, so it is reported even though its cells are kept.
    """
    rows, short = [], []
    for row in node.walk():  # thead and tbody rows, in order
        if row.name == "trow":
            rows.append([" ".join(_inline_text(cell).split()) for cell in row.children])
            row_end = (row.srcmap or (0, 0))[1]
            if any(cell.srcmap and cell.srcmap[0] == cell.srcmap[1] == row_end for cell in row.children):
                short.append(len(rows) - 1)
    return rows, short


# Where a top-level section starts for certain: an ATX heading at the first column. Such a line
# ends any paragraph, list or quote above it, unless it stands inside a fenced code block or an
# HTML block, which layout follows.
# HTML blocks that run past blank lines (CommonMark types 1-5), with what ends each; any other
# HTML line opens a block that a blank line ends (types 6 and 7).
_HTML_UNTIL: Final = ((re.compile(r" {0,3}<(?:script|pre|style|textarea)(?:[\s>]|$)", re.IGNORECASE),
                re.compile(r"</(?:script|pre|style|textarea)>", re.IGNORECASE)),
               (re.compile(r" {0,3}<!--"), re.compile(r"-->")),
               (re.compile(r" {0,3}<\?"), re.compile(r"\?>")),
               (re.compile(r" {0,3}<![A-Za-z]"), re.compile(r">")),
               (re.compile(r" {0,3}<!\[CDATA\["), re.compile(r"\]\]>")))
_HTML_LINE_RE: Final = re.compile(r" {0,3}</?[A-Za-z]")
# A blank line: empty, or of white space alone (any character str.isspace knows, as \s does).
_BLANK_LINE_RE: Final = re.compile(r"^[^\S\n]*\n", re.MULTILINE)


@dataclass
class Layout:
    """What one pass over a document tells before parsing it.

    ``section_starts``: line numbers where a heading-delimited section certainly begins (0 first),
    and ``section_offsets`` where each of those lines starts in the text.
    Errs on the safe side: a line it cannot be sure of is never a start, so a section may run
    longer than its heading says, but is never cut inside a code block, HTML block, list or quote.
    ``code``: (first, last) content lines of each closed top-level fenced code block.
    """

    section_starts: list[int]
    section_offsets: list[int]
    code: list[tuple[int, int]]


# The lines layout reads, as start offset * 4 + kind: a heading's "#" first, or, after at most
# three spaces, a fence's marks or an HTML tag's "<". Text, tables, list items and blank lines
# change nothing unless an HTML block is open, and then only a blank line matters, looked for
# between these lines.
_HEADING: Final = 0
_FENCE: Final = 1
_HTML: Final = 2
_MARKS: Final = (("`", _FENCE), ("~", _FENCE), ("<", _HTML))


def _marked_lines(text: str) -> list[int]:
    """The lines layout reads, in order. Each is found from the places of one character, which
    str.find locates at memchr speed (a search for a string such as "```" or a line break and "#"
    steps through nearly every character: its skip filter lets the space and common letters
    through), and each line is looked at once: the search goes on from its end."""
    events = []
    position = text.find("#")
    while position >= 0:
        if position and text[position - 1] == "\n":  # a heading on the first line starts no section
            events.append(position * 4 + _HEADING)
        position = text.find("\n", position)
        position = text.find("#", position + 1) if position >= 0 else -1
    for character, kind in _MARKS:
        position = text.find(character)
        while position >= 0:
            line_start = text.rfind("\n", max(0, position - 4), position) + 1
            if (line_start or position <= 3) and position - line_start <= 3 \
                    and text.count(" ", line_start, position) == position - line_start \
                    and (kind == _HTML or text.startswith(character * 3, position)):
                events.append(line_start * 4 + kind)
            position = text.find("\n", position)
            position = text.find(character, position + 1) if position >= 0 else -1
    events.sort()
    return events


def layout(text: str, until: int | None = None) -> Layout:
    """The sections and fenced code blocks of a document (see Layout); with ``until``, only as
    far as the first section that begins after that line.

    Only the lines that may matter are read (_marked_lines). An HTML block that ends at a marker
    ("-->") is passed over to the line of its marker, whatever the lines between start with; one
    that a blank line ends holds back headings until a blank line outside fenced code.
    """
    starts, offsets, code = [0], [0], []
    fence: str | None = None
    opened = 0
    html_until = -1  # the offset where the HTML block being passed over ends
    blank_from = -1  # while an HTML block that a blank line ends is open: where to look for that line
    line, counted_to = 0, 0
    for event in _marked_lines(text):
        start, kind = event >> 2, event & 3
        if start <= html_until:
            continue
        line += text.count("\n", counted_to, start)
        counted_to = start
        if fence is not None:
            if kind == _FENCE:
                line_end = _line_end(text, start)
                closing, marks_end = _fence_marks(text, start)
                if closing[:1] == fence[0] and len(closing) >= len(fence) and not text[marks_end:line_end].strip():
                    fence = None
                    if line > opened + 1:
                        code.append((opened + 1, line - 1))
                    if blank_from >= 0:  # blank lines in code end nothing
                        blank_from = line_end + 1
            continue
        if blank_from >= 0:
            blank_from = -1 if _BLANK_LINE_RE.search(text, blank_from, start) else start
        if kind == _HEADING:
            if blank_from < 0 and _is_heading(text, start):
                starts.append(line)
                offsets.append(start)
                if until is not None and line > until:
                    break
        elif kind == _FENCE:
            line_end = _line_end(text, start)
            opening, marks_end = _fence_marks(text, start)
            if opening and not (opening[0] == "`" and text.find("`", marks_end, line_end) >= 0):
                fence, opened = opening, line
        else:
            line_end = _line_end(text, start)
            for html_start, html_end in _HTML_UNTIL:
                matched = html_start.match(text, start, line_end)
                if matched:
                    if not html_end.search(text, matched.end(), line_end):
                        ended = html_end.search(text, line_end + 1)
                        if ended is None:  # never ended: nothing after it starts a section
                            return Layout(starts, offsets, code)
                        html_until = _line_end(text, ended.start())
                        if blank_from >= 0:  # nor do blank lines inside it end the open block
                            blank_from = html_until + 1
                    break
            else:
                if blank_from < 0 and _HTML_LINE_RE.match(text, start):
                    blank_from = start
    return Layout(starts, offsets, code)


def _fence_marks(text: str, start: int) -> tuple[str, int]:
    """The marks of the fence the line at ``start`` opens or closes (at most three spaces, then
    three or more of one of "`" and "~"), and where they end; "" when it is no fence line. Told
    character by character, as headings are (_is_heading)."""
    end = len(text)
    first = start
    while first < end and first - start < 3 and text[first] == " ":
        first += 1
    if first == end or text[first] not in "`~":
        return "", first
    mark, marks_end = text[first], first
    while marks_end < end and text[marks_end] == mark:
        marks_end += 1
    return (text[first:marks_end], marks_end) if marks_end - first >= 3 else ("", first)


def _is_heading(text: str, start: int) -> bool:
    """Whether the line at ``start`` is an ATX heading with a title: one to six "#", a space or
    tab, and a character neither "#" nor white space (an empty "## " starts no new topic). Told
    character by character: a regex match costs a card's ninety headings more than their reading."""
    end = len(text)
    title = start
    while title < end and title - start < 7 and text[title] == "#":
        title += 1
    if title - start > 6 or title == end or text[title] not in " \t":
        return False
    while title < end and text[title] in " \t":
        title += 1
    return title < end and text[title] != "#" and not text[title].isspace()


def _line_end(text: str, position: int) -> int:
    """Where the line holding ``position`` ends: its line break, or the end of the text."""
    end = text.find("\n", position)
    return len(text) if end < 0 else end


def parse_blocks(markdown: str, lines_of_interest: list[int] | None = None,
                 sections: Layout | None = None, line_breaks: bool = False) -> list[Block]:
    """The blocks of a Markdown document, in reading order.

    With ``lines_of_interest`` (sorted line numbers), only the sections that hold one of those
    lines are parsed: a long card whose figures stand in two sections costs two sections' parse.
    ``sections``: the document's layout, when the caller has it.
    ``line_breaks``: the document's renderer breaks lines where the source does (GitHub's issues
    and comments), so a line is where a sentence ends even without a full stop.
    """
    if lines_of_interest is None:
        reader = _Reader(markdown, line_breaks=line_breaks)
        reader.read(_parse(markdown))
        return reader.blocks
    sections = sections or layout(markdown)
    starts, offsets = sections.section_starts, sections.section_offsets
    blocks: list[Block] = []
    lists = 0  # list ids stay unique across the sections read
    for section in sorted({bisect_right(starts, line) - 1 for line in lines_of_interest}):
        # A section runs to the line break before the next one's first line.
        end = offsets[section + 1] - 1 if section + 1 < len(offsets) else len(markdown)
        source, first = markdown[offsets[section]:end], starts[section]
        last = starts[section + 1] if section + 1 < len(starts) else first + source.count("\n") + 1
        read_lines = [line - first for line in lines_of_interest[bisect_left(lines_of_interest, first):
                                                                 bisect_left(lines_of_interest, last)]]
        parsed, blanked = _without_unread_table_rows(source, read_lines)
        read_from = len(blocks)
        reader = _Reader(source, first, line_breaks)
        reader.blocks, reader.lists = blocks, lists
        tree = _parse(parsed)
        if blanked and not _in_tables(tree, blanked, reader.lines):
            blanked, tree = [], _parse(source)  # they stood elsewhere (in code, say): the section as written
        reader.read(tree)
        lists = reader.lists
        for block in blocks[read_from:] if blanked else ():
            if block.kind == "table" and holds_one_of(blanked, block.line - first, block.end_line - first):
                block.table_node = None  # its rows, if ever asked for, are read from its source
    return blocks


# A table row line starts with a pipe after at most three spaces. A delimiter row: pipes, dashes,
# colons and spaces alone, with a dash.
_PIPE_ROW_STARTS: Final = ("|", " |", "  |", "   |")
_DELIMITER_ROW_RE: Final = re.compile(r"[|: \t]*-[-|: \t]*")


def holds_one_of(lines: list[int], first: int, last: int) -> bool:
    """Whether one of the sorted ``lines`` is in first..last."""
    index = bisect_left(lines, first)
    return index < len(lines) and lines[index] <= last


def _without_unread_table_rows(source: str, read_lines: list[int]) -> tuple[str, list[int]]:
    """``source`` with each body row of a table that no line of ``read_lines`` (sorted) stands in written
    as an empty row of the same length in UTF-8 ("|" and spaces), and the numbers of those lines.

    markdown-it-pyrs spends ~4 µs on each table cell (a 5-row table costs 7 paragraphs), and a
    table whose lines hold no figure is read for its text alone, which comes from the source.
    Rows are blanked only in runs of pipe rows under a delimiter row, up to the blank line that
    ends any table; the caller checks that each blanked line did stand in a table.
    """
    if "|" not in source or "-" not in source:
        return source, []
    lines = source.split("\n")
    blanked: list[int] = []
    number = 0
    while number + 2 < len(lines):
        if not (lines[number + 1].startswith(_PIPE_ROW_STARTS) and lines[number].startswith(_PIPE_ROW_STARTS)
                and _DELIMITER_ROW_RE.fullmatch(lines[number + 1])):
            number += 1
            continue
        rows_end = number + 2
        while rows_end < len(lines) and lines[rows_end].startswith(_PIPE_ROW_STARTS):
            rows_end += 1
        # A table ends at a blank line (of spaces and tabs: the parser reads a line of other white
        # space as a row), and may take rows without a pipe.
        table_end = rows_end
        while table_end < len(lines) and lines[table_end].strip(" \t"):
            table_end += 1
        if not holds_one_of(read_lines, number, table_end - 1):
            for row in range(number + 2, rows_end):
                lines[row] = "|" + " " * (len(lines[row].encode("utf-8")) - 1)
                blanked.append(row)
        number = table_end
    return ("\n".join(lines), blanked) if blanked else (source, [])


def _in_tables(tree, lines: list[int], line_index: _LineIndex) -> bool:
    """Whether each of the lines stands in a table of the parser's tree (at the top level, or in
    lists and quotes: a table in a fence an author left open is code)."""
    spans = []
    stack = list(tree.children)
    while stack:
        node = stack.pop()
        name = node.name
        if name == "table":
            start, end = node.srcmap or (0, 0)
            spans.append((line_index.line(start), line_index.line(max(start, end - 1))))
        elif name in _CONTAINERS:
            stack.extend(node.children)
    spans.sort()
    span = 0
    for line in lines:  # both in order: one walk
        while span < len(spans) and spans[span][1] < line:
            span += 1
        if span == len(spans) or spans[span][0] > line:
            return False
    return True


_CONTAINERS: Final = {"bullet_list", "ordered_list", "list_item", "blockquote"}
