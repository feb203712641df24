"""End to end: the real hub_datasets spider, engine and settings against the local mock Hub.

Expected figures are worked out by hand from the fixture files under demosite/fixtures/hub/.
"""

import pytest

from demosite.hub import DEMO_HF_TOKEN
from demosite.server import MockSite
from tests.conftest import assert_expected_fields, run_crawl


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with MockSite() as site:
        result = run_crawl(site, "hub_datasets", tmp_path_factory.mktemp("crawl"))
        result.requests = list(site.requests)
    assert result.returncode == 0, result.log[-3000:]
    return result


def by_key(items):
    return {(i["extractor"], i["model_id"] or i["model_name"], i["gpu_raw"], i["batch_size"]): i
            for i in items}


# (extractor, model, gpu_raw, batch) -> figures expected
EXPECTED = {
    # ohdoking RTX 3070 file. TinyLlama: 294 + 21 + 105 = 420 J over 3.5 + 0.25 + 1.25 = 5 s.
    ("table.ohdoking", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "NVIDIA GeForce RTX 3070", 1):
        {"gpu": "RTX 3070", "gpu_tdp_w": 220.0, "power_w": 84.0, "energy_j": 420.0,
         "energy_per_query_j": 140.0, "duration_s": 5.0, "model_params_b": 1.1},
    # opt-125m: 30 + 18 + 12 = 60 J over 0.5 + 0.3 + 0.2 = 1 s.
    ("table.ohdoking", "facebook/opt-125m", "NVIDIA GeForce RTX 3070", 1):
        {"gpu": "RTX 3070", "power_w": 60.0, "energy_j": 60.0, "energy_per_query_j": 20.0,
         "duration_s": 1.0, "model_params_b": 0.125},
    # RTX 4000 Ada file. TinyLlama: 200 + 100 + 60 = 360 J over 2.5 + 1.5 + 1 = 5 s.
    ("table.ohdoking", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "NVIDIA RTX 4000 Ada Generation", 1):
        {"gpu": "RTX 4000 Ada", "gpu_tdp_w": 130.0, "power_w": 72.0, "energy_j": 360.0,
         "energy_per_query_j": 120.0, "duration_s": 5.0},
    # opt-125m: 16 + 8 + 16 = 40 J over 0.4 + 0.2 + 0.4 = 1 s; 40 / 3 J per prompt.
    ("table.ohdoking", "facebook/opt-125m", "NVIDIA RTX 4000 Ada Generation", 1):
        {"gpu": "RTX 4000 Ada", "power_w": 40.0, "energy_j": 40.0,
         "energy_per_query_j": 40 / 3, "duration_s": 1.0},
    # CPU baseline: 5 + 3 = 8 J over 2 s; no GPU.
    ("table.ohdoking", "TinyLlama/TinyLlama-1.1B-Chat-v1.0", None, 1):
        {"gpu": None, "power_w": 4.0, "energy_j": 8.0, "energy_per_query_j": 4.0, "scope": None},
    # CodeCarbon: 250 W on one A100; 0.05 kWh = 180,000 J.
    ("csv.codecarbon", None, "1 x NVIDIA A100-SXM4-40GB", None):
        {"gpu": "A100 SXM", "gpu_count": 1, "gpu_tdp_w": 400.0, "power_w": 250.0,
         "energy_j": 180_000.0, "duration_s": 720.0, "co2_kg": 0.021, "flags": []},
    # 1600 W over 4 GPUs = 400 W each; 0.4 kWh = 1,440,000 J.
    ("csv.codecarbon", None, "4 x NVIDIA H100 80GB HBM3", None):
        {"gpu": "H100 SXM", "gpu_count": 4, "power_w": 400.0, "energy_j": 1_440_000.0,
         "flags": ["per_gpu_from_total"]},
    # T4 without an energy counter: 0 W and 0 kWh mean "not measured".
    ("csv.codecarbon", None, "1 x Tesla T4", None):
        {"gpu": "T4", "power_w": None, "energy_j": None, "duration_s": 600.0,
         "flags": ["zero_not_measured"]},
    # 95 W on an L4 (TDP 72 W) is kept and flagged; 0.0095 kWh = 34,200 J.
    ("csv.codecarbon", None, "1 x NVIDIA L4", None):
        {"gpu": "L4", "power_w": 95.0, "energy_j": 34_200.0, "flags": ["exceeds_tdp"]},
    ("table.generic", "meta-llama/Llama-2-7b-hf", "NVIDIA H100 PCIe", 1):
        {"gpu": "H100 PCIe", "gpu_tdp_w": 350.0, "power_w": 210.5, "energy_per_token_j": 0.42,
         "throughput_tokens_per_s": 48.0, "workload": "inference", "model_params_b": 7.0},
    ("table.generic", "meta-llama/Llama-2-7b-hf", "NVIDIA H100 PCIe", 8):
        {"gpu": "H100 PCIe", "power_w": 285.0, "energy_per_token_j": 0.11},
    # "n/a" power: the record keeps its energy per token, the cell is counted.
    ("table.generic", "meta-llama/Llama-2-7b-hf", "H100-PCIE-80GB", 32):
        {"gpu": "H100 PCIe", "power_w": None, "power_kind": None, "energy_per_token_j": 0.05},
    ("table.generic", "mistralai/Mistral-7B-v0.1", "A100-SXM4-80GB", 8):
        {"gpu": "A100 SXM", "power_w": 330.0, "energy_per_token_j": 0.2},
    # Parquet behind the LFS redirect: 0.01 kWh = 36,000 J; 0.004 kWh = 14,400 J.
    ("table.generic", "google/gemma-7b", "NVIDIA L40S", 4):
        {"gpu": "L40S", "energy_j": 36_000.0, "duration_s": 120.0, "model_params_b": 7.0},
    ("table.generic", "google/gemma-2b", "NVIDIA L40S", 4):
        {"gpu": "L40S", "energy_j": 14_400.0, "duration_s": 60.0, "model_params_b": 2.0},
    ("table.generic", "Qwen/Qwen2.5-0.5B-Instruct", "NVIDIA GeForce RTX 4090", None):
        {"gpu": "RTX 4090", "power_w": 180.0, "energy_per_query_j": 95.5, "model_params_b": 0.5},
    ("table.generic", "Qwen/Qwen2.5-1.5B-Instruct", "Tesla X900", None):
        {"gpu": None, "gpu_count": None, "power_w": 250.0, "energy_per_query_j": 130.0},
    # The good row before the truncated one.
    ("table.generic", "microsoft/phi-2", "NVIDIA A10G", None):
        {"gpu": "A10", "power_w": 120.5, "model_params_b": None},
    # The file that answered 429 first.
    ("table.generic", "meta-llama/Llama-2-13b-hf", "NVIDIA RTX A6000", None):
        {"gpu": "RTX A6000", "power_w": 290.0, "energy_per_token_j": 0.9},
    # LLM-Perf (a default id): 3.6e6 J/kWh / 1,800,000 tokens/kWh = 2.0 J per token of CPU + RAM +
    # GPU; 3.6e6 / 2,400,000 = 1.5 J per token. llm-df.csv (no energy) is not read.
    ("csv.llm_perf", "mistralai/Mistral-7B-v0.1", "NVIDIA A100-SXM4-80GB", 1):
        {"gpu": "A100 SXM", "energy_per_token_j": 2.0, "scope": "gpu+cpu+ram", "phase": "decode",
         "throughput_tokens_per_s": 32.5, "method": "codecarbon", "gpu_count": 1},
    ("csv.llm_perf", "google/gemma-2b", "NVIDIA A100-SXM4-80GB", 1):
        {"energy_per_token_j": 1.5, "scope": "gpu+cpu+ram", "throughput_tokens_per_s": 41.6},
    # ML.ENERGY leaderboard CSV (CRLF line ends): energy is J per response, throughput token/s,
    # as the leaderboard documents; the GPU from the file name A100_chat_benchmark.csv.
    ("csv.mlenergy_legacy", "lmsys/vicuna-7B", "A100", 2):
        {"energy_per_query_j": 1142.25, "throughput_tokens_per_s": 34.5, "gpu_count": 1,
         "scope": "gpu", "method": "zeus", "model_params_b": 7.0},
    ("csv.mlenergy_legacy", "lmsys/vicuna-7B", "A100", 1): {"energy_per_query_j": 1482.5},
    ("csv.mlenergy_legacy", "metaai/llama-13B", "A100", 1):
        {"energy_per_query_j": 638.0, "model_params_b": 13.0},
    # ML.ENERGY per-configuration JSON objects: energy per request (per image) as written.
    ("json.mlenergy_config", "meta-llama/Llama-2-7b-chat-hf", "NVIDIA A100-SXM4-40GB", None):
        {"gpu": "A100 SXM", "gpu_count": 1, "energy_per_query_j": 512.5, "method": "zeus"},
    ("json.mlenergy_config", "segmind/SSD-1B", "NVIDIA A100-SXM4-40GB", 4):
        {"gpu": "A100 SXM", "gpu_count": None, "energy_per_query_j": 800.0},
}


def test_exactly_the_expected_records(crawl):
    assert len(crawl.items) == len(EXPECTED) == 26
    assert_expected_fields(by_key(crawl.items), EXPECTED)


def test_common_fields_of_each_rule(crawl):
    for item in crawl.items:
        assert item["source"] == "hub_datasets"
        assert item["url"].startswith("http://127.0.0.1:") and "/datasets/" in item["url"]
        assert "/blob/main/" in item["url"] and "/api/" not in item["url"]
        if item["extractor"] == "table.ohdoking":
            assert (item["workload"], item["method"], item["batch_size"]) == ("inference", "codecarbon", 1)
            assert "derived" in item["flags"]
        if item["extractor"] == "csv.codecarbon":
            assert (item["method"], item["scope"], item["workload"]) == ("codecarbon", "gpu", "inference")
    assert len({item["id"] for item in crawl.items}) == 26


def test_crawl_stats(crawl):
    expected = {
        "hub_datasets/listing_pages": 5,  # energy: 7 matches at 3 a page = 3 pages; power; GPU
        "hub_datasets/datasets_listed": 10,
        "hub_datasets/datasets_without_data_files": 1,
        "hub_datasets/datasets_with_data_files": 9,
        # ml-energy/benchmark-v3 is gated and this crawl has no HF_TOKEN: counted, not asked for.
        "hub_datasets/datasets_gated": 1,
        "hub_datasets/datasets_gated_without_token": 1,
        "hub_datasets/datasets_with_readable_files": 8,
        "hub_datasets/datasets_with_measurements": 6,
        "hub_datasets/files_fetched": 17,  # 19 data files less the 404 and the oversized one
        "hub_datasets/files_read": 15,     # less the latin-1 CSV and the broken JSON
        "extract/error/not_found": 1,
        "extract/error/oversized": 1,
        "extract/error/not_utf8": 1,
        "extract/error/invalid_json": 1,
        "extract/error/invalid_json_line": 1,
        "extract/error/ragged_row": 1,
        "extract/error/non_numeric_cell": 1,
        "extract/skipped/no_power_columns": 1,
        "extract/skipped/no_gpu_or_model_column": 1,
        "extract/skipped/codecarbon_run_without_gpu": 1,
        "gpu/unknown": 1,
        "measurement/flag/exceeds_tdp": 1,
        "measurement/flag/zero_not_measured": 1,
        "measurement/flag/per_gpu_from_total": 1,
        "measurement/flag/derived": 5,
        "measurement/valid": 26,
        "retry/retry_after_honoured": 1,
        "item_scraped_count": 26,
    }
    assert {key: crawl.stat(key) for key in expected} == expected
    assert crawl.stats["finish_reason"] == "finished"
    assert crawl.stat("offline_guard/blocked") == 0
    assert crawl.stat("measurement/invalid") == 0 and crawl.stat("item_dropped_count") == 0


def test_gated_dataset_without_a_token_is_never_asked_for(crawl):
    assert not [r for r in crawl.requests if "benchmark-v3/resolve" in r.path]
    assert "Skipping gated dataset ml-energy/benchmark-v3: set HF_TOKEN" in crawl.log


def test_gated_mlenergy_runs_open_with_hf_token(mock_site, tmp_path):
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "ids=ml-energy/benchmark-v3",
                       "-a", "search=", env={"HF_TOKEN": DEMO_HF_TOKEN})
    runs = {(i["model_id"], i["gpu_raw"]): i for i in result.items}
    assert {i["extractor"] for i in result.items} == {"parquet.mlenergy_v3"} and len(runs) == 4
    # Only the run summaries are read, not the raw results.json or model_info.json beside them.
    fetched = {r.path.split("/resolve/main/")[1] for r in mock_site.requests if "/resolve/main/" in r.path}
    assert fetched == {"runs/llm.parquet", "runs/diffusion.parquet"}
    # 2,000 W summed over 4 H100s -> 500 W each; max_num_seqs 256 is no batch size.
    seventy = runs[("meta-llama/Llama-3.1-70B-Instruct", "H100")]
    assert seventy["power_w"] == 500.0 and seventy["gpu_count"] == 4 and seventy["batch_size"] is None
    assert seventy["energy_per_token_j"] == 0.4 and seventy["energy_per_query_j"] == 160.0
    assert seventy["energy_j"] == 100_000.0 and seventy["duration_s"] == 50.0
    assert "per_gpu_from_total" in seventy["flags"] and "max_num_seqs=256" in seventy["notes"]
    # One H100: 24,000 J over 40 s = 600 W, as avg_power_watts says.
    assert runs[("meta-llama/Llama-3.1-8B-Instruct", "H100")]["power_w"] == 600.0
    # The unstable B200 run is kept and flagged.
    qwen = runs[("Qwen/Qwen3-8B", "B200")]
    assert qwen["gpu"] == "B200" and qwen["power_w"] == 800.0 and "unstable_run" in qwen["flags"]
    assert "low_batch_utilization:0.500000" in qwen["notes"]
    # Diffusion: 1,000 W over 2 GPUs -> 500 W each; 1,800 J per image; batch 4.
    image = runs[("stabilityai/stable-diffusion-3.5-large", "H100")]
    assert (image["power_w"], image["energy_per_query_j"], image["batch_size"]) == (500.0, 1800.0, 4)
    assert result.stat("hub_datasets/datasets_gated") == 1
    assert result.stat("hub_datasets/datasets_gated_without_token") == 0
    assert result.stat("measurement/flag/unstable_run") == 1


def test_gated_dataset_refusing_the_token_is_counted_as_gated(mock_site, tmp_path):
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "ids=ml-energy/benchmark-v3",
                       "-a", "search=", env={"HF_TOKEN": "hf_no_access_granted"})
    assert result.items == [] and result.stat("extract/error/gated") == 2


def test_429_with_retry_after_is_waited_out_and_costs_no_record(crawl):
    throttled = [r for r in crawl.requests if r.path.endswith("data/throttled.csv")]
    assert [r.status for r in throttled] == [429, 200]
    assert any(i["url"].endswith("data/throttled.csv") for i in crawl.items)


def test_lfs_file_is_fetched_from_the_cdn_host(crawl):
    parquet = [(r.host, r.status) for r in crawl.requests if "runs.parquet" in r.path]
    assert parquet == [("127.0.0.1", 302), ("localhost", 200)]


def test_each_skipped_file_is_logged_once_with_its_reason(crawl):
    for reason, path in [("not_found", "missing.csv"), ("oversized", "huge.csv"),
                         ("not_utf8", "latin1.csv"), ("invalid_json", "broken.json")]:
        lines = [line for line in crawl.log.splitlines() if f"{reason}:" in line and path in line]
        assert len(lines) == 1, (reason, lines)
    assert "Skipping dataset someone/energy-papers: no CSV, JSON, JSONL or Parquet files" in crawl.log


def test_default_feed_layout(crawl):
    feeds = list((crawl.output_dir / "hub_datasets").glob("*.jsonl"))
    assert len(feeds) == 1


def test_search_ids_and_max_pages_arguments(mock_site, tmp_path):
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "search=energy", "-a", "ids=",
                       "-a", "max_pages=1")
    # Page 1 of "energy" (3 by downloads): ohdoking, lab/llm-energy-codecarbon, household-energy.
    assert result.stat("hub_datasets/listing_pages") == 1
    assert result.stat("hub_datasets/datasets_listed") == 3
    assert {i["extractor"] for i in result.items} == {"table.ohdoking", "csv.codecarbon"}
    assert len(result.items) == 9


def test_bad_argument_is_a_clear_error(mock_site, tmp_path):
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "max_pages=none")
    assert result.returncode != 0
    assert "-a max_pages='none': expected a whole number of 1 or more" in result.log
    assert result.items == []


def test_live_request_is_blocked_loudly(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "hub_datasets", tmp_path,
                           env={"HF_ENDPOINT": "https://huggingface.co"})
        assert site.requests == []
    assert result.stats["finish_reason"] == "live_request_blocked"
    assert result.stat("offline_guard/blocked") >= 1
    assert "CRITICAL: Blocked a live request to huggingface.co" in result.log
