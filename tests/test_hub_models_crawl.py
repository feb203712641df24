"""End to end: the real hub_models spider against the mock Hub's model listings and cards.

Expected figures are worked out by hand from demosite/fixtures/hub/models/.
"""

import pytest

from demosite.server import MockSite
from tests.conftest import assert_expected_fields, run_crawl


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    with MockSite() as site:
        result = run_crawl(site, "hub_models", tmp_path_factory.mktemp("models"))
        result.requests = list(site.requests)
    assert result.returncode == 0, result.log[-3000:]
    return result


def key(item):
    figure = item["power_w"] or item["phase"] or item["gpu_hours"] or item["co2_kg"]
    return item["extractor"], item["model_id"] or item["model_name"], figure


EXPECTED = {
    # co2_eq_emissions mapping with YAML underscores: 539_000_000 g = 539,000 kg.
    ("card_yaml.co2_eq_emissions", "meta-llama/Llama-2-7b-hf", 539_000.0):
        {"co2_kg": 539_000.0, "workload": "training", "gpu": "A100", "method": "unknown"},
    # Meta's pipe table: GPU hours as written, 400 W is peak capacity (rated), tCO2eq * 1000 = kg.
    ("card_table.markdown", "Llama 2 7B", 400.0):
        {"gpu_hours": 184_320.0, "co2_kg": 31_220.0, "gpu": "A100", "power_kind": "rated",
         "flags": ["rated_not_measured"], "method": "tdp-estimate", "workload": "training",
         "model_params_b": 7.0},
    ("card_table.markdown", "Llama 2 13B", 400.0): {"gpu_hours": 368_640.0, "co2_kg": 62_440.0},
    ("card_table.markdown", "Llama 2 70B", 400.0): {"gpu_hours": 1_720_320.0, "co2_kg": 291_420.0},
    # "3.3M GPU hours" stated in a sentence.
    ("prose", "meta-llama/Llama-2-7b-hf", 3_300_000.0): {"gpu": "A100", "workload": "training"},
    # "TDP of 350-400W": a range, midpoint 375 W, both ends in bounds.
    ("prose", "meta-llama/Llama-2-7b-hf", 375.0):
        {"power_kind": "rated", "gpu": "A100", "flags": ["range_midpoint", "rated_not_measured"]},
    # Meta's HTML table: "1.3M" GPU hours, 700 W rated on H100-80GB; 390 tCO2eq = 390,000 kg.
    ("card_table.html", "Llama 3 8B", 700.0):
        {"gpu_hours": 1_300_000.0, "co2_kg": 390_000.0, "gpu": "H100", "power_kind": "rated"},
    ("card_table.html", "Llama 3 70B", 700.0): {"gpu_hours": 6_400_000.0, "co2_kg": 1_900_000.0},
    ("prose", "meta-llama/Meta-Llama-3-8B", 700.0): {"gpu": "H100", "power_kind": "rated"},
    # "7.7M GPU hours ... on hardware of type H100-80GB"; "Estimated total emissions were 2290 tCO2eq".
    ("prose", "meta-llama/Meta-Llama-3-8B", 7_700_000.0): {"gpu": "H100", "workload": "training"},
    ("prose", "meta-llama/Meta-Llama-3-8B", 2_290_000.0): {"gpu": "H100", "flags": ["estimated"]},
    # Prose: "about 300 W per GPU on an H100 PCIe at batch size 8 (measured with nvidia-smi)".
    ("prose", "lab/mistral-7b-energy", 300.0):
        {"gpu": "H100 PCIe", "gpu_tdp_w": 350.0, "batch_size": 8, "method": "nvidia-smi",
         "workload": "inference", "power_kind": "measured", "scope": "gpu"},
    # "0.4 J per token on A100" at batch size 1.
    ("prose", "lab/mistral-7b-energy", None):
        {"energy_per_token_j": 0.4, "gpu": "A100", "batch_size": 1, "workload": "inference"},
    # CodeCarbon file in the model repo: 560 W over 2 GPUs = 280 W each; 0.28 kWh = 1,008,000 J.
    ("csv.codecarbon", "lab/mistral-7b-energy", 280.0):
        {"energy_j": 1_008_000.0, "gpu": "A100 SXM", "gpu_count": 2, "duration_s": 1800.0,
         "flags": ["per_gpu_from_total"]},
    # "17g" = 0.017 kg.
    ("card_yaml.co2_eq_emissions", "someone/gpt2-finetuned-imdb", 0.017):
        {"co2_kg": 0.017, "workload": "training", "gpu": None},
    # Template bullets; [More Information Needed] region left out.
    ("card_template.environmental_impact", "someone/gpt2-finetuned-imdb", 3.5):
        {"gpu": "T4", "gpu_count": 1, "gpu_hours": 3.5, "co2_kg": 0.25},
    # A card with broken YAML still has its prose read.
    ("prose", "broken/gpt-broken-yaml", 310.0): {"gpu": "RTX 3090", "workload": "fine-tuning"},
    # Hand-made table on an L4, measured with NVML; 0.5 kWh = 1.8 MJ; the "lots" row keeps its energy.
    ("card_table.markdown", "llama-7b", 65.0):
        {"energy_j": 1_800_000.0, "batch_size": 1, "gpu": "L4", "method": "nvml", "power_kind": "measured"},
    ("card_table.markdown", "llama-7b", None): {"energy_j": 3_240_000.0, "batch_size": 4},
    ("card_table.markdown", "llama-13b", 70.0): {"energy_j": 4_320_000.0, "batch_size": 8},
    # H100 PCIe prose: idle, steady (approximate) and peak.
    ("prose", "someone/H100-bench", 48.0): {"phase": "idle", "gpu": "H100 PCIe", "method": "zeus"},
    ("prose", "someone/H100-bench", 285.0): {"phase": "steady", "batch_size": 16, "power_kind": "measured"},
    ("prose", "someone/H100-bench", 342.0): {"phase": "peak", "power_kind": "peak"},
    # 12.5 g = 0.0125 kg; CodeCarbon, fine-tuning, one A100 SXM.
    ("card_yaml.co2_eq_emissions", "someone/bert-codecarbon", 0.0125):
        {"co2_kg": 0.0125, "workload": "fine-tuning", "method": "codecarbon", "gpu": "A100 SXM",
         "gpu_count": 1},
    # A bare number with underscores: 24_700_000 g = 24,700 kg.
    ("card_yaml.co2_eq_emissions", "someone/tiny-co2-number", 24_700.0): {"co2_kg": 24_700.0},
}


def test_exactly_the_expected_records(crawl):
    records = {key(item): item for item in crawl.items}
    assert len(crawl.items) == len(records) == len(EXPECTED) == 25
    assert_expected_fields(records, EXPECTED)


def test_record_urls_are_the_cards_and_files(crawl):
    for item in crawl.items:
        assert "/api/" not in item["url"] and "/resolve/" not in item["url"]
        if item["extractor"] == "csv.codecarbon":
            assert item["url"].endswith("/lab/mistral-7b-energy/blob/main/emissions.csv")
        else:
            assert "/blob/" not in item["url"]
            if item["model_id"]:
                assert item["url"].endswith("/" + item["model_id"])
    prose_300 = next(i for i in crawl.items if i["power_w"] == 300.0)
    assert "approximate" in prose_300["notes"]
    rated_range = next(i for i in crawl.items if i["power_w"] == 375.0)
    assert rated_range["bounds"] == {"power_w": [350.0, 400.0]} and "range_midpoint" in rated_range["flags"]


def test_crawl_stats(crawl):
    expected = {
        "hub_models/listing_pages": 7,  # Llama, Mistral, GPT (2 pages), H100, co2 filter (2 pages)
        "hub_models/models_listed": 13,
        "hub_models/candidates/carbon_metadata": 4,
        "hub_models/candidates/energy_tag": 1,
        "hub_models/candidates/search_hit": 8,
        "hub_models/cards_read": 9,
        "hub_models/records_found": 25,
        "extract/error/gated": 1,
        "extract/error/not_found": 1,
        "extract/error/oversized": 1,
        "extract/error/binary_card": 1,
        "extract/error/broken_yaml": 1,
        "extract/error/ragged_row": 2,
        "extract/error/non_numeric_cell": 1,
        "extract/skipped/no_front_matter": 1,
        "extract/skipped/table_total_row": 2,
        "measurement/flag/rated_not_measured": 7,
        "measurement/valid": 25,
        "item_scraped_count": 25,
    }
    assert {name: crawl.stat(name) for name in expected} == expected
    assert crawl.stats["finish_reason"] == "finished"
    assert crawl.stat("measurement/duplicate") == 0 and crawl.stat("item_dropped_count") == 0
    # One request per listing page, one per card and file: no per-model API calls.
    assert not [r for r in crawl.requests if r.path.startswith("/api/models/")]
    # 7 listing pages + 13 READMEs (every listed model is a candidate) + 1 emissions.csv.
    assert crawl.stat("downloader/request_count") == 7 + 13 + 1


def test_listing_asks_for_card_data_and_files(crawl):
    listings = [r.path for r in crawl.requests if r.path.startswith("/api/models?")]
    assert listings and all("cardData=true" in p and "full=true" in p for p in listings)


def test_gated_card_with_a_token_is_still_counted_and_skipped(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "hub_models", tmp_path, "-a", "search=GPT-gated", "-a", "filter=",
                           env={"HF_TOKEN": "hf_x"})
        statuses = [r.status for r in site.requests if "GPT-gated/resolve" in r.path]
    assert statuses == [403] and result.stat("extract/error/gated") == 1 and result.items == []


def test_ids_argument_reads_one_model(tmp_path):
    with MockSite() as site:
        result = run_crawl(site, "hub_models", tmp_path, "-a", "ids=someone/H100-bench",
                           "-a", "search=", "-a", "filter=")
    assert sorted(i["power_w"] for i in result.items) == [48.0, 285.0, 342.0]


def test_problems_in_one_card_are_logged_once_per_kind(crawl):
    lines = [line for line in crawl.log.splitlines() if "ragged_row: someone/llama-ragged-table" in line]
    assert len(lines) == 1 and "(and 1 more like it)" in lines[0]
