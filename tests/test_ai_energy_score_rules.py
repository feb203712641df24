import pytest

from crawler.extract.ai_energy_score import (DOCUMENTED_FACTS, benchmark_report_records,
                                             leaderboard_records, methodology_facts, page_text,
                                             rendered_leaderboard_rows, task_slug)

PAGE = ("Every model is benchmarked on an NVIDIA H100 80GB GPU with a batch size of 1. We measure "
        "GPU energy with CodeCarbon. The unit is Wh per 1,000 queries, the mean of 10 runs.")


def test_methodology_facts_read_from_the_page():
    facts = methodology_facts(PAGE.replace("10 runs", "five runs").replace("batch size of 1", "batch size of 4"))
    assert (facts.hardware, facts.batch_size, facts.unit, facts.runs, facts.tool, facts.missing) == (
        "NVIDIA H100 80GB", 4, "Wh per 1,000 queries", 5, "codecarbon", ())


def test_page_text_leaves_scripts_out():
    html = "<html><body><p>NVIDIA H100 80GB, batch size of 1</p><script>var x = '999 W';</script></body></html>"
    assert "999" not in page_text(html) and "batch size of 1" in page_text(html)


def test_methodology_facts_missing_from_the_page_fall_back_and_say_so():
    facts = methodology_facts("The leaderboard moved. Energy is measured on an NVIDIA H100 80GB.")
    assert facts.missing == ("batch_size", "unit", "runs", "tool")
    assert (facts.batch_size, facts.runs, facts.tool) == (1, 10, "codecarbon")
    assert "did not state batch_size, unit, runs, tool: documented values used" in facts.notes()
    assert methodology_facts(None).missing == ("hardware", "batch_size", "unit", "runs", "tool")


def test_leaderboard_rows_to_joules_per_query():
    rows = [{"model": "meta-llama/Llama-2-7b-hf", "total_gpu_energy": "0.016441257", "energy_score": "3", "class": "A"},
            {"model": "distilbert/distilgpt2", "total_gpu_energy": "0.001313333", "energy_score": "5", "class": "A"},
            {"model": "meta-llama/Llama-2-70b-hf", "total_gpu_energy": "1.648505252", "energy_score": "5", "class": "C"}]
    seven, distil, seventy = leaderboard_records(rows, "text_generation", DOCUMENTED_FACTS, "f.csv").records
    # kWh per 1,000 queries * 3.6e6 J/kWh / 1,000 queries:
    assert seven["energy_per_query_j"] == pytest.approx(59.1885252)   # 0.016441257 * 3600
    assert distil["energy_per_query_j"] == pytest.approx(4.7279988)   # 0.001313333 * 3600
    assert seventy["energy_per_query_j"] == pytest.approx(5934.618907)  # 1.648505252 * 3600
    assert (seven["energy_score"], seven["model_params_b"], seven["task"], seven["gpu_raw"]) == (
        3, 7.0, "text_generation", "NVIDIA H100 80GB")
    assert (seven["batch_size"], seven["workload"], seven["scope"], seven["method"]) == (
        1, "inference", "gpu", "codecarbon")
    assert seven["notes"].startswith("text generation class A") and "PCIe or SXM" in seven["notes"]
    assert (seven["gpu_count"], seventy["gpu_count"]) == (1, None)  # class C runs on several GPUs


def test_index_column_missing_class_and_bad_rows():
    rows = [{"": "0", "model": "openai/whisper-tiny", "total_gpu_energy": "0.013442129", "energy_score": "5"},
            {"": "1", "model": "x/blank", "total_gpu_energy": "", "energy_score": "4"},
            {"": "2", "model": "x/words", "total_gpu_energy": "n/a", "energy_score": "4"},
            {"": "3", "model": "x/stars", "total_gpu_energy": "0.0012", "energy_score": "7"}]
    result = leaderboard_records(rows, "asr", DOCUMENTED_FACTS, "asr.csv")
    tiny, stars = result.records
    assert tiny["energy_per_query_j"] == pytest.approx(48.3916644)  # 0.013442129 * 3600
    assert "text generation class" not in tiny["notes"] and "=0," not in tiny["excerpt"]
    assert stars["energy_score"] is None
    assert [p.kind for p in result.problems] == ["bad_leaderboard_row", "bad_leaderboard_row", "bad_energy_score"]


REPORT = {
    "preprocess": {"energy": {"unit": "kWh", "cpu": 0.00001, "ram": 0.000001, "gpu": 0.0001, "total": 0.000111},
                   "efficiency": {"unit": "samples/kWh", "value": 9_000_000.0}, "measures": None},
    "prefill": {"energy": {"unit": "kWh", "cpu": 0.004, "ram": 0.0001, "gpu": 0.07, "total": 0.0741},
                "efficiency": {"unit": "tokens/kWh", "value": 4_800_000.0},
                "measures": [{"gpu": 0.007}, {"gpu": 0.0}]},
    "decode": {"energy": {"unit": "kWh", "cpu": 0.005, "ram": 0.0001, "gpu": 0.06, "total": 0.0651},
               "efficiency": {"unit": "tokens/kWh", "value": 120_000.0},
               "measures": [{"gpu": 0.006}, {"gpu": -0.006}]},
    "per_token": {"energy": None, "efficiency": None, "measures": None},
}


def test_benchmark_report():
    record, = benchmark_report_records(REPORT, "datasets/x/y/report.json", DOCUMENTED_FACTS).records
    # GPU energy: 0.0001 + 0.07 + 0.06 = 0.1301 kWh = 468,360 J.
    assert record["energy_j"] == pytest.approx(468_360.0)
    # 120,000 tokens/kWh in decode -> 3.6e6 / 120,000 = 30 J/token; 9e6 samples/kWh -> 0.4 J.
    assert record["energy_per_token_j"] == pytest.approx(30.0)
    assert record["energy_per_query_j"] == pytest.approx(0.4)
    # All parts: 0.000111 + 0.0741 + 0.0651 = 0.139311 kWh, kept in the notes.
    assert "add up to 0.139311 kWh" in record["notes"]
    assert "prefill: 2 runs, 1 with zero or negative GPU energy" in record["notes"]
    assert "decode: 2 runs, 1 with zero or negative GPU energy" in record["notes"]


def test_report_without_energy():
    result = benchmark_report_records({"decode": {"energy": None}}, "r.json", DOCUMENTED_FACTS)
    assert result.records == [] and [p.kind for p in result.problems] == ["report_without_energy"]


RENDERED = """<div><h2>Text Generation</h2><table><tr><th>Model</th><th>GPU Energy (Wh)</th>
<th>Score</th><th>Class</th></tr><tr><td>distilbert/distilgpt2</td><td>1.31</td><td>⭐⭐⭐⭐⭐</td>
<td>A</td></tr></table><h2>Image <b>Classification</b></h2><table><tr><th>Model</th>
<th>GPU Energy (kWh)</th><th>Score</th></tr><tr><td>google/vit</td><td>0.0005</td><td>4</td></tr></table>
<table><tr><th>Name</th><th>Likes</th></tr><tr><td>a</td><td>1</td></tr></table></div>"""


def test_rendered_tables_back_to_task_file_rows():
    tables, problems = rendered_leaderboard_rows(RENDERED)
    assert tables == [
        ("text_generation", [{"model": "distilbert/distilgpt2", "total_gpu_energy": pytest.approx(0.00131),
                              "energy_score": 5, "class": "A"}]),
        ("image_classification", [{"model": "google/vit", "total_gpu_energy": 0.0005, "energy_score": 4.0}]),
    ]
    assert [(p.kind, p.error) for p in problems] == [("unrecognised_table", False)]


def test_task_slug():
    assert task_slug("Text Generation") == "text_generation"
    assert task_slug(" Sentence-Similarity ") == "sentence_similarity"
