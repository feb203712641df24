"""postprocess on hostile input and under SIGKILL: records that break the schema, rows holding line
separators, disagreeing re-crawls, bad timestamps, scraped markup, and runs killed while writing."""

import errno
import fcntl
import html
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from markdown_it_pyrs import MarkdownIt

from crawler.items import discussion_schema, measurement_schema
from crawler.pipelines.validate_schema import schema_validator
from postprocess import publish
from postprocess.__main__ import main
from postprocess.load import load_output
from postprocess.publish import OutputError, staged_output
from tests.test_postprocess import h100_records, record, write_jsonl

# One value of each JSON type.
JSON_SAMPLES = {"string": "text", "integer": 7, "number": 2.5, "boolean": True, "null": None, "array": ["x"],
                "object": {"k": "v"}}
DISCUSSION = {"id": "d" * 20, "source": "github_issues", "url": "https://github.com/o/r/issues/1",
              "retrieved_at": "2026-01-01T00:00:00Z", "repo": "o/r", "number": 1, "title": "GPU power", "state": "open",
              "created_at": None, "updated_at": None, "closed_at": None, "comment_count": 2, "comments_read": 2,
              "tools": ["nvidia-smi"], "tool_mentions": {"nvidia-smi": 2}, "measurement_count": 0, "complete": True}


def run_postprocess(source: Path, out: Path) -> dict:
    """The whole command, in this process; synthesis.json back."""
    assert main([str(source), "--out", str(out)]) == 0
    return json.loads((out / "synthesis.json").read_text("utf-8"))


def typed_variants(base: dict, schema: dict) -> list[tuple[str, dict]]:
    """(field, record) for every field and every JSON type: the base record with that one field
    replaced by a value of that type; ids kept apart so that no two valid variants merge."""
    variants = []
    for field in schema["properties"]:
        for value in JSON_SAMPLES.values():
            variant = {**base, "id": f"{len(variants) + 1:020x}"}
            variant[field] = value
            variants.append((field, variant))
    return variants


@pytest.mark.parametrize("schema, base, name", [
    (measurement_schema(), record(id="0" * 20, gpu="A10", power_w=120.0, power_kind="measured", model_id="m/x",
                                  batch_size=2, model_params_b=7.0, energy_per_token_j=0.5), "hub_models/x.jsonl"),
    (discussion_schema(), DISCUSSION, "github_issues/x.discussions.jsonl"),
], ids=["measurement", "discussion"])
def test_every_wrong_type_of_every_field_is_counted_not_crashed_on(tmp_path, schema, base, name):
    validator = schema_validator(schema)
    assert validator.is_valid(base)
    variants = typed_variants(base, schema)
    write_jsonl(tmp_path / "output" / name, [variant for _, variant in variants])
    synthesis = run_postprocess(tmp_path / "output", tmp_path / "report")
    # The crawler's own validator (jsonschema on the shipped schema) says which variants break it.
    broken = [(line, field) for line, (field, variant) in enumerate(variants, start=1)
              if not validator.is_valid(variant)]
    problems = synthesis["input"]["problems"]
    assert problems["count"] == len(broken) and problems["by_kind"] == {"breaks the schema": len(broken)}
    assert [p["line"] for p in problems["listed"]] == [line for line, _ in broken]
    assert all(re.match(rf"skipped: {field}[:\[]", p["reason"]) for p, (_, field) in zip(problems["listed"], broken))
    # Every field has a type that breaks it, each counted under the field.
    by_field = {}
    for _, field in broken:
        by_field[field] = by_field.get(field, 0) + 1
    assert problems["by_field"] == dict(sorted(by_field.items())) and set(by_field) == set(schema["properties"])
    kind = "measurements" if "power_w" in schema["properties"] else "discussions"
    assert synthesis["input"][kind] == len(variants) - len(broken)


def test_a_row_holding_line_separators_stays_one_record(tmp_path):
    # U+2028, U+2029, \x1c and \x85 are line breaks to str.splitlines, not to JSONL.
    name = "before\u2028between\u2029and\x1cafter\x85end"
    rows = [record(id="1" * 20, gpu="A10", power_w=300.0, power_kind="measured", model_name=name,
                   flags=["exceeds_tdp"]), record(id="2" * 20, gpu="L4", power_w=60.0)]
    (tmp_path / "output" / "hub_models").mkdir(parents=True)
    (tmp_path / "output" / "hub_models" / "x.jsonl").write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    loaded = load_output(tmp_path / "output")
    assert loaded.problems.count == 0 and list(loaded.measurements["model_name"].fillna("")) == [name, ""]
    run_postprocess(tmp_path / "output", tmp_path / "report")
    # The validation table's row for it is one line of the Markdown, whichever way it is split.
    markdown = (tmp_path / "report" / "report.md").read_text("utf-8")
    row, = [line for line in markdown.splitlines() if "before" in line]
    assert "between and after end" in row and row.count(" | ") == 5  # six cells: check, GPU, load, model, W, source


def test_records_of_another_kind_are_skipped_and_counted(tmp_path):
    write_jsonl(tmp_path / "github_issues" / "1.jsonl", [DISCUSSION, record(id="3" * 20, power_w=1.0)])
    write_jsonl(tmp_path / "github_issues" / "1.discussions.jsonl", [record(id="4" * 20), DISCUSSION])
    loaded = load_output(tmp_path)
    assert (len(loaded.measurements), len(loaded.discussions)) == (1, 1)
    assert [(Path(p.path).name, p.line, p.reason) for p in loaded.problems.listed] == [
        ("1.discussions.jsonl", 1, "skipped: a Measurement record where Discussion records are read"),
        ("1.jsonl", 1, "skipped: a Discussion record where Measurement records are read")]
    assert loaded.problems.by_kind == {"another kind of record": 2}


def test_a_record_from_before_a_field_existed_reads_it_as_null(tmp_path):
    old = record(id="5" * 20, power_w=1.0)
    del old["trace"], old["bounds"]  # nullable fields added to the schema later
    no_url = record(id="6" * 20, power_w=2.0)
    del no_url["url"]
    write_jsonl(tmp_path / "m" / "x.jsonl", [old, no_url])
    loaded = load_output(tmp_path)
    assert list(loaded.measurements["power_w"]) == [1.0] and loaded.measurements["trace"].isna().all()
    assert [(p.line, p.reason) for p in loaded.problems.listed] == [(2, "skipped: missing url")]


def test_reasons_never_quote_a_huge_value_and_labels_are_shortened(tmp_path):
    huge_name = "G" * 1_000_000
    write_jsonl(tmp_path / "output" / "m" / "x.jsonl", [
        record(id="7" * 20, gpu=huge_name, power_w=100.0, power_kind="measured", scope="gpu"),
        record(id="8" * 20, url="ftp://" + "x" * 1_000_000, power_w=1.0)])
    synthesis = run_postprocess(tmp_path / "output", tmp_path / "report")
    reason = synthesis["input"]["problems"]["listed"][0]["reason"]
    assert reason.startswith("skipped: url: 'ftp://xxx") and "(1,000,006 characters)" in reason and len(reason) < 300
    # The name is drawn in the power plot and shown (cut to 200 characters) in the coverage table.
    markdown = (tmp_path / "report" / "report.md").read_text("utf-8")
    assert f"| GPU | {'G' * 199}… (1,000,000 characters) | 1 |" in markdown
    assert (tmp_path / "report" / "report.html").stat().st_size < 500_000 and len(markdown) < 50_000


def test_disagreeing_duplicates_are_reported_and_the_latest_kept(tmp_path):
    first = record(id="9" * 20, power_w=100.0, retrieved_at="2026-01-01T00:00:00Z", url="https://e/a")
    # The same figure read again with the same numbers is a plain re-crawl, not a disagreement.
    again = record(id="a" * 20, power_w=50.0, retrieved_at="2026-01-01T00:00:00Z", excerpt="first")
    write_jsonl(tmp_path / "output" / "m" / "1.jsonl", [first, again])
    write_jsonl(tmp_path / "output" / "m" / "2.jsonl", [
        {**first, "power_w": 110.0, "energy_j": 5.0, "retrieved_at": "2026-02-01T00:00:00Z"},
        {**again, "retrieved_at": "2026-02-01T00:00:00Z", "excerpt": "second"}])
    synthesis = run_postprocess(tmp_path / "output", tmp_path / "report")
    assert synthesis["input"]["disagreeing_duplicates"] == {"count": 1, "listed_limit": 100, "listed": [
        {"id": "9" * 20, "url": "https://e/a", "fields": ["power_w", "energy_j"],
         "versions": [{"retrieved_at": "2026-01-01T00:00:00+00:00", "power_w": 100.0, "energy_j": None},
                      {"retrieved_at": "2026-02-01T00:00:00+00:00", "power_w": 110.0, "energy_j": 5.0}],
         "kept": "2026-02-01T00:00:00+00:00"}]}
    table = pd.read_parquet(tmp_path / "report" / "measurements.parquet").set_index("id")
    assert table.loc["9" * 20, "power_w"] == 110.0 and table.loc["a" * 20, "excerpt"] == "second"
    markdown = (tmp_path / "report" / "report.md").read_text("utf-8")
    assert "## Duplicates that disagree" in markdown and f"| {'9' * 20} | power (W) | 100 → 110 |" in markdown


def test_a_timestamp_that_is_not_iso_8601_never_wins(tmp_path):
    iso = record(id="b" * 20, power_w=100.0, retrieved_at="2026-01-01T00:00:00Z")
    # Both end in Z (the schema's pattern) and sort after the ISO one as text: "T" > "2", "3" > "1".
    write_jsonl(tmp_path / "m" / "x.jsonl", [
        iso, {**iso, "power_w": 999.0, "retrieved_at": "Tue, 01 Dec 2026 00:00:00Z"},
        {**iso, "power_w": 998.0, "retrieved_at": "2026-13-01T00:00:00Z"},  # month 13
        # As text "…00Z" > "…00.500Z"; as times the later one is .5 s on.
        record(id="c" * 20, power_w=1.0, retrieved_at="2026-03-01T00:00:00.500Z"),
        record(id="c" * 20, power_w=2.0, retrieved_at="2026-03-01T00:00:00Z")])
    loaded = load_output(tmp_path)
    frame = loaded.measurements.set_index("id")
    assert frame.loc["b" * 20, "power_w"] == 100.0
    assert frame.loc["b" * 20, "last_seen"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert frame.loc["c" * 20, "power_w"] == 1.0
    assert frame.loc["c" * 20, "last_seen"] == pd.Timestamp("2026-03-01T00:00:00.5Z")
    assert str(frame["last_seen"].dtype).endswith(", UTC]")
    assert loaded.problems.by_kind == {"retrieved_at not ISO 8601": 2}
    assert [(p.line, p.reason) for p in loaded.problems.listed] == [
        (2, "skipped: retrieved_at: 'Tue, 01 Dec 2026 00:00:00Z' is not an ISO 8601 date-time"),
        (3, "skipped: retrieved_at: '2026-13-01T00:00:00Z' is not an ISO 8601 date-time")]


def test_non_finite_numbers_are_input_problems(tmp_path):
    rows = [json.dumps(record(id=f"{i:020x}", power_w=value)) for i, value in
            enumerate([float("nan"), float("inf"), float("-inf"), 12345.0, 5.0])]
    rows[3] = rows[3].replace("12345.0", "1e999")  # a double overflows to infinity
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "x.jsonl").write_text("\n".join(rows) + "\n", "utf-8")
    loaded = load_output(tmp_path)
    assert list(loaded.measurements["power_w"]) == [5.0]
    assert loaded.problems.by_kind == {"non-finite number": 4}
    assert [p.reason for p in loaded.problems.listed] == [
        f"skipped: {token} is not a finite JSON number" for token in ("NaN", "Infinity", "-Infinity", "1e999")]


# numpy and matplotlib warn of the overflow this test is about.
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning",
                            "ignore:invalid value encountered:RuntimeWarning")
def test_synthesis_json_is_strict_json_whatever_the_figures(tmp_path):
    # Valid figures whose quartiles overflow a double (1e308 - -1e308 is infinite).
    write_jsonl(tmp_path / "output" / "m" / "x.jsonl", [
        record(id=f"{i + 1:020x}", gpu="A10", power_w=watts, power_kind="measured", energy_per_token_j=watts,
               model_params_b=7.0) for i, watts in enumerate([1e308, -1e308])])
    run_postprocess(tmp_path / "output", tmp_path / "report")

    def refuse(constant):
        raise ValueError(constant)

    synthesis = json.loads((tmp_path / "report" / "synthesis.json").read_text("utf-8"), parse_constant=refuse)
    row, = synthesis["power_by_gpu"]
    assert row["power_w"]["median"] == 0.0 and row["power_w"]["q1"] is None


EVIL_LINK = "[click](https://evil.example/)"


def test_report_markdown_renders_scraped_text_inert(tmp_path):
    nasty = {"model_name": "<script>alert(1)</script> **bold** _em_ `code` ~~gone~~ &amp; a | b",
             "gpu": f"<img src=x onerror=alert(1)> {EVIL_LINK}"}
    write_jsonl(tmp_path / "output" / "m" / "x.jsonl", h100_records() + [
        record(id="e" * 20, power_w=500.0, power_kind="measured", flags=["exceeds_tdp"],
               url="https://example.org/a|b>c d<e", **nasty)])
    run_postprocess(tmp_path / "output", tmp_path / "report")
    markdown = (tmp_path / "report" / "report.md").read_text("utf-8")
    rendered = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(markdown)
    for opened in ("<script", "<img src=x", "<strong>", "<em>", "<code>", "<s>", "<del>", 'href="https://evil.example'):
        assert opened not in rendered
    for text in nasty.values():
        assert html.escape(text, quote=False) in rendered
    # The validation table (this record above TDP; the idle 50 W is compared with idle figures only, so
    # no outlier) keeps six cells a row, and the odd link stays one percent-encoded URL.
    validation = rendered.split("<h2>Validation</h2>")[1].split("<h2>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", validation, re.S)
    assert len(rows) == 2 and all(row.count("<td>") == 6 for row in rows[1:])
    assert 'href="https://example.org/a%7Cb%3Ec%20d%3Ce"' in rendered


# --- output written whole -------------------------------------------------------------------------

EVERY_OUTPUT = {"datasets.csv", "ai_energy_score.csv", "model_cards.csv", "community.csv", "measurements.csv",
                "measurements.parquet", "synthesis.json", "plots/power_by_gpu.png", "plots/energy_per_token.png",
                "plots/batch_effect.png", "report.md", "report.html"}


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def temporaries(out: Path) -> list[Path]:
    return [path for path in out.parent.iterdir() if path.name.startswith(f".{out.name}.tmp-")]


def command(source: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "postprocess", str(source), "--out", str(out)]


def run_until_killed(source: Path, out: Path, moment) -> bool:
    """Starts a run and SIGKILLs it when ``moment()`` turns true; False when it finished first."""
    process = subprocess.Popen(command(source, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while process.poll() is None and not moment() and time.monotonic() < deadline:
        time.sleep(0.0005)
    killed = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return killed


def entries(folder: Path) -> int:
    try:
        return len(os.listdir(folder))
    except FileNotFoundError:  # removed while we looked
        return -1


def test_a_killed_run_leaves_one_whole_run_in_place(tmp_path):
    inputs = {"old": tmp_path / "old", "new": tmp_path / "new"}
    write_jsonl(inputs["old"] / "hub_models" / "x.jsonl", h100_records())
    write_jsonl(inputs["new"] / "hub_models" / "x.jsonl", h100_records() + [
        record(id="e" * 20, gpu="A10", power_w=120.0, power_kind="measured", energy_per_token_j=0.4,
               model_params_b=7.0),
        record(id="f" * 20, source="hub_datasets", gpu="L4", power_w=60.0, power_kind="measured")])
    # A complete run of each input (a run's output is the same bytes every time).
    expected = {}
    for name, source in inputs.items():
        subprocess.run(command(source, tmp_path / f"whole-{name}"), check=True, capture_output=True, timeout=300)
        expected[name] = snapshot(tmp_path / f"whole-{name}")
        assert set(expected[name]) == EVERY_OUTPUT
    assert expected["old"] != expected["new"]
    out = tmp_path / "report"
    shutil.copytree(tmp_path / "whole-old", out)
    current = "old"

    def writing(count):  # the run's temporary folder holds this many outputs
        return lambda: any(entries(folder) >= count for folder in temporaries(out) if folder not in leftovers)

    def swapped():  # the new folder is in place, the old one not yet removed
        return os.stat(out).st_ino != inode

    # Killed when its temporary folder appears, after the 2nd output (the outputs come in this
    # order: 4 CSVs, measurements.csv, .parquet, synthesis.json, plots/, report.md, report.html),
    # the 5th, ..., the last, and right after the swap.
    outcomes = set()
    for moment in [writing(count) for count in (0, 2, 5, 6, 7, 9, 10)] + [swapped]:
        inode, leftovers = os.stat(out).st_ino, temporaries(out)
        following = "new" if current == "old" else "old"
        killed = run_until_killed(inputs[following], out, moment)
        now = snapshot(out)
        assert now in (expected[current], expected[following])
        assert json.loads((out / "synthesis.json").read_text("utf-8"))["input"]["measurements"] in (5, 7)
        assert len(pd.read_parquet(out / "measurements.parquet")) in (5, 7)
        became = current if now == expected[current] else following
        left_a_folder = bool(set(temporaries(out)) - set(leftovers))
        outcomes.add((killed, "kept" if became == current else "replaced", left_a_folder))
        current = became
    # Some kills landed mid-write (the previous run kept, a partial folder left), one after the swap.
    assert (True, "kept", True) in outcomes and any(outcome[:2] == (True, "replaced") for outcome in outcomes)
    # The next run clears what killed runs left and puts its own output in place.
    following = "new" if current == "old" else "old"
    subprocess.run(command(inputs[following], out), check=True, capture_output=True, timeout=300)
    assert snapshot(out) == expected[following] and temporaries(out) == []


def test_output_is_swapped_in_by_two_renames_where_exchange_is_refused(tmp_path, monkeypatch):
    def refuse(first, second):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(publish, "exchange", refuse)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old")
    with staged_output(out) as staging:
        (staging / "a.csv").write_text("new")
        (staging / "b.csv").write_text("new")
    assert snapshot(out) == {"a.csv": b"new", "b.csv": b"new"} and temporaries(out) == []


def test_a_failed_run_leaves_the_previous_output_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.csv").write_text("old")
    with pytest.raises(RuntimeError), staged_output(out) as staging:
        (staging / "a.csv").write_text("half")
        raise RuntimeError("the synthesis failed")
    assert snapshot(out) == {"a.csv": b"old"} and temporaries(out) == []


def test_a_folder_holding_other_files_is_not_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="holds notes.txt"), staged_output(out) as staging:
        (staging / "report.md").write_text("new")
    assert snapshot(out) == {"notes.txt": b"mine"} and temporaries(out) == []


def test_one_run_at_a_time_writes_to_a_folder(tmp_path):
    out = tmp_path / "out"
    with open(tmp_path / ".out.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        completed = subprocess.run(command(tmp_path, out), capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2 and "another run is writing to" in completed.stderr and not out.exists()
