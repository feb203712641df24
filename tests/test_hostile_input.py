"""Hostile input: no extraction entry point raises, returns a non-finite figure, or takes time that
grows faster than its input.

Three parts: one test per input that once escaped or stalled (each fixed at its cause), a
hypothesis fuzz over every entry point, and growth checks (a 10x larger hostile input may cost
at most ~25x the time: linear is ~10x, quadratic 100x). No absolute times are asserted.
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crawler.extract import documents
from crawler.extract.ai_energy_score import (DOCUMENTED_FACTS, benchmark_report_records, leaderboard_records,
                                             methodology_facts, page_text, rendered_leaderboard_rows)
from crawler.extract.datafiles import DataFileError, read_rows
from crawler.extract.dataset_tables import extract_codecarbon, extract_data_file
from crawler.extract.github_issues import comment_records
from crawler.extract.gpus import normalise_gpu
from crawler.extract.markdown_doc import parse_blocks
from crawler.extract.model_cards import MAX_CARD_CHARS, co2_eq_emissions_records, extract_card, split_front_matter
from crawler.extract.models import params_from_count, params_from_name
from crawler.extract.tables import html_tables
from crawler.extract.units import find_carbon, find_figures, find_gpu_hours


def numbers_in(records) -> list:
    """Every number in the records, nested ones (bounds, traces) included."""
    found, stack = [], list(records)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, float):
            found.append(value)
    return found


def assert_all_finite(records) -> None:
    assert all(math.isfinite(number) for number in numbers_in(records))


# ------------------------------------------------------------------ inputs that once escaped


def test_a_figure_per_zero_queries_is_no_figure():
    assert find_figures("it used 5 Wh per 0 queries") == []
    assert comment_records("On the H100 it used 5 Wh per 0 queries, 300 W.", "issue#1").records[0]["power_w"] == 300


@pytest.mark.parametrize("text", ["The H100 draws -300 W at idle.", "The H100 draws \u2212300 W at idle."])
def test_a_glued_minus_sign_is_kept(text):
    assert [figure.value for figure in find_figures(text)] == [-300.0]


def test_a_dash_after_a_word_is_no_sign():
    assert [figure.value for figure in find_figures("GPU-300 W and 350-400W")] == [300.0, 375.0]


def test_scientific_notation_is_one_number():
    (figure,) = find_figures("1e-300 tokens/kWh")
    assert figure.value == pytest.approx(3.6e306)  # 3.6e6 J/kWh over 1e-300 tokens: flagged downstream
    assert [f.value for f in find_figures("2e3 W")] == [2000.0]
    assert find_figures("1e309 W") == []  # past a float: no figure


def test_a_power_of_ten_naming_a_units_scale_is_no_figure():
    extraction = comment_records("On my RTX 3060 the GPU counter is in mJ (1e-3J), the package in uJ (1e-6J).",
                                 "issue#1")
    assert extraction.records == [] and extraction.skipped["not_a_figure"] == 2
    (record,) = comment_records("The H100 used 1.5e3 J per query.", "issue#1").records
    assert record["energy_per_query_j"] == 1500


def test_a_lone_surrogate_in_a_post_or_card_is_read_around():
    (record,) = comment_records("The H100 \ud83d draws 300 W.", "issue#1").records
    assert record["power_w"] == 300 and "\ufffd" in record["excerpt"]
    (record,) = extract_card("The H100 \ud83d draws 300 W during inference.").records
    assert record["power_w"] == 300


def test_a_co2_figure_past_a_float_is_no_record():
    assert co2_eq_emissions_records({"co2_eq_emissions": {"emissions": 10**400}}) == []
    assert co2_eq_emissions_records({"co2_eq_emissions": float("inf")}) == []
    assert co2_eq_emissions_records({"co2_eq_emissions": "9" * 400}) == []


def test_numbers_past_pythons_conversion_limits_are_input_problems():
    card = "---\nco2_eq_emissions: " + "9" * 5000 + "\n---\nThe H100 draws 300 W during inference.\n"
    extraction = extract_card(card)
    assert [p.kind for p in extraction.problems] == ["broken_yaml"]
    assert [record["power_w"] for record in extraction.records] == [300]
    (problem,) = extract_card("---\nco2_eq_emissions:\n  emissions: " + "9" * 400 + "\n---\n").problems
    assert problem.kind == "unreadable_co2_eq_emissions"
    with pytest.raises(DataFileError) as raised:
        read_rows(b'[{"gpu": "H100", "power_w": ' + b"9" * 5000 + b"}]", "runs.json")
    assert raised.value.kind == "invalid_json"
    table = read_rows(b'{"power_w": ' + b"9" * 5000 + b'}\n{"gpu": "H100", "power_w": 300}\n', "runs.jsonl")
    assert table.rows == [{"gpu": "H100", "power_w": 300}] and [p.kind for p in table.problems] == ["invalid_json_line"]


def test_a_template_value_with_approx_is_read():
    card = "## Environmental Impact\n- **Hardware Type:** A100\n- **Hours used:** approx. 10\n"
    (record,) = extract_card(card).records
    assert record["gpu_hours"] == 10


YAML_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + previous] * 9)}]\n" for previous, name in zip("abcdefgh", "bcdefghi"))


def test_yaml_aliases_that_expand_past_the_budget_are_refused():
    card = "---\nco2_eq_emissions:\n  emissions: 5\n  source: &s\n" + "".join(
        f"    {line}\n" for line in YAML_BOMB.splitlines()) + "---\nbody\n"
    metadata, body, problems = split_front_matter(card)  # 9^9 values if expanded
    assert metadata == {} and body == "body\n" and [p.kind for p in problems] == ["yaml_alias_expansion"]
    assert [p.kind for p in split_front_matter("---\na: &a [1, *a]\n---\n")[2]] == ["yaml_alias_expansion"]
    # Aliases within the budget are read as YAML means them.
    assert split_front_matter("---\na: &a [1, 2]\nb: *a\n---\n")[0] == {"a": [1, 2], "b": [1, 2]}


def test_plain_front_matter_past_the_value_budget_is_refused_too():
    # No aliases: the simple reader reads it, and a block this long is still counted (a shorter one
    # cannot hold more values than characters, so it is not walked).
    from crawler.extract.model_cards import MAX_METADATA_VALUES
    card = "---\ntags: [" + ",".join(["a"] * MAX_METADATA_VALUES) + "]\n---\nbody\n"
    assert [p.kind for p in split_front_matter(card)[2]] == ["yaml_alias_expansion"]
    assert split_front_matter("---\ntags: [a, b]\n---\nbody\n")[0] == {"tags": ["a", "b"]}


def test_json_nested_too_deep_is_an_input_error():
    with pytest.raises(DataFileError) as raised:
        read_rows(b"[" * 100_000 + b"]" * 100_000, "data/deep.json")
    assert raised.value.kind == "nested_too_deep"
    table = read_rows(b'{"gpu": "H100", "power_w": 300}\n' + b"[" * 100_000 + b"\n", "data/runs.jsonl")
    assert table.rows == [{"gpu": "H100", "power_w": 300}] and [p.kind for p in table.problems] == ["invalid_json_line"]


def test_jsonl_rows_end_at_newlines_only():
    table = read_rows('{"gpu": "H100", "note": "a\u2028b\u0085c", "power_w": 300}\n'.encode(), "runs.jsonl")
    assert table.rows == [{"gpu": "H100", "note": "a\u2028b\u0085c", "power_w": 300}]


def test_non_finite_cells_give_no_figure():
    data = b"model,gpu,gpu_count,power_w\nllama,H100,nan,300\nllama,H100,inf,1e309\nllama,A100,1,250\n"
    extraction = extract_data_file(read_rows(data, "runs.csv"), "runs.csv")
    assert_all_finite(extraction.records)
    assert sorted(record.get("power_w") for record in extraction.records) == [250.0, 300.0]


def test_a_pasted_codecarbon_csv_with_a_field_past_the_csv_limit_is_a_problem():
    post = ("```\ntimestamp,run_id,duration,emissions,gpu_power,gpu_energy,gpu_count,gpu_model\n"
            "2024-01-01T00:00:00,r1,60,0.001,280,0.005,1,NVIDIA H100 PCIe\n"
            f"2024-01-01T00:01:00,{'x' * 200_000},60,0.001,280,0.005,1,NVIDIA H100 PCIe\n```")
    extraction = comment_records(post, "issue#1")
    assert [p.kind for p in extraction.problems] == ["malformed_csv"]
    assert len(extraction.records) == 1  # the run before the broken line is kept


def test_html_tables_nested_past_the_bound_are_passed_over_and_unclosed_ones_read_to_the_end():
    row = "<tr><th>GPU</th><th>Power (W)</th></tr><tr><td>H100</td><td>300</td></tr>"
    def nested(depth):
        return "<table><tr><td>" * (depth - 1) + "<table>" + row + "</table>" + "</td></tr></table>" * (depth - 1)

    assert [len(html_tables(nested(depth))) for depth in (1, 3, 4, 50)] == [1, 1, 0, 0]
    (unclosed,) = html_tables("<table>" + row)
    assert unclosed.rows == [["H100", "300"]]


def test_a_card_past_the_size_bound_is_read_up_to_it():
    card = "The H100 draws 300 W during inference.\n\n" + "x" * MAX_CARD_CHARS
    extraction = extract_card(card)
    assert [p.kind for p in extraction.problems if p.kind == "too_long"] == ["too_long"]
    assert [record["power_w"] for record in extraction.records] == [300]


@pytest.mark.parametrize("nesting", ["'>' * 100_000", "'> ' * 60_000", "'1. ' * 60_000", "'- > 1. ' * 30_000"])
def test_containers_nested_past_the_parsers_stack_do_not_crash_the_process(nesting):
    # Run apart: without the bound, the parser overflows its stack and the process dies (SIGSEGV).
    reading = ("from crawler.extract.github_issues import comment_records\n"
               "from crawler.extract.model_cards import extract_card\n"
               f"text = {nesting} + ' The H100 draws 300 W.'\n"
               "extract_card(text); comment_records(text, 'issue#1')\n")
    finished = subprocess.run([sys.executable, "-c", reading], capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr[-500:]


def test_container_marks_within_the_bound_are_read_as_markdown():
    (block,) = [b for b in parse_blocks("> > > The H100 draws 300 W.\n") if b.kind == "paragraph"]
    assert block.quoted and block.text == "The H100 draws 300 W."


def test_the_time_budget_stops_reading_and_keeps_what_was_read(monkeypatch):
    # A clock read when the deadline is set and before each block: past the budget at the second.
    readings = itertools.chain([0.0, 0.0], itertools.repeat(100.0))
    monkeypatch.setattr(documents.time, "monotonic", lambda: next(readings))
    extraction = documents.document_records("On an H100 it draws 300 W.\n\nOn the A100 it draws 200 W.\n",
                                            table_extractor="card_table", locator_prefix="", is_post=False,
                                            time_budget_s=10)
    assert [record["power_w"] for record in extraction.records] == [300]
    assert [p.kind for p in extraction.problems] == ["time_budget"]


# ------------------------------------------------------------------ fuzz

# Text in the shapes the rules look for, shuffled: figures, units, GPU names, Markdown, HTML, tool
# output, YAML, and characters that break naive code (surrogates, U+2028, NUL, non-finite numbers).
FRAGMENTS = ["300 W", "0.4 J/token", "5 Wh per 0 queries", "1e309 W", "-300 W", "\u2212300 W", "nan W",
             "inf", "H100", "NVIDIA ", "A100-SXM4-80GB", "8x ", "TP=2", "batch size 8", "idle", "peak",
             "| GPU | Power (W) |\n|---|---|\n", "| H100 | 300 |\n", "|", "\n", "\n\n", "# ", "## Results\n",
             "- **Hardware Type:** ", "- **Hours used:** ", "approx. 10", "Carbon Emitted: ", "12 tCO2eq",
             "```\n", "```csv\n", "~~~", "<table>", "<tr><td>", "</td></tr></table>", "<h1>", "<!--", "-->",
             "[", "](", ")", "*", "**", "_", "`", ">", "> ", "\ud83d", "\u2028", "\x00", "\r\n", "\t",
             "---\n", "co2_eq_emissions: ", "&a ", "*a ", "{", "}", "[x, ", "9" * 40, ".", ",", "-",
             "Pwr:Usage/Cap", "|   0  NVIDIA H100 PCIe    On   | N/A   40C    P0   300W / 350W |",
             "power.draw [W]\n", "# gpu   pwr\n# Idx     W\n    0   111\n", "[codecarbon INFO] ",
             "Energy consumed for all GPUs : 0.5 kWh", "timestamp,project_name,run_id,duration,emissions,energy_consumed\n"]
hostile_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map("".join)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
                         st.sampled_from(["nan", "inf", "1e309", "-5", "approx. 10", "300 W", "H100", "9" * 400]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)
row_keys = st.sampled_from(["gpu", "gpu_model", "power_w", "gpu_power", "gpu_count", "batch_size", "model",
                            "energy_per_token_j", "total_gpu_energy", "duration", "emissions", "energy_consumed",
                            "gpu_energy", "run_id", "timestamp", "energy_score", "tokens_per_kwh", "task"])
rows = st.lists(st.dictionaries(row_keys, json_scalars, max_size=8), max_size=6)
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(hostile_text)
def test_fuzz_documents(text):
    for extraction in (extract_card(text), comment_records(text, "issue#1"),
                       comment_records(text, "issue#1#c2", title=text[:80], reply=True)):
        assert_all_finite(extraction.records)


@FUZZ
@given(hostile_text)
def test_fuzz_text_rules(text):
    for found in (find_figures(text), find_carbon(text), find_gpu_hours(text)):
        assert all(math.isfinite(figure.value) for figure in found)
    html_tables(text)
    normalise_gpu(text[:200])
    params_from_name(text)
    params_from_count(text)
    rendered_leaderboard_rows(text or "<p></p>")
    methodology_facts(page_text(text or "<p></p>"))


@FUZZ
@given(json_values)
def test_fuzz_card_metadata(value):
    assert_all_finite(co2_eq_emissions_records({"co2_eq_emissions": value}))
    assert_all_finite(co2_eq_emissions_records(value if isinstance(value, dict) else {"x": value}))


@FUZZ
@given(rows, st.sampled_from(["runs.csv", "data/emissions.csv", "results.json", "x.jsonl"]))
def test_fuzz_data_rows(table_rows, path):
    for extraction in (extract_codecarbon(table_rows, path), leaderboard_records(table_rows, "text_generation",
                                                                                    DOCUMENTED_FACTS, path)):
        assert_all_finite(extraction.records)
    data = json.dumps(table_rows).encode()
    try:
        table = read_rows(data, "runs.json")
    except DataFileError:
        return
    assert_all_finite(extract_data_file(table, "runs.json").records)


@FUZZ
@given(json_values)
def test_fuzz_reports(value):
    report = value if isinstance(value, dict) else {"report": value}
    assert_all_finite(benchmark_report_records(report, "report.json", DOCUMENTED_FACTS).records)
    try:
        table = read_rows(json.dumps(value).encode(), "report.json")
    except DataFileError:
        return
    assert_all_finite(extract_data_file(table, "report.json").records)


@FUZZ
@given(st.binary(max_size=300), st.sampled_from(["a.csv", "a.tsv", "a.json", "a.jsonl", "a.parquet"]))
def test_fuzz_data_file_bytes(data, path):
    try:
        table = read_rows(data, path)
    except DataFileError:
        return
    assert_all_finite(extract_data_file(table, path).records)


# ------------------------------------------------------------------ growth


def cost(function, text: str) -> float:
    """The least of three CPU times of this process: other processes on the machine (a loaded CI
    runner) then cost it nothing, and what noise is left only ever adds time."""
    timings = []
    for _ in range(3):
        started = time.process_time()
        function(text)
        timings.append(time.process_time() - started)
    return min(timings)


GROWTH_CASES = {
    "a run of digits": lambda n: "The H100 draws " + "1" * n,
    "digits and commas": lambda n: "H100 " + "1," * (n // 2),
    "GPU names before a figure": lambda n: "NVIDIA " * (n // 7) + "H100 300 W",
    "an unclosed <table": lambda n: "H100 300 W <table" + " x" * (n // 2),
    "many unclosed <table": lambda n: "H100 300 W " + "<table x" * (n // 8),
    "an unclosed <h1>": lambda n: "H100 300 W <h1>" + "x " * (n // 2),
    "tables nested deep": lambda n: "<table><tr><td>" * (n // 30) + "H100 300 W" + "</td></tr></table>" * (n // 30),
    "blank lines": lambda n: "H100 300 W" + "\n" * n + "x",
    "a run of [": lambda n: "[" * n + " 300 W H100",
    "a run of [ in a table cell": lambda n: "| a | Power (W) |\n|---|---|\n| " + "[" * n + " | 300 |",
    "a run of < in a table cell": lambda n: "| a | Power (W) |\n|---|---|\n| " + "<" * n + " | 300 |",
    "fence openings": lambda n: "```\n" * (n // 4) + "300 W H100",
    "list nesting": lambda n: "".join("  " * min(depth, 60) + "- x\n" for depth in range(n // 60)) + "300 W H100",
    "tables between figures": lambda n: "| a | b |\n|---|---|\n| 1 | 2 |\n\nAn H100 draws 300 W.\n\n" * (n // 50),
}


@pytest.mark.parametrize("name", list(GROWTH_CASES))
def test_time_grows_linearly_with_hostile_input(name):
    make = GROWTH_CASES[name]
    for function in (extract_card, lambda text: comment_records(text, "issue#1")):
        small, large = cost(function, make(15_000)), cost(function, make(150_000))
        # 10x the input: ~10x the time when linear, 100x when quadratic. The floor keeps timer
        # resolution and fixed costs from making a tiny "small" time look like growth.
        assert large <= 25 * max(small, 0.002), f"{name}: {small:.4f}s -> {large:.4f}s for 10x the input"


FIGURE_RULE_CASES = {
    "a run of digits": lambda n: "1" * n,
    "digits and commas": lambda n: "1," * (n // 2),
    "digits and spaces": lambda n: "1 " * (n // 2),
}


@pytest.mark.parametrize("name", list(FIGURE_RULE_CASES))
@pytest.mark.parametrize("rule", [find_figures, find_carbon, find_gpu_hours])
def test_figure_patterns_grow_linearly(rule, name):
    # Documents reach these patterns a sentence piece at a time (1,000 characters), which hides
    # a quadratic pattern from the document-level checks above: it is timed here on its own.
    make = FIGURE_RULE_CASES[name]
    small, large = cost(rule, make(500)), cost(rule, make(5_000))
    assert large <= 25 * max(small, 0.002), f"{rule.__name__} on {name}: {small:.4f}s -> {large:.4f}s"

