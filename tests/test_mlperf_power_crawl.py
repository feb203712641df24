"""End to end: the real mlperf_power spider against the mock results repositories.

The mock (demosite/fixtures/mlperf/) holds two rounds: v3.1 with an 8 x H100 PCIe system with power
results (bert-99 Offline, and Server in a lower-case "server" folder, each run inside a longer
trace) and a 1 x H100 PCIe system without; v4.0 with a 1 x L4 system whose name does not say MaxQ
(resnet50 SingleStream with power, a retinanet trace cut short, a 3d-unet detail log without
power_begin); and in v4.0's open division a system without a description (tiny-box), a power
result whose run_1 lacks spl.txt (tiny-half) and a submitter folder without results/ (CodeOnly).
The organisation also lists v2.0 (before v2.1, never read) and two other repositories.
Figures are worked out by hand from the fixture files.
"""

import sqlite3
import zlib

import pytest
from scrapy.exceptions import UsageError

from crawler.spiders.mlperf_power import MLPerfPowerSpider
from demosite.server import MockSite
from tests.conftest import assert_expected_fields, run_crawl

TOKEN = "ghp_MLPERFtokenDoNotLeak123456"
V31 = "v3.1/closed/NVIDIA/H100-PCIe-80GBx8_TRT_MaxQ/bert-99"
L4 = "v4.0/closed/Acme/acme-l4x1/resnet50/SingleStream"
TINY = "v4.0/open/Tiny/tiny-box/resnet50/offline"

EXPECTED = {
    # spl.txt: readings 1 s apart from 12:00:00.500; power_begin 12:00:05.900, power_end 12:00:13.900
    # hold readings 6..13: (2900+3000+3100+3000+2950+3050+3000+3000)/8 = 24000/8 = 3000.0 W (the
    # whole file's 20 readings average 37125/20 = 1856.25 W). 3000 W / 12000 samples/s = 0.25 J.
    f"{V31}/Offline#window": {"power_w": 3000.0, "energy_per_query_j": 0.25, "duration_s": 8.0,
                              "energy_j": 24000.0, "gpu": "H100 PCIe", "gpu_count": 8, "scope": "system",
                              "method": "external-meter", "phase": "steady", "power_kind": "measured",
                              "task": "question_answering", "flags": ["system_level"]},
    f"{V31}/Offline#peak": {"power_w": 3100.0, "phase": "peak", "power_kind": "peak"},
    # Before power_begin: 800, 810, 790, 805, 1500, 2000; the quietest quarter (2): 790, 800 -> 795.
    f"{V31}/Offline#idle": {"power_w": 795.0, "phase": "idle"},
    f"{V31}/Offline#per_accelerator": {"power_w": 375.0, "power_kind": "estimated", "gpu_count": 1,
                                       "flags": ["per_gpu_from_total", "derived", "includes_host_power"]},
    # Server ("server" folder): begin 12:30:01.700, end 12:30:07.200 hold readings 2..6:
    # (2800+2900+3000+3100+3300)/5 = 3020.0 W; / 10000 completed samples/s (not the 10005
    # scheduled) = 0.302 J; 5.5 s; idle: 900, 880 -> the quietest one, 880.
    f"{V31}/server#window": {"power_w": 3020.0, "energy_per_query_j": 0.302, "duration_s": 5.5, "gpu_count": 8},
    f"{V31}/server#peak": {"power_w": 3300.0},
    f"{V31}/server#idle": {"power_w": 880.0},
    f"{V31}/server#per_accelerator": {"power_w": 377.5},
    # SingleStream: readings 2..5 of 60, 62, 150, 160, 170, 160, 70, 65 -> 160.0 W; 160 W x 4 s /
    # 3200 queries = 0.2 J a query; accelerators_per_node is the string "1".
    f"{L4}#window": {"power_w": 160.0, "energy_per_query_j": 0.2, "duration_s": 4.0, "gpu": "L4",
                     "gpu_count": 1, "task": "image_classification"},
    f"{L4}#peak": {"power_w": 170.0},
    f"{L4}#idle": {"power_w": 60.0},
    f"{L4}#per_accelerator": {"power_w": 160.0},
    # No systems/tiny-box.json: no accelerator, so no per-accelerator estimate. Readings at 1, 2, 3 s
    # inside 0.5..3.5 s: (200+220+240)/3 = 220.0 W; / 400 samples/s = 0.55 J; idle 100, peak 240.
    f"{TINY}#window": {"power_w": 220.0, "energy_per_query_j": 0.55, "gpu": None, "gpu_count": None},
    f"{TINY}#peak": {"power_w": 240.0},
    f"{TINY}#idle": {"power_w": 100.0},
}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with MockSite() as site:
        # The HTTP cache uncompressed, so that the token test below can read what it stored.
        result = run_crawl(site, "mlperf_power", tmp_path_factory.mktemp("mlperf"), env={"GITHUB_TOKEN": TOKEN},
                           settings={"HTTPCACHE_GZIP": "False"})
        result.requests = list(site.requests)
    assert result.returncode == 0, result.log[-3000:]
    return result


def test_exactly_the_expected_records(crawl):
    records = {item["locator"]: item for item in crawl.items}
    assert len(records) == len(crawl.items) == 15
    assert_expected_fields(records, EXPECTED)
    window = records[f"{V31}/Offline#window"]
    assert window["url"] == ("https://github.com/mlcommons/inference_results_v3.1/tree/main/closed/NVIDIA/results/"
                             "H100-PCIe-80GBx8_TRT_MaxQ/bert-99/Offline/performance/run_1")
    assert window["trace"] == {"interval_s": 1.0, "load_window_s": [5.4, 13.4], "readings_w": [
        800.0, 810.0, 790.0, 805.0, 1500.0, 2000.0, 2900.0, 3000.0, 3100.0, 3000.0, 2950.0, 3050.0, 3000.0,
        3000.0, 2000.0, 1200.0, 820.0, 800.0, 800.0, 800.0]}
    assert all(item["trace"] is None for item in crawl.items if item["extractor"] != "mlperf.power_window")


def test_counted_skips(crawl):
    expected = {"extract/skipped/system_without_power": 1,  # H100-PCIe-80GBx1_TRT
                "extract/error/truncated_trace": 1,  # retinanet: the trace stops before power_end
                "extract/error/malformed_detail_log": 1,  # 3d-unet-99: no power_begin / power_end
                "extract/skipped/no_results_folder": 1,  # open/CodeOnly
                "extract/error/incomplete_power_result": 1,  # tiny-half: not also "without power"
                "extract/error/missing_system_description": 1,  # tiny-box
                "mlperf_power/rounds": 2, "mlperf_power/systems_listed": 5, "mlperf_power/systems_with_power": 3,
                "mlperf_power/power_results": 6, "mlperf_power/results_read": 4, "measurement/valid": 15}
    assert {name: crawl.stat(name) for name in expected} == expected


def test_requests_reach_only_what_can_hold_power(crawl):
    paths = [r.path for r in crawl.requests]
    assert not [p for p in paths if "inference_results_v2.0" in p or "training_results" in p]
    # The system without power costs its tree and nothing else: no file of it is read.
    assert not [p for p in paths if "H100-PCIe-80GBx1_TRT" in p]
    # The range-finding run beside run_1 is never read; nor are the analyzer's own logs.
    assert not [p for p in paths if "/ranging/" in p or "/power/" in p]
    assert len([p for p in paths if "/git/trees/" in p]) == 5


def test_token_goes_to_the_api_host_only_and_is_never_written(crawl):
    api = [r for r in crawl.requests if r.host == "127.0.0.2"]
    raw = [r for r in crawl.requests if r.host == "127.0.0.3"]
    assert api and raw and {r.host for r in crawl.requests} == {"127.0.0.2", "127.0.0.3"}
    assert {r.authorization for r in api} == {f"Bearer {TOKEN}"}
    assert {r.authorization for r in raw} == {None}
    written = [path.read_text() for path in crawl.output_dir.rglob("*") if path.is_file()]
    # The HTTP cache (one SQLite file, headers and bodies zlib-compressed) read back as stored.
    with sqlite3.connect(crawl.output_dir.parent / "httpcache" / "mlperf_power.sqlite") as db:
        rows = db.execute("SELECT request_headers, response_headers, response_body, compressed FROM responses").fetchall()
    cached = [(zlib.decompress(blob) if compressed else blob).decode("latin-1")
              for *blobs, compressed in rows for blob in blobs]
    request_headers = [(zlib.decompress(headers) if compressed else headers).decode("latin-1")
                       for headers, _, _, compressed in rows]
    assert len(rows) > 20 and all("User-Agent" in headers for headers in request_headers)
    assert written and all(TOKEN not in text for text in written + cached + [crawl.log])


def test_arguments_narrow_the_walk(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "mlperf_power", tmp_path, "-a", "rounds=v3.1,v7.7", "-a", "submitters=nvidia",
                           "-a", "benchmarks=BERT-99")
        paths = [r.path for r in site.requests]
    assert {item["locator"].split("#")[0] for item in result.items} == {f"{V31}/Offline", f"{V31}/server"}
    assert not [p for p in paths if "inference_results_v4.0" in p]
    assert result.stat("extract/skipped/round_not_found") == 1  # v7.7


def test_a_cut_tree_is_counted_and_read_as_far_as_it_goes(tmp_path):
    with MockSite() as site:
        # acme-l4x1's tree, cut to its first half (sorted paths): 3d-unet-99 and the start of resnet50
        # (its power folder, not its run_1 files).
        site.github.results_repos.truncated_trees = {"acme-l4x1"}
        result = run_crawl(site, "mlperf_power", tmp_path, "-a", "rounds=v4.0", "-a", "divisions=closed")
    assert result.stat("extract/error/system_tree_truncated") == 1
    assert result.stat("extract/error/malformed_detail_log") == 1  # 3d-unet-99, read from the half it had
    assert result.stat("extract/error/incomplete_power_result") == 1  # resnet50: run_1 cut off
    assert result.items == []


def test_a_bad_argument_is_a_clear_error(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "mlperf_power", tmp_path, "-a", "divisions=closed,secret")
    assert result.returncode != 0 and "expected some of closed, open, network" in result.log


def test_arguments_are_parsed_up_front():
    spider = MLPerfPowerSpider(rounds="v3.1, 4.0", divisions="CLOSED", submitters="NVIDIA,Dell", benchmarks="bert-99")
    assert (spider.rounds, spider.divisions, spider.submitters, spider.benchmarks) == (
        {(3, 1), (4, 0)}, ("closed",), {"nvidia", "dell"}, {"bert-99"})
    default = MLPerfPowerSpider()
    assert (default.rounds, default.divisions, default.submitters) == (None, ("closed", "open", "network"), None)
    for arguments in ({"rounds": "v3"}, {"rounds": "latest"}, {"divisions": "closed,secret"}, {"divisions": ""}):
        with pytest.raises(UsageError):
            MLPerfPowerSpider(**arguments)
