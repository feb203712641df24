"""The whole synthesis, pinned: a speed change must not change what postprocess writes.

``write_input`` writes a fixed crawl output (a few hundred records from a seeded generator, in many
shapes: every flag the synthesis reads, every phase, load and scope, traces with and without a
load window, whole servers and per-GPU shares of them, CPU-only runs, GPUs the catalogue does not
know, formula-like, markup and line-separator text, nulls in every field that may be null, re-crawls
that agree and that disagree, and files with bad lines, a BOM, blank lines and nothing at all), runs
``python -m postprocess`` on it and compares every file it writes with tests/snapshots/synthesis/:
the spreadsheets, synthesis.json and the report as text, measurements.parquet as its schema and rows
read back. Two things are masked: the input folder's path (problems name their file), and the
plots' PNG bytes in report.html (what their axes show stays compared, in ``data-axes``). The report
carries no date of its run. A change that alters the output on purpose regenerates the snapshot with

    python tests/test_synthesis_output_snapshot.py

and the snapshot's diff shows, in review, what the change did to the output.
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

import pyarrow.parquet
import pytest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "snapshots" / "synthesis"
TEXT_OUTPUTS = ("measurements.csv", "datasets.csv", "ai_energy_score.csv", "model_cards.csv", "community.csv",
                "synthesis.json", "report.md", "report.html")
INPUT_PLACEHOLDER = "<input>"
PNG_DATA = re.compile(r'src="data:image/png;base64,[A-Za-z0-9+/=]*"')

sys.path.insert(0, str(ROOT))
from crawler.items import MEASUREMENT_FIELDS  # noqa: E402
from postprocess import load  # noqa: E402
from postprocess.__main__ import main  # noqa: E402
from postprocess.report import _md_text  # noqa: E402

GPUS = [("H100 PCIe", 350.0), ("H100 SXM", 700.0), ("A100 SXM", 400.0), ("L4", 72.0), (None, None)]
RAW_NAMES = {None: ["Intel Xeon 8480", "CPU", "Mystery Accelerator 9000", "=HYPERLINK(\"http://x\")", None]}
SOURCES = ["hub_datasets", "hub_models", "ai_energy_score", "github_issues", "mlperf_power"]
FLAGS = ["exceeds_tdp", "zero_not_measured", "cpu_only", "per_gpu_from_total", "derived", "range_midpoint",
         "estimated", "system_level"]
ODD_TEXT = ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tlead tab", "\rlead cr", "<script>alert(1)</script>",
            "a | b", "[link](javascript:x)", "*emph* _x_ `code`", "line\u2028separator", "$x^2$", "# heading",
            "ünïcödé ✓", "x" * 300, "'quoted", "semi; colon"]
MODELS = ["org/llama-7b", "org/mistral-7b", "org/phi-2", "=org/evil", None]
TASKS = ["text_generation", "asr", "image_classification", None]


def _record(rng: random.Random, number: int) -> dict:
    gpu, tdp = GPUS[number % len(GPUS)]
    source = SOURCES[number % len(SOURCES)]
    raw = rng.choice(RAW_NAMES.get(gpu, [gpu, f"NVIDIA {gpu}", None]))
    scope = rng.choice(["gpu", "gpu", "system", "gpu+cpu+ram", None])
    kind = rng.choice(["measured", "measured", "measured", "peak", "rated", "estimated", None])
    flags = sorted(set(rng.sample(FLAGS, rng.choice([0, 0, 0, 1, 2]))))
    power = rng.choice([None, 0.0, round(rng.uniform(20, 900), 2), float(rng.randrange(50, 700))])
    record = dict.fromkeys(MEASUREMENT_FIELDS)
    record.update({
        "id": f"{number:020x}", "source": source, "url": f"https://example.org/{source}/{number // 4}",
        "retrieved_at": f"2026-0{1 + number % 3}-1{number % 10}T0{number % 10}:00:00Z",
        "excerpt": rng.choice(ODD_TEXT[:14])[:500] or "row", "extractor": rng.choice(["table.generic", "prose", "=x"]),
        "locator": rng.choice([None, f"table=1/row={number}", f"doc/{number}#Offline"]),
        "model_id": rng.choice(MODELS), "model_name": rng.choice([None, "Llama 7B", "-odd name"]),
        "model_params_b": rng.choice([None, 7.0, 2.7, 70.0]), "gpu": gpu, "gpu_raw": raw,
        "gpu_count": rng.choice([None, 1, 8]) if scope == "system" else rng.choice([None, 1]),
        "gpu_tdp_w": tdp, "workload": rng.choice(["inference", "inference", "training", "fine-tuning", "unknown"]),
        "task": rng.choice(TASKS), "batch_size": rng.choice([None, 1, 2, 4, 8]),
        "phase": rng.choice([None, None, "steady", "idle", "peak", "prefill", "decode"]),
        "power_w": power, "power_kind": kind if power is not None else rng.choice([None, kind]),
        "energy_j": rng.choice([None, round(rng.uniform(1, 5000), 3), 5934.618907200001]),
        "energy_per_token_j": rng.choice([None, round(rng.uniform(0.01, 3), 4)]),
        "energy_per_query_j": rng.choice([None, round(rng.uniform(1, 90), 3)]),
        "duration_s": rng.choice([None, 60.0, 0.5]), "gpu_hours": rng.choice([None, 184320.0, 1.5]),
        "co2_kg": rng.choice([None, 0.25, -0.5]),
        "throughput_tokens_per_s": rng.choice([None, 1234.5, 40.0]),
        "energy_score": rng.choice([None, 1, 3, 5]) if source == "ai_energy_score" else None,
        "scope": scope, "method": rng.choice([None, "nvml", "nvidia-smi", "codecarbon", "tdp-estimate", "unknown"]),
        "flags": flags, "notes": rng.choice([None, *ODD_TEXT]),
        "bounds": rng.choice([None, None, {"power_w": [300.0, 400.0]},
                              {"energy_j": [1.0, 2.0], "power_w": [340.0, 360.0]}]),
    })
    if number % 23 == 0:
        readings = [round(60 + (300 if 5 <= step < 15 else 0) + rng.uniform(-5, 5), 1) for step in range(20)]
        record["trace"] = {"interval_s": rng.choice([None, 1.0, 0.5]), "readings_w": readings}
        if number % 2:
            record["trace"]["load_window_s"] = [5.0, 14.0]
        record["power_w"] = round(sum(readings) / len(readings), 2)
    return record


def _line(record: dict) -> str:
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_input(folder: Path) -> None:
    """The fixed crawl output: clean files (each record as a crawler writes it) and damaged ones."""
    rng = random.Random(15)
    records = [_record(rng, number) for number in range(1, 301)]
    for position, source in enumerate(SOURCES):
        mine = [r for r in records if r["source"] == source]
        (folder / source).mkdir(parents=True)
        (folder / source / "crawl1.jsonl").write_text("".join(map(_line, mine[:40])), "utf-8")
        rest = mine[40:]
        if position == 0:  # a later crawl: re-read ids, some with other figures, one with an older date
            again = [{**r, "retrieved_at": "2026-05-01T00:00:00Z"} for r in mine[:6]]
            again[0]["power_w"], again[1]["energy_j"] = 123.0, None
            again[2]["retrieved_at"] = "2025-12-31T00:00:00Z"
            rest += again
        (folder / source / "crawl2.jsonl").write_text("".join(map(_line, rest)), "utf-8")
    damaged = folder / "hub_models" / "damaged.jsonl"
    old = {key: value for key, value in _record(rng, 401).items() if key != "trace"}  # before `trace` existed
    float_integer = {**_record(rng, 402), "batch_size": 8.0, "gpu_count": 2.0}  # JSON Schema: 8.0 is an integer
    lines = [_line(_record(rng, 400)), "\n", '{"id": "broken', "\n", _line(old), _line(float_integer),
             _line({**_record(rng, 403), "power_w": "300 W"}), _line({**_record(rng, 404), "surprise": 1}),
             _line({**_record(rng, 405), "retrieved_at": "yesterday"}),
             _line({**_record(rng, 406), "phase": "warm"}),
             _line({**_record(rng, 407), "flags": ["Not A Flag"]}),
             json.dumps({**_record(rng, 408), "co2_kg": None}).replace('"co2_kg": null', '"co2_kg": NaN') + "\n",
             "[1, 2]\n", _line({"id": "d" * 20, "repo": "o/r", "title": "a discussion"}), _line(_record(rng, 409))]
    damaged.write_text("".join(lines), "utf-8")
    (folder / "ai_energy_score" / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + _line(_record(rng, 410)).encode())
    (folder / "github_issues" / "empty.jsonl").write_text("", "utf-8")
    discussions = []
    for number in range(1, 9):
        mentions = dict(rng.sample([("nvidia-smi", 3), ("NVML", 1), ("Zeus", 2), ("CodeCarbon", 1)], number % 3 + 1))
        discussions.append({
            "id": f"{0xd000 + number:020x}", "source": "github_issues",
            "url": f"https://github.com/o/r/issues/{number}", "retrieved_at": "2026-03-01T00:00:00Z",
            "repo": "o/r", "number": number, "title": rng.choice(ODD_TEXT), "state": rng.choice(["open", "closed", None]),
            "created_at": rng.choice([None, "2025-01-02T03:04:05Z", "2025-01-02T03:04:05+02:00"]),
            "updated_at": None, "closed_at": None, "comment_count": rng.choice([None, 4]), "comments_read": 4,
            "tools": sorted(mentions), "tool_mentions": mentions, "measurement_count": number % 2,
            "complete": bool(number % 2)})
    (folder / "github_issues" / "o_r.discussions.jsonl").write_text(
        "".join(map(_line, discussions)) + "not json\n", "utf-8")


def _masked(text: str, folder: Path) -> str:
    for shown in (str(folder), _md_text(str(folder))):  # as written, and as the Markdown escapes it
        text = text.replace(shown, INPUT_PLACEHOLDER)
    return PNG_DATA.sub('src="data:image/png;base64,(masked)"', text)


def _parquet_rows(path: Path) -> dict:
    """The Parquet's Arrow schema (field types and descriptions, the record's title) and rows. The
    ``pandas`` metadata pyarrow adds is left out: it records the dtypes of the frame that was written
    (object where a loaded chunk happened to hold only nulls), not what the file holds."""
    table = pyarrow.parquet.read_table(path)
    metadata = {key: value for key, value in (table.schema.metadata or {}).items() if key != b"pandas"}
    rows = json.loads(json.dumps(table.to_pylist(), default=str))  # datetimes as text
    return {"schema": table.schema.with_metadata(metadata).to_string(truncate_metadata=False), "rows": rows}


def run_synthesis(tmp_path: Path) -> dict[str, str]:
    """Each output file's text (masked), measurements.parquet as its schema and rows read back."""
    folder, out = tmp_path / "output", tmp_path / "report"
    write_input(folder)
    assert main([str(folder), "--out", str(out)]) == 0
    outputs = {name: _masked((out / name).read_bytes().decode("utf-8"), folder) for name in TEXT_OUTPUTS}
    outputs["measurements.parquet.json"] = json.dumps(_parquet_rows(out / "measurements.parquet"), indent=1,
                                                      ensure_ascii=False, sort_keys=True) + "\n"
    return outputs


@pytest.mark.parametrize("fast_read_min_bytes", [0, None], ids=["every-file-read-by-pyarrow", "default"])
def test_the_synthesis_of_a_fixed_input_is_the_pinned_one(tmp_path, monkeypatch, fast_read_min_bytes):
    if fast_read_min_bytes is not None:  # the input's files are small: read by pyarrow only when told to
        monkeypatch.setattr(load, "FAST_READ_MIN_BYTES", fast_read_min_bytes)
    outputs = run_synthesis(tmp_path)
    synthesis = json.loads(outputs["synthesis.json"])
    # The snapshot pins a synthesis with something in every part, not an empty one.
    assert synthesis["input"]["measurements"] > 250 and synthesis["input"]["problems"]["count"] >= 8
    assert synthesis["traces"] and synthesis["batch_effects"] and synthesis["validation"]["outliers"]
    assert synthesis["input"]["disagreeing_duplicates"]["count"] >= 1
    for name, text in outputs.items():
        assert text == (SNAPSHOT / name).read_bytes().decode("utf-8"), f"{name} differs from the snapshot"
    assert sorted(path.name for path in SNAPSHOT.iterdir()) == sorted(outputs)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        pinned = run_synthesis(Path(temporary))
    SNAPSHOT.mkdir(parents=True, exist_ok=True)
    for stale in SNAPSHOT.iterdir():
        stale.unlink()
    for name, text in pinned.items():
        (SNAPSHOT / name).write_bytes(text.encode("utf-8"))  # as written: "\r" too
    print(f"wrote {len(pinned)} files to {SNAPSHOT}")
