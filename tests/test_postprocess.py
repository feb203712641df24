"""postprocess on small JSONL fixtures written here; every statistic is worked out by hand."""

import csv
import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from crawler.items import MEASUREMENT_FIELDS
from postprocess.load import load_output
from postprocess.spreadsheets import safe_table
from postprocess.synthesis import synthesise

H100_PCIE = "https://example.org/h100-pcie"


def record(**fields):
    base = dict.fromkeys(MEASUREMENT_FIELDS)
    base.update({"source": "hub_models", "url": "https://example.org/x", "retrieved_at": "2026-01-01T00:00:00Z",
                 "excerpt": "row", "extractor": "prose", "workload": "inference", "flags": []})
    base.update(fields)
    return base


def write_jsonl(path, records, tail=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + tail, "utf-8")


ASSUMPTIONS = {"gpu": "H100 PCIe", "workload": "inference", "assumptions": [
    {"name": "TDP", "kind": "tdp", "value_w": 350},
    {"name": "idle power", "phase": "idle", "band_w": [40, 90]},
    {"name": "steady-state inference power", "phase": "steady", "band_w": [200, 320]},
    {"name": "peak power", "phase": "peak", "band_w": [300, 350]},
]}


def h100_records():
    # Steady H100 PCIe inference power 250, 270, 290, 310 W (NVML): median 280, quartiles 265 / 295.
    steady = [record(id=f"{i + 1:020x}", gpu="H100 PCIe", gpu_tdp_w=350.0, power_w=watts, power_kind="measured",
                     method="nvml", scope="gpu", url=H100_PCIE, model_id="m/llama-7b", batch_size=batch)
              for i, (watts, batch) in enumerate([(250, 1), (270, 2), (290, 4), (310, 8)])]
    idle = record(id="1d1e" * 5, gpu="H100 PCIe", power_w=50.0, power_kind="measured", phase="idle", method="nvml",
                  url=H100_PCIE)
    return steady + [idle]


def test_load_merges_crawls_and_reports_bad_lines(tmp_path):
    first = record(id="a" * 20, power_w=100.0, retrieved_at="2026-01-01T00:00:00Z")
    later = record(id="a" * 20, power_w=110.0, retrieved_at="2026-02-01T00:00:00Z")
    write_jsonl(tmp_path / "hub_models" / "1.jsonl", [first, record(id="b" * 20, power_w=5.0)])
    write_jsonl(tmp_path / "hub_models" / "2.jsonl", [later], tail='{"id": "c", "sou')
    loaded = load_output(tmp_path)
    frame = loaded.measurements.set_index("id")
    assert list(frame.index) == ["a" * 20, "b" * 20]
    assert frame.loc["a" * 20, "power_w"] == 110.0  # the latest retrieved_at wins
    assert (frame.loc["a" * 20, "first_seen"], frame.loc["a" * 20, "last_seen"]) == (
        pd.Timestamp("2026-01-01T00:00:00Z"), pd.Timestamp("2026-02-01T00:00:00Z"))
    problem, = loaded.problems.listed
    assert problem.path.endswith("2.jsonl") and problem.line == 2


def test_direct_h100_pcie_evidence(tmp_path):
    frame = pd.DataFrame(h100_records())
    result = synthesise(frame, ASSUMPTIONS)
    estimate = result["h100_pcie_estimate"]
    assert estimate["basis"] == "direct"
    assert estimate["power_w"] == {"n": 4, "median": 280.0, "q1": 265.0, "q3": 295.0, "min": 250.0, "max": 310.0}
    assert estimate["band_w"] == [265.0, 295.0]
    row = next(r for r in result["power_by_gpu"] if r["gpu"] == "H100 PCIe" and r["level"] == "gpu")
    assert row["fraction_of_tdp"]["median"] == pytest.approx(0.8)  # 280 / 350
    assert result["confidence"][0]["confidence"] == "high"


def test_batch_effect_slope_and_correlation():
    frame = pd.DataFrame([record(id=f"b{b}", gpu="A10", model_id="m/x", batch_size=b, power_w=p,
                                 power_kind="measured") for b, p in [(1, 100.0), (2, 150.0), (4, 250.0)]])
    effect, = synthesise(frame, ASSUMPTIONS)["batch_effects"]
    # y = 50 x + 50 exactly: slope 50 W per batch step, r = 1.
    assert (effect["slope_per_batch"], effect["pearson_r"]) == (pytest.approx(50.0), pytest.approx(1.0))


def test_inferred_band_from_other_gpus():
    # A100 SXM 320 W of 400 W and H100 SXM 560 W of 700 W: both 0.8 of TDP -> 0.8 * 350 = 280 W.
    frame = pd.DataFrame([record(id="a", gpu="A100 SXM", power_w=320.0, power_kind="measured", scope="gpu"),
                          record(id="b", gpu="H100 SXM", power_w=560.0, power_kind="measured", scope="gpu")])
    result = synthesise(frame, ASSUMPTIONS)
    estimate = result["h100_pcie_estimate"]
    assert estimate["basis"] == "inferred" and estimate["band_w"] == [280.0, 280.0]
    assert result["confidence"][0]["confidence"] == "medium"


def test_assumption_verdicts():
    frame = pd.DataFrame(h100_records() + [record(id="sys", gpu="H100 PCIe", power_w=900.0, power_kind="measured",
                                                  scope="system")])
    verdicts = {a["name"]: (a["verdict"], a["n"]) for a in synthesise(frame, ASSUMPTIONS)["assumptions"]["results"]}
    # The TDP is not judged from the project's own catalogue: no crawled rated figure, no verdict.
    assert verdicts == {"TDP": ("not judged (catalogue only)", 0), "idle power": ("supported", 1),
                        "steady-state inference power": ("supported", 4),  # the system figure is kept apart
                        "peak power": ("no evidence", 0)}
    contradicting = {**ASSUMPTIONS, "assumptions": [{"name": "steady", "phase": "steady", "band_w": [100, 200]}]}
    assert synthesise(frame, contradicting)["assumptions"]["results"][0]["verdict"] == "contradicted"


def test_validation_lists():
    values = [100.0, 102.0, 98.0, 101.0, 400.0]  # 400 is beyond q3 + 1.5 IQR (IQR = 101 - 100 ... )
    frame = pd.DataFrame([record(id=f"v{i}", gpu="A10", power_w=v, power_kind="measured") for i, v in enumerate(values)]
                         + [record(id="hot", gpu="L4", power_w=95.0, flags=["exceeds_tdp"], url="https://e/hot"),
                            record(id="zero", gpu="T4", flags=["zero_not_measured"], duration_s=5.0, url="https://e/z")])
    checks = synthesise(frame, ASSUMPTIONS)["validation"]
    assert [c["power_w"] for c in checks["outliers"]] == [400.0]
    assert [c["url"] for c in checks["above_tdp"]] == ["https://e/hot"]
    assert [c["url"] for c in checks["zeros"]] == ["https://e/z"] == [c["url"] for c in checks["no_figure"]]


def test_success_criteria():
    frame = pd.DataFrame(h100_records() + [record(id="aes", source="ai_energy_score", energy_per_query_j=60.0,
                                                  model_id="a/b")])
    criteria = {c["criterion"]: (c["met"], c["figure"]) for c in synthesise(frame, ASSUMPTIONS)["success_criteria"]}
    assert criteria["5–10 measurements"] == (True, 6)
    assert criteria["20+ measurements"] == (False, 6)
    assert criteria["AI Energy Score reviewed"] == (True, 1)
    assert criteria["H100 data"] == (True, 5)
    assert criteria["the ohdoking dataset reached"] == (False, "no")
    # An idle figure and a steady figure of one GPU are no transition: only a trace shows one.
    assert criteria["idle→inference transitions"] == (False, "no power trace to see one in")
    assert criteria["a correlation coefficient"][0] is True  # 250..310 W over batches 1..8
    assert criteria["power traces"] == (False, "no time series in the sources crawled")


def test_power_traces_criterion_counts_readings_and_idle_to_load_swings():
    traces = [record(id="t1", gpu="RTX 4090", power_w=160.0,
                     trace={"interval_s": 1.0, "readings_w": [20.0, 20.0, 300.0, 300.0]}),
              record(id="t2", gpu="RTX 4090", power_w=290.0,
                     trace={"interval_s": None, "readings_w": [280.0, 290.0, 300.0]})]
    frame = pd.DataFrame(h100_records() + traces)
    criteria = {c["criterion"]: (c["met"], c["figure"]) for c in synthesise(frame, ASSUMPTIONS)["success_criteria"]}
    # 4 + 3 readings, both per GPU, neither of the H100 PCIe.
    assert criteria["power traces"] == (True, "2 traces (7 readings): 2 per GPU (RTX 4090 (2)); none of the "
                                              "H100 PCIe")
    # The first: idle 20 W (quietest quarter), load 300 W (busiest), 15 times idle; 90 % of the way is
    # 272 W, first reached at 2 s, 1 s after the last idle reading. The second, 3 readings, has no quarters.
    assert criteria["idle→inference transitions"] == (
        True, "1 of 2 go from idle to load (load / idle 15, rise to 90 % in 1 s): 1 per GPU (RTX 4090); "
              "none of the H100 PCIe")


def test_spreadsheet_cells_are_neutralised():
    cells = pd.DataFrame({"text": ["=HYPERLINK(\"x\")", "+1", "-cmd", "@SUM(A1)", "\tx", "fine", None]})
    safe = safe_table(cells)["text"].tolist()
    assert safe[:6] == ["'=HYPERLINK(\"x\")", "'+1", "'-cmd", "'@SUM(A1)", "'\tx", "fine"]
    assert pd.isna(safe[6])
    table = safe_table(pd.DataFrame({"flags": [["a", "b"]], "notes": ["=1+1"], "power_w": [-3.0]}))
    assert table.iloc[0].tolist() == ["a; b", "'=1+1", -3.0]
    # A column pandas left untyped (object) mixes numbers and text: only its text is neutralised.
    mixed = safe_table(pd.DataFrame({"power_w": pd.Series([-5.0, None, "=1+1", "-x"], dtype=object)}))
    assert mixed["power_w"].tolist()[0] == -5.0
    assert mixed["power_w"].tolist()[2:] == ["'=1+1", "'-x"]


SCRIPT = "<script>window.reportScriptRan = true</script>"


@pytest.fixture
def report_dir(tmp_path):
    records = h100_records() + [record(id="e" * 20, gpu="A10", power_w=120.0, power_kind="measured",
                                       flags=["exceeds_tdp"],  # so the validation list shows it
                                       model_name=SCRIPT, url="https://example.org/evil", excerpt=SCRIPT,
                                       notes="=cmd|' /C calc'!A0"),
                                record(id="f" * 20, gpu="A10", power_w=1.0, url="javascript:alert(1)")]
    write_jsonl(tmp_path / "output" / "hub_models" / "x.jsonl", records)
    completed = subprocess.run([sys.executable, "-m", "postprocess", str(tmp_path / "output"), "--out",
                                str(tmp_path / "report")], capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    return tmp_path / "report"


def test_command_writes_every_output(report_dir):
    names = {p.name for p in report_dir.iterdir()}
    assert {"measurements.csv", "measurements.parquet", "datasets.csv", "ai_energy_score.csv", "model_cards.csv",
            "community.csv", "synthesis.json", "report.md", "report.html"} <= names
    synthesis = json.loads((report_dir / "synthesis.json").read_text())
    assert synthesis["h100_pcie_estimate"]["power_w"]["median"] == 280.0
    with (report_dir / "model_cards.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6 and all(not (r["model"] or "x").startswith("=") for r in rows)
    # The record whose url is javascript: breaks the schema: left out, and listed with its line.
    problem, = synthesis["input"]["problems"]["listed"]
    assert problem["line"] == 7 and problem["reason"].startswith("skipped: url: 'javascript:alert(1)'")
    page = (report_dir / "report.html").read_text()
    assert SCRIPT not in page and 'href="javascript:' not in page
    assert pd.read_parquet(report_dir / "measurements.parquet").shape[0] == 6


def test_postprocess_imports_no_scrapy():
    """The command reads the record schemas only: Scrapy and Twisted (over a second to import) stay out."""
    completed = subprocess.run([sys.executable, "-c", "import sys, postprocess.__main__; "
                                "print(sorted({'scrapy', 'twisted'} & set(sys.modules)))"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "[]"


def test_missing_output_folder_is_a_clear_error(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "postprocess", str(tmp_path / "nothing")],
                               capture_output=True, text=True)
    assert completed.returncode == 2 and "run the crawlers first" in completed.stderr


@pytest.mark.skipif(not shutil.which("chromium") and not os.environ.get("CI"),
                    reason="Debian's chromium is not installed (.ci/run installs it; in CI this never skips)")
def test_report_renders_its_plots_and_scraped_script_stays_text(report_dir):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto((report_dir / "report.html").as_uri())
        images = page.eval_on_selector_all("img.plot", "imgs => imgs.map(i => i.complete && i.naturalWidth)")
        ran = page.evaluate("window.reportScriptRan === true")
        text = page.inner_text("body")
        browser.close()
    assert len(images) == 3 and all(width and width > 100 for width in images)
    assert ran is False and SCRIPT in text
