"""The document model: CommonMark blocks, sections, the reading plan and partial parsing."""

from crawler.extract.documents import candidate_lines, reading_plan
from crawler.extract.markdown_doc import layout, parse_blocks


def kinds(text: str) -> list[tuple[str, str]]:
    return [(b.kind, b.text) for b in parse_blocks(text)]


def test_blocks_with_markup_removed():
    text = ("# Power *notes*\n\nIt draws **80–100W** on a [card](http://x) `nvidia-smi` ![img](y)\n"
            "over a soft break.\n\n- **GPU:** 2 x A100\n  - nested 5 W\n\n> quoted 7 W\n")
    assert kinds(text) == [
        ("heading", "Power notes"),
        ("paragraph", "It draws 80–100W on a card nvidia-smi  over a soft break."),
        ("list_item", "GPU: 2 x A100"),
        ("list_item", "nested 5 W"),
        ("paragraph", "quoted 7 W"),
    ]
    blocks = parse_blocks(text)
    assert blocks[2].list_id != blocks[3].list_id and blocks[4].quoted
    assert [b.section for b in blocks] == [-1, 0, 0, 0, 0]


def test_a_star_between_spaces_is_arithmetic_not_emphasis():
    block, = parse_blocks("power = 180 * 0.5 = 90W\n")
    assert block.text == "power = 180 * 0.5 = 90W"


def test_code_blocks_keep_their_info_string_and_an_unclosed_fence_runs_on():
    blocks = parse_blocks("```csv\na,b\n```\n\n```python\nx = 1\n")
    assert [(b.kind, b.info, b.text) for b in blocks] == [("code", "csv", "a,b\n"), ("code", "python", "x = 1\n")]


def test_markdown_swallowed_by_an_unclosed_fence_is_read_as_markdown():
    blocks = parse_blocks("```python\ntrain()\n\n## Environmental Impact\n\n- **Carbon Emitted:** 6.66 kg CO2 eq.\n")
    assert [(b.kind, b.text) for b in blocks] == [
        ("code", "train()\n\n"), ("heading", "Environmental Impact"), ("list_item", "Carbon Emitted: 6.66 kg CO2 eq.")]
    assert blocks[2].line == 5  # where it stands in the source


def test_an_empty_heading_starts_no_section():
    blocks = parse_blocks("## Training\n\nOn H100s.\n\n## \n\n| a | b |\n|---|---|\n| 1 | 2 |\n")
    assert [b.section for b in blocks] == [-1, 0, 0, 0]


def test_layout_sections_and_code_spans():
    text = ("intro\n# A\ntext\n```\n# not a heading\n```\n<!--\n# not either\n-->\n## B\n#nospace\n"
            "    # indented code\n")
    found = layout(text)
    assert found.section_starts == [0, 1, 9]
    assert found.section_offsets == [0, text.index("# A"), text.index("## B")]
    assert found.code == [(4, 4)]


def test_a_heading_on_the_first_line_starts_the_first_section_once():
    assert layout("# Title\ntext\n## Next\n").section_starts == [0, 2]


def test_layout_never_cuts_an_unclosed_fence():
    assert layout("a\n```\n# x\n## y\n").section_starts == [0]


def test_layout_follows_html_blocks_whatever_their_lines_start_with():
    # A comment's end marker on a line of text ends it there; the heading after it starts a section.
    assert layout("<!-- note\n# hidden\ntext -->\n# After\n").section_starts == [0, 3]
    # Never ended: nothing after it starts a section.
    assert layout("<!-- note\n# hidden\n# still hidden\n").section_starts == [0]
    # An HTML line ends at a blank line, even one of a carriage return (a CRLF document).
    assert layout("<div>\r\n# inside\r\n\r\n# Out\r\n").section_starts == [0, 3]
    # Empty lines are not visited: the one between ends the HTML block all the same.
    assert layout("<div>\n# inside\n\n\n# Out\n").section_starts == [0, 4]
    assert layout("<div>\ntext\n# inside\ntext\n# still inside\n").section_starts == [0]


def test_candidate_lines_and_the_reading_plan():
    text = "No figure here.\nIt draws 300 W.\n```\nprint('250 W')\n```\n| Power (W) |\nco2 and 3 with\n"
    assert candidate_lines(text) == [1, 3, 5, 6]
    plan = reading_plan(text)
    assert (plan.lines, plan.code_lines) == ([1, 5, 6], [3])
    # Numbers with a power or energy unit, per line ("3 with" is no "3 W"): what a code line counts.
    assert plan.number_units == {1: 1, 3: 1}


def test_only_sections_holding_a_figure_are_parsed():
    text = "# One\n\nNothing.\n\n# Two\n\nIt draws 300 W.\n\n# Three\n\nNothing either.\n"
    blocks = parse_blocks(text, lines_of_interest=[6])
    assert [(b.kind, b.text, b.line) for b in blocks] == [("heading", "Two", 4), ("paragraph", "It draws 300 W.", 6)]


def test_lists_and_quotes_nested_to_the_bound_are_read_and_deeper_ones_are_not_markdown():
    from crawler.extract.markdown_doc import MAX_CONTAINER_DEPTH
    for mark in ("- ", "> ", "1. "):
        blocks = parse_blocks(mark * MAX_CONTAINER_DEPTH + "It draws 300 W on an A100.\n")
        assert blocks[-1].text == "It draws 300 W on an A100."
        # Past the bound the marks are blanked (the parser would overflow its stack): code, not prose.
        (block,) = parse_blocks(mark * 5000 + "It draws 300 W on an A100.\n")
        assert block.kind == "code" and block.text.endswith("It draws 300 W on an A100.\n")


def test_a_very_long_line_is_read_in_bounded_pieces():
    from crawler.extract.prose import MAX_SENTENCE_CHARS, sentences
    text = "word " * 1000
    pieces = sentences(text)
    assert all(len(piece) <= MAX_SENTENCE_CHARS for _, piece in pieces)
    assert "".join(piece for _, piece in pieces) == text


def test_text_the_parser_panics_on_is_parsed_without_its_square_brackets():
    # markdown-it-pyrs 0.4 panics on a "[" before an unclosed code span.
    (block,) = parse_blocks("See [the `x docs: on an H100 it draws 300 W.\n", line_breaks=True)
    assert block.kind == "paragraph" and block.text == "See [the x docs: on an H100 it draws 300 W."


def test_a_line_of_any_white_space_str_isspace_knows_ends_an_html_block():
    import sys

    for space in (chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace() and chr(code) != "\n"):
        assert layout(f"<div>\n{space}\n# A\n").section_starts == [0, 2], repr(space)
        assert layout(f"<div>\nx{space}\n# A\n").section_starts == [0], repr(space)
    assert layout("<div>\ntext\n# A\n").section_starts == [0]


def test_blank_lines_in_fenced_code_or_a_comment_do_not_end_an_html_block():
    assert layout("<div>\n```\n\n```\n# A\n").section_starts == [0]
    assert layout("<div>\n<!-- a\n\n-->\n# A\n").section_starts == [0]
    assert layout("<div>\n<!-- a\n-->\n\n# A\n").section_starts == [0, 4]


def test_a_block_is_asked_for_ascii_text_without_decoding_its_source():
    paragraph, code = parse_blocks("Hours \xe9: 3\n\n```\na:b\n```\n")
    assert paragraph.source_contains(b":") and not paragraph.source_contains(b"::")
    assert code.source_contains(b"a:b") and not code.source_contains(b"b:a")
    assert "raw" not in vars(paragraph)  # still not decoded


def test_candidates_found_from_a_rare_byte_are_where_their_strings_stand():
    import random
    import re

    from crawler.extract import documents
    pieces = [b"j", b"/", b"_", b"gpu_energy", b"j/tok", b"j/out", b"wh/", b"(", b"(w", b"(kw", b"(mj", b"((j",
              b"k", b"per token", b"per tok", b"x", b"\n", b"\x82", "co₂".encode(), "₂".encode(), b"co\xe2\x82"]
    rng = random.Random(15)
    for _ in range(3000):
        folded = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))  # past 8 places: the fallback
        for strings, rare in documents._FOUND_FROM_A_RARE_BYTE:
            pattern = re.compile(b"|".join(map(re.escape, strings)))
            assert sorted(documents._places(folded, strings, rare)) == [m.start() for m in pattern.finditer(folded)]
    assert candidate_lines("a\nuses 3 J/token\nb\nThe gpu_energy=(5)\nper token: 4 Wh/query\nCO₂") == [1, 3, 4, 5]


def test_the_candidate_scan_finds_what_every_pattern_finds():
    import random

    from crawler.extract import documents
    pieces = ["co2", "CO₂", "co", "2", "hours", "Wh/", "wh", "/", "gpu_energy", "per token", "J/tok", "J/out", "j",
              "(W)", "(kWh", "(", "3 W", "5kJ", "watts", " ", "\n", "x", "é"]
    rng = random.Random(29)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 40)))
        folded = documents._folded(text)
        expected_lines = set()
        for position in sorted(match.start() for pattern in documents._FOLDED_CANDIDATE_RES
                               for match in pattern.finditer(folded)):
            expected_lines.add(folded.count(b"\n", 0, position))
        assert documents.candidate_lines(text) == sorted(expected_lines)


def test_the_candidate_patterns_written_as_branches_match_as_their_plain_forms():
    import random
    import re

    from crawler.extract import documents
    plain = {documents._FOLDED_NUMBER_UNIT_RE: re.compile(rb"0 *[kmg]?[wj](?:h|atts?|oules?)?(?![a-z])"),
             documents._FOLDED_CANDIDATE_RES[1]: re.compile(rb"\([km]?[wj]")}
    pieces = [b"0", b"00", b" ", b"  ", b"k", b"m", b"g", b"w", b"j", b"h", b"att", b"atts", b"oule", b"oules", b"s",
              b"x", b"(", b"\n", b"0 kw", b"0wh", b"(kj"]
    rng = random.Random(31)
    for _ in range(5000):
        folded = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        for branches, written_plainly in plain.items():
            assert [m.span() for m in branches.finditer(folded)] == [m.span() for m in written_plainly.finditer(folded)]


def _as_read(blocks):
    return [(b.kind, b.line, b.end_line, b.section, b.list_id, b.quoted, b.text, b.rows, b.short_rows) for b in blocks]


def test_a_table_no_figure_stands_in_is_parsed_with_empty_rows_and_reads_as_written():
    text = ("## Results\n\nIt draws 300 W on an H100.\n\n| Benchmark | Score |\n|---|---|\n| MMLU | 67.3 |\n"
            "| GSM8K | é 55.1 |\n| short |\n\nAfter the table.\n")
    blocks = parse_blocks(text, lines_of_interest=[2])
    table = next(block for block in blocks if block.kind == "table")
    assert table.table_node is None  # its two body rows went to the parser blank
    assert _as_read(blocks) == _as_read(parse_blocks(text))  # every block, rows included, as written
    assert table.rows == [["Benchmark", "Score"], ["MMLU", "67.3"], ["GSM8K", "é 55.1"], ["short", ""]]
    # A table a figure stands in is parsed as written.
    (table,) = [block for block in parse_blocks(text, lines_of_interest=[6]) if block.kind == "table"]
    assert table.table_node is not None and table.rows[1] == ["MMLU", "67.3"]
    # The parser reads a line of white space other than spaces and tabs as a row: the table goes on
    # past it to the figure's line, and is parsed as written.
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\u00a0\n| 300 W | x |\n"
    (table,) = [block for block in parse_blocks(text, lines_of_interest=[4]) if block.kind == "table"]
    assert (table.line, table.end_line) == (0, 4) and table.table_node is not None


def test_pipe_rows_that_are_not_a_table_go_to_the_parser_as_written():
    # In a fence left open (read as Markdown from its heading on), and under a line that is no
    # delimiter row: the section is parsed as written.
    for text in ("It draws 300 W.\n\n```\n# Table\n| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n",
                 "It draws 300 W.\n\n| a | b |\n| - x |\n| 1 | 2 |\n| 3 | 4 |\n"):
        assert _as_read(parse_blocks(text, lines_of_interest=[0])) == _as_read(parse_blocks(text))


def test_the_mark_pattern_written_from_its_marks_matches_as_its_plain_form():
    import random
    import re

    from crawler.extract.markdown_doc import _MARK_RE
    plain = re.compile(r"\*{1,3}(?=\S)|(?<=\S)\*{1,3}|(?<![A-Za-z0-9])_{1,3}(?=\S)|(?<=\S)_{1,3}(?![A-Za-z0-9])"
                       r"|`+|\\(?=[!-/:-@\[-`{-~])")
    pieces = ["*", "**", "***", "****", "_", "__", "___", "a", "1", " ", "\n", "`", "``", "\\", "\\*", "!", "é", "\t",
              "x_y", "*a*", "_a_"]
    rng = random.Random(37)
    for _ in range(5000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert [m.span() for m in _MARK_RE.finditer(text)] == [m.span() for m in plain.finditer(text)], repr(text)
