"""End to end: the real ai_energy_score spider against the mock Space, pages and report.

J per query = total_gpu_energy (kWh per 1,000 queries) * 3.6e6 J/kWh / 1,000 queries, by hand.
The rendering tests drive Debian's chromium for real (CI installs it).
"""

import os
import shutil

import pytest

from demosite.server import MockSite
from tests.conftest import run_crawl

REPORT = "datasets/benchmarks-lab/llm-reports/text_generation/phi-2/benchmark_report.json"
needs_chromium = pytest.mark.skipif(
    not shutil.which("chromium") and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (.ci/run installs it; in CI this test never skips)")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with MockSite() as site:
        result = run_crawl(site, "ai_energy_score", tmp_path_factory.mktemp("aes"), "-a", f"reports={REPORT}",
                           env={"CHROMIUM_PATH": "/nonexistent/chromium"})
        result.requests = list(site.requests)
    assert result.returncode == 0, result.log[-3000:]
    return result


EXPECTED = {
    ("text_generation", "distilbert/distilgpt2"): (4.7279988, 5, "A", 1),      # 0.001313333 * 3600
    ("text_generation", "meta-llama/Llama-2-7b-hf"): (59.1885252, 3, "A", 1),  # 0.016441257 * 3600
    ("text_generation", "mistralai/Mixtral-8x7B-v0.1"): (2215.4054868, 1, "B", 1),  # 0.615390413 * 3600
    ("text_generation", "meta-llama/Llama-2-70b-hf"): (5934.618907, 5, "C", None),  # 1.648505252 * 3600
    ("asr", "openai/whisper-tiny"): (48.3916644, 5, None, 1),                   # 0.013442129 * 3600
    ("asr", "distil-whisper/distil-large-v2"): (77.47605, 4, None, 1),          # 0.021521125 * 3600
    ("image_classification", "google/vit-base-patch16-224"): (1.8864, 5, None, 1),  # 0.000524 * 3600
    ("image_classification", "microsoft/beit-base-patch16-224"): (4.32, None, None, 1),  # stars "7" refused
}


def leaderboard(items):
    return {(i["task"], i["model_id"]): i for i in items if i["extractor"] == "aienergyscore.leaderboard"}


def test_leaderboard_records(crawl):
    records = leaderboard(crawl.items)
    assert set(records) == set(EXPECTED)
    for key, (joules, stars, energy_class, gpus) in EXPECTED.items():
        record = records[key]
        assert record["energy_per_query_j"] == pytest.approx(joules, rel=1e-9), key
        assert (record["energy_score"], record["gpu_count"]) == (stars, gpus), key
        assert (record["gpu"], record["gpu_raw"], record["batch_size"], record["workload"], record["scope"],
                record["method"]) == ("H100", "NVIDIA H100 80GB", 1, "inference", "gpu", "codecarbon")
        assert record["url"].endswith("/spaces/AIEnergyScore/Leaderboard")
        assert ("text generation class " + energy_class) in record["notes"] if energy_class else True
        assert "mean of 10 runs" in record["notes"] and "PCIe or SXM" in record["notes"]
        assert "documented values used" not in record["notes"]
    assert records[("text_generation", "meta-llama/Llama-2-7b-hf")]["model_params_b"] == 7.0


def test_benchmark_report_record(crawl):
    report, = [i for i in crawl.items if i["extractor"] == "aienergyscore.benchmark_report"]
    assert report["energy_j"] == pytest.approx(468_360.0)      # (0.0001 + 0.07 + 0.06) kWh
    assert report["energy_per_token_j"] == pytest.approx(30.0)  # 3.6e6 / 120,000 tokens/kWh
    assert report["energy_per_query_j"] == pytest.approx(0.4)   # 3.6e6 / 9e6 samples/kWh
    assert report["url"].endswith("/datasets/benchmarks-lab/llm-reports/blob/main/" + REPORT.split("/", 3)[3])


def test_stats_and_no_browser_on_the_file_path(crawl):
    expected = {"ai_energy_score/task_files_listed": 4, "ai_energy_score/records_found": 9,
                "extract/error/bad_leaderboard_row": 3, "extract/error/bad_energy_score": 1,
                "extract/error/empty": 1, "ai_energy_score/methodology_fallback": 0,
                "ai_energy_score/listing_unavailable": 0, "measurement/valid": 9}
    assert {key: crawl.stat(key) for key in expected} == expected
    # CHROMIUM_PATH points nowhere: the file path never started a browser.
    assert crawl.stat("playwright/browser_count") == 0
    assert crawl.stats["finish_reason"] == "finished"
    assert [r.path for r in crawl.requests if "/tree/" in r.path] == [
        "/api/spaces/AIEnergyScore/Leaderboard/tree/main/data/energy"]


def test_methodology_page_missing_falls_back_to_documented_facts(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "ai_energy_score", tmp_path, "-a", "tasks=asr",
                           env={"AIENERGYSCORE_SITE_URL": f"{site.hub_url}/gone/"})
    assert result.stat("ai_energy_score/methodology_fallback") == 1
    assert len(result.items) == 2
    for item in result.items:
        assert item["task"] == "asr" and item["gpu_raw"] == "NVIDIA H100 80GB"
        assert "did not state hardware, batch_size, unit, runs, tool: documented values used" in item["notes"]


def test_bad_reports_argument_is_a_clear_error(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "ai_energy_score", tmp_path, "-a", "reports=report.json")
    assert result.returncode != 0 and "is neither a URL nor" in result.log


@needs_chromium
def test_render_reads_the_table_built_by_javascript(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "ai_energy_score", tmp_path, "-a", "render=1")
    rendered = {(i["task"], i["model_id"]): i["energy_per_query_j"] for i in result.items}
    # The app shows Wh per 1,000 queries: J per query = Wh * 3600 / 1000.
    assert rendered == {("text_generation", "distilbert/distilgpt2"): pytest.approx(4.716),
                        ("text_generation", "meta-llama/Llama-2-7b-hf"): pytest.approx(59.184),
                        ("image_classification", "google/vit-base-patch16-224"): pytest.approx(1.872)}
    assert {i["extractor"] for i in result.items} == {"aienergyscore.rendered_leaderboard"}
    assert result.stat("playwright/browser_count") == 1


@needs_chromium
def test_unlisted_task_files_fall_back_to_the_rendered_page(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "ai_energy_score", tmp_path, "-a", "tasks=text_generation",
                           env={"AIENERGYSCORE_SPACE": "AIEnergyScore/Moved"})
    assert result.stat("ai_energy_score/listing_unavailable") == 1
    assert sorted(i["model_id"] for i in result.items) == ["distilbert/distilgpt2", "meta-llama/Llama-2-7b-hf"]
