"""The table, JSON object and report rules, on rows and objects written here; every expected figure is worked out in a comment."""

import json

import pytest

from crawler.extract.datafiles import read_rows
from crawler.extract.dataset_tables import extract_codecarbon, extract_data_file, extract_table, map_generic_columns

OHDOKING_BASE = {
    "model_name": "TinyLlama-1.1B-Chat-v1.0", "huggingface_model": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "num_params": "1.1B", "hidden_size": "2048", "num_layers": "22", "vocab_size": "32000",
    "seq_length": "2048", "model_type": "Transformer (TinyLlama)", "timestamp": "84646",
    "hardware_cpu": "NVIDIA_GeForce_RTX_3070", "hardware_gpu": "NVIDIA GeForce RTX 3070",
    "hardware_ram": "8.00 GB", "total_prompts": "2", "average_runtime": "2.0",
    "average_energy": "150.0", "average_co2": "0.0001", "benchmark_timestamp": "20250601_084646",
    "prompt_text": "hi", "prompt_co2": "0.0001", "prompt_response": "hello",
}


def ohdoking_row(index, runtime, energy, **changes):
    return {**OHDOKING_BASE, "prompt_index": str(index), "prompt_runtime": str(runtime),
            "prompt_energy": str(energy), **changes}


def test_ohdoking_aggregates_per_model_and_gpu():
    rows = [ohdoking_row(0, 3.0, 240.0), ohdoking_row(1, 1.0, 60.0),
            ohdoking_row(0, 0.5, 10.0, model_name="opt-125m", huggingface_model="facebook/opt-125m",
                         num_params="125M")]
    result = extract_table(rows, "data/benchmark_x_RTX_3070.csv")
    assert result.extractor == "table.ohdoking"
    tiny, opt = result.records
    # TinyLlama: 240 + 60 = 300 J over 3 + 1 = 4 s -> 75 W; 300 J / 2 prompts = 150 J per prompt.
    assert tiny["energy_j"] == 300.0 and tiny["duration_s"] == 4.0
    assert tiny["power_w"] == 75.0 and tiny["energy_per_query_j"] == 150.0
    assert tiny["model_params_b"] == 1.1 and tiny["gpu_raw"] == "NVIDIA GeForce RTX 3070"
    assert (tiny["batch_size"], tiny["workload"], tiny["method"], tiny["scope"]) == (
        1, "inference", "codecarbon", "gpu")
    assert tiny["flags"] == ["derived"] and "2 prompt rows" in tiny["notes"]
    assert tiny["locator"] == "data/benchmark_x_RTX_3070.csv#model=TinyLlama/TinyLlama-1.1B-Chat-v1.0&gpu=NVIDIA GeForce RTX 3070"
    # opt-125m: one prompt, 10 J over 0.5 s -> 20 W.
    assert opt["power_w"] == 20.0 and opt["model_params_b"] == 0.125


def test_ohdoking_gpu_name_from_hardware_cpu_when_hardware_gpu_is_vague():
    rows = [ohdoking_row(0, 1.0, 50.0, hardware_gpu="cuda")]
    record = extract_table(rows, "f.csv").records[0]
    assert record["gpu_raw"] == "NVIDIA_GeForce_RTX_3070"


def test_ohdoking_cpu_baseline_keeps_record_without_gpu():
    rows = [ohdoking_row(0, 2.0, 8.0, hardware_cpu="CPU", hardware_gpu="N/A")]
    record = extract_table(rows, "cpu.csv").records[0]
    assert record["gpu_raw"] is None and record["gpu_count"] is None and record["scope"] is None
    assert "CPU baseline" in record["notes"] and record["flags"] == ["derived", "cpu_only"]
    assert record["power_w"] == 4.0  # 8 J / 2 s


def test_ohdoking_non_numeric_prompt_is_counted_and_the_rest_kept():
    rows = [ohdoking_row(0, 1.0, 50.0), ohdoking_row(1, "", "oops")]
    result = extract_table(rows, "f.csv")
    assert [p.kind for p in result.problems] == ["non_numeric_cell"]
    assert result.records[0]["energy_per_query_j"] == 50.0


CODECARBON_HEADER = ("timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,"
                     "cpu_power,gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,"
                     "gpu_count,gpu_model,tracking_mode,codecarbon_version").split(",")


def codecarbon_row(**values):
    row = dict.fromkeys(CODECARBON_HEADER, "")
    row.update({"project_name": "llm-inference", "codecarbon_version": "2.8.4",
                "tracking_mode": "machine"})
    row.update({key: str(value) for key, value in values.items()})
    return row


def test_codecarbon_per_gpu_power_and_energy_in_joules():
    rows = [codecarbon_row(run_id="r1", duration=900, emissions=0.12, gpu_power=1600.0,
                           gpu_energy=0.4, gpu_count=4, gpu_model="4 x NVIDIA H100 80GB HBM3")]
    result = extract_table(rows, "emissions.csv")
    assert result.extractor == "csv.codecarbon"
    record = result.records[0]
    # 1600 W summed over 4 GPUs -> 400 W each; 0.4 kWh * 3.6e6 J/kWh = 1.44e6 J.
    assert record["power_w"] == 400.0 and record["flags"] == ["per_gpu_from_total"]
    assert record["energy_j"] == pytest.approx(1_440_000.0)
    assert (record["duration_s"], record["co2_kg"], record["gpu_count"]) == (900.0, 0.12, 4)
    assert record["workload"] == "inference" and record["method"] == "codecarbon"
    assert record["locator"] == "emissions.csv#run=r1"


def test_codecarbon_zero_from_gpu_without_counter_is_passed_on_for_the_flagging_pipeline():
    rows = [codecarbon_row(run_id="r2", duration=600, gpu_power=0.0, gpu_energy=0.0, gpu_count=1,
                           gpu_model="1 x Tesla T4")]
    record = extract_table(rows, "emissions.csv").records[0]
    assert record["power_w"] == 0.0 and record["energy_j"] == 0.0


def test_codecarbon_run_without_gpu_is_skipped_not_an_error():
    rows = [codecarbon_row(run_id="cpu", duration=300, gpu_power=0.0, gpu_energy=0.0)]
    result = extract_table(rows, "emissions.csv")
    assert result.records == []
    assert [(p.kind, p.error) for p in result.problems] == [("codecarbon_run_without_gpu", False)]


@pytest.mark.parametrize("column, target, factor", [
    ("avg_power_w", "power_w", 1.0),
    ("Power (W)", "power_w", 1.0),
    ("power_kw", "power_w", 1000.0),
    ("energy_kwh", "energy_j", 3_600_000.0),
    ("energy_per_token_j", "energy_per_token_j", 1.0),
    ("energy_per_query_wh", "energy_per_query_j", 3600.0),
    ("runtime_s", "duration_s", 1.0),
])
def test_generic_column_heuristic(column, target, factor):
    mapping = map_generic_columns([column, "gpu", "model"])
    assert mapping.figures == {column: (target, pytest.approx(factor))}


@pytest.mark.parametrize("column", ["capacity_mw", "energy_mwh", "power", "price_usd", "tokens_per_j"])
def test_generic_heuristic_ignores_columns_without_a_clear_unit(column):
    assert map_generic_columns([column, "gpu", "model"]).figures == {}


def test_generic_table_one_record_per_row():
    rows = [{"model": "meta-llama/Llama-2-7b-hf", "gpu": "NVIDIA H100 PCIe", "batch_size": "8",
             "avg_power_w": "285.0", "energy_per_token_j": "0.11"},
            {"model": "meta-llama/Llama-2-7b-hf", "gpu": "NVIDIA H100 PCIe", "batch_size": "32",
             "avg_power_w": "n/a", "energy_per_token_j": "0.05"}]
    result = extract_table(rows, "r.csv", context="lab/x inference")
    first, second = result.records
    assert (first["power_w"], first["energy_per_token_j"], first["batch_size"]) == (285.0, 0.11, 8)
    assert first["model_params_b"] == 7.0 and first["workload"] == "inference"
    assert second["power_w"] is None and second["power_kind"] is None
    assert [p.kind for p in result.problems] == ["non_numeric_cell"]
    assert second["locator"] == "r.csv#row=2"


def test_table_without_figures_or_without_gpu_and_model_is_skipped():
    plants = extract_table([{"name": "A", "capacity_mw": "1300"}], "plants.csv")
    usage = extract_table([{"date": "2024-01-01", "energy_kwh": "12.5"}], "usage.csv")
    assert (plants.extractor, plants.records) == (None, [])
    assert [p.kind for p in plants.problems] == ["no_power_columns"]
    assert [p.kind for p in usage.problems] == ["no_gpu_or_model_column"]


# --- CodeCarbon rows as JSON, and rows that share a run ------------------------------------------

def test_codecarbon_json_object_gives_the_csv_row_record_and_the_phase_its_file_name_says():
    run = {"timestamp": "2025-01-02T03:04:05", "project_name": "codecarbon", "run_id": "r9",
           "duration": 400.0, "emissions": 0.03, "cpu_power": 45.0, "gpu_power": 640.0,
           "gpu_energy": 0.07, "energy_consumed": 0.08, "gpu_count": 1,
           "gpu_model": "1 x NVIDIA H100 80GB HBM3"}
    table = read_rows(json.dumps(run).encode(), "runs/decode_codecarbon.json")
    result = extract_data_file(table, "runs/decode_codecarbon.json", context="lab/bench")
    assert result.extractor == "json.codecarbon"
    (record,) = result.records
    # 0.07 kWh * 3.6e6 J/kWh = 252,000 J; one GPU, so gpu_power is its power.
    assert record["energy_j"] == pytest.approx(252_000.0)
    assert (record["power_w"], record["duration_s"], record["co2_kg"]) == (640.0, 400.0, 0.03)
    assert (record["gpu_raw"], record["gpu_count"], record["method"]) == (
        "1 x NVIDIA H100 80GB HBM3", 1, "codecarbon")
    assert (record["phase"], record["workload"]) == ("decode", "inference")
    assert record["locator"] == "runs/decode_codecarbon.json#run=r9&timestamp=2025-01-02T03:04:05"


def test_codecarbon_jsonl_rows_of_one_run_are_each_kept_with_their_own_locator():
    flushes = [{"timestamp": f"2025-01-02T03:0{minute}:00", "run_id": "same", "duration": 60.0 * minute,
                "emissions": 0.001 * minute, "gpu_power": 200.0, "gpu_energy": 0.002 * minute,
                "gpu_count": 2, "gpu_model": "2 x NVIDIA L4"} for minute in (1, 2)]
    data = "\n".join(json.dumps(row) for row in flushes).encode()
    result = extract_data_file(read_rows(data, "emissions.jsonl"), "emissions.jsonl")
    first, second = result.records
    assert first["locator"] == "emissions.jsonl#run=same&timestamp=2025-01-02T03:01:00"
    assert second["locator"] == "emissions.jsonl#run=same&timestamp=2025-01-02T03:02:00"
    # 200 W over 2 GPUs = 100 W each; 0.004 kWh * 3.6e6 = 14,400 J.
    assert (second["power_w"], second["energy_j"]) == (100.0, pytest.approx(14_400.0))


def test_codecarbon_rows_of_one_run_without_timestamps_are_told_apart_by_row():
    rows = [codecarbon_row(run_id="r1", duration=d, gpu_power=50.0, gpu_energy=0.001, gpu_count=1,
                           gpu_model="1 x Tesla T4") for d in (30, 60)]
    assert [r["locator"] for r in extract_table(rows, "emissions.csv").records] == [
        "emissions.csv#run=r1", "emissions.csv#run=r1&row=2"]


# --- One JSON object with unit-named keys --------------------------------------------------------

def summary_of(document: dict, context: str = ""):
    return extract_data_file(read_rows(json.dumps(document).encode(), "logs/run.json"),
                             "logs/run.json", context)


def test_unit_named_keys_give_the_main_record_and_one_per_peak_and_idle_reading():
    result = summary_of({
        "run_total_energy_kWh": 0.05, "energy_kJ": 170.0, "avg_power_W": 250.0,
        "energy_per_token_J": 0.4, "total_time_s": 720.0, "avg_latency_s": 3.5,
        "peak_power_W": 300.0, "idle_power_W": 30.0, "active_energy_J": 158_400.0,
        "cpu_energy_J": 9000.0, "throughput_tokens_per_s": 625.0, "total_tokens": 450_000,
    })
    assert result.extractor == "json.unit_keys"
    main, peak, idle = result.records
    # 0.05 kWh * 3.6e6 = 180,000 J: the key that says total wins over energy_kJ; active_energy_J
    # (total minus idle) and cpu_energy_J are not the run's GPU energy.
    assert main["energy_j"] == pytest.approx(180_000.0)
    assert (main["power_w"], main["energy_per_token_j"], main["duration_s"]) == (250.0, 0.4, 720.0)
    assert (main["phase"], main["gpu_raw"], main["throughput_tokens_per_s"]) == (None, None, 625.0)
    assert main["workload"] == "inference" and main["power_kind"] == "measured"
    assert "active_energy_J (derived" in main["notes"] and "cpu_energy_J (not the GPUs)" in main["notes"]
    assert (peak["phase"], peak["power_w"], peak["energy_j"]) == ("peak", 300.0, None)
    assert (idle["phase"], idle["power_w"]) == ("idle", 30.0)
    assert len({main["locator"], peak["locator"], idle["locator"]}) == 3


def test_unit_named_keys_read_the_gpu_model_and_units_given_in_the_key():
    result = summary_of({"gpu": "NVIDIA A10G", "model": "org/tiny-7b", "gpu_energy_Wh": 2.5,
                         "gpu_power_kW": 0.15})
    (record,) = result.records
    # 2.5 Wh * 3600 = 9,000 J; 0.15 kW = 150 W; both keys say GPU, so the scope is the GPU.
    assert record["energy_j"] == pytest.approx(9000.0) and record["power_w"] == pytest.approx(150.0)
    assert (record["gpu_raw"], record["model_id"], record["scope"]) == ("NVIDIA A10G", "org/tiny-7b", "gpu")


def test_two_keys_for_one_field_and_none_says_total_leave_the_field_out():
    result = summary_of({"gpu_util_percent": 90, "run1_energy_J": 10.0, "run2_energy_J": 12.0,
                         "avg_power_W": 200.0})
    (record,) = result.records
    assert record["energy_j"] is None and record["power_w"] == 200.0
    assert [(p.kind, p.error) for p in result.problems] == [("ambiguous_keys", False)]


def test_unit_named_keys_with_nothing_about_gpus_are_skipped():
    result = summary_of({"household": "A", "daily_energy_kWh": 12.5, "peak_power_kW": 4.0})
    assert result.records == [] and [p.kind for p in result.problems] == ["no_gpu_work"]
    assert summary_of({"daily_energy_kWh": 12.5}, context="gpu-lab/energy").records


def test_json_object_without_figures_is_skipped_as_a_table():
    result = summary_of({"backend": {"model": "org/m", "device": "cuda"}, "seed": 42})
    assert (result.extractor, result.records) == (None, [])
    assert [p.kind for p in result.problems] == ["no_power_columns"]


# --- optimum-benchmark reports -------------------------------------------------------------------

def test_optimum_benchmark_gpu_energy_and_inverted_efficiency_per_stage():
    report = {
        "load_model": {"energy": {"unit": "kWh", "cpu": 0.001, "ram": 0.0005, "gpu": 0.002, "total": 0.0035},
                       "efficiency": None},
        "prefill": {"energy": {"unit": "kWh", "cpu": 0.004, "ram": 0.002, "gpu": 0.05, "total": 0.056},
                    "efficiency": {"unit": "samples/kWh", "value": 10_000.0}},
        "decode": {"energy": {"unit": "kWh", "cpu": 0.01, "ram": 0.005, "gpu": 0.1, "total": 0.115},
                   "efficiency": {"unit": "tokens/kWh", "value": 4_000_000.0}},
    }
    config = {"backend": {"model": "org/llm-8b"}, "scenario": {"input_shapes": {"batch_size": 4}},
              "environment": {"gpu": ["NVIDIA L40S"], "gpu_count": 1}}
    document = {"config": config, "report": report}
    result = extract_data_file(read_rows(json.dumps(document).encode(), "b/benchmark.json"), "b/benchmark.json")
    assert result.extractor == "json.optimum_benchmark"
    prefill_gpu, prefill_eff, decode_gpu, decode_eff = result.records
    # GPU energy: 0.05 kWh * 3.6e6 = 180,000 J; 0.1 kWh = 360,000 J. load_model is not model work.
    assert (prefill_gpu["phase"], prefill_gpu["energy_j"], prefill_gpu["scope"]) == (
        "prefill", pytest.approx(180_000.0), "gpu")
    assert decode_gpu["energy_j"] == pytest.approx(360_000.0)
    # Efficiencies divide by CPU + RAM + GPU energy: 3.6e6 / 10,000 samples/kWh = 360 J a sample,
    # 3.6e6 / 4,000,000 tokens/kWh = 0.9 J a token.
    assert (prefill_eff["energy_per_query_j"], prefill_eff["scope"]) == (pytest.approx(360.0), "gpu+cpu+ram")
    assert (decode_eff["energy_per_token_j"], decode_eff["phase"]) == (pytest.approx(0.9), "decode")
    assert {(r["gpu_raw"], r["model_id"], r["batch_size"], r["method"]) for r in result.records} == {
        ("NVIDIA L40S", "org/llm-8b", 4, "codecarbon")}


def test_optimum_benchmark_report_alone_names_no_gpu_and_counts_an_unknown_efficiency_unit():
    report = {"call": {"energy": {"unit": "kWh", "gpu": 0.01, "total": 0.012},
                       "efficiency": {"unit": "images/kWh", "value": 500.0}}}
    result = extract_data_file(read_rows(json.dumps(report).encode(), "benchmark_report.json"),
                               "benchmark_report.json")
    (record,) = result.records
    # 0.01 kWh * 3.6e6 = 36,000 J.
    assert record["energy_j"] == pytest.approx(36_000.0) and record["gpu_raw"] is None
    assert "does not name its GPU" in record["notes"]
    assert [p.kind for p in result.problems] == ["unexpected_unit"]


def test_a_codecarbon_energy_past_what_a_float_holds_in_joules_is_left_out_and_the_run_kept():
    rows = [{"gpu_model": "1 x NVIDIA H100 PCIe", "gpu_count": "1", "gpu_power": "310.5",
             "gpu_energy": "5e301", "duration": "60"}]
    extraction = extract_codecarbon(rows, "emissions.csv")
    (record,) = extraction.records
    assert record["energy_j"] is None and record["power_w"] == 310.5
    assert [problem.kind for problem in extraction.problems] == ["non_numeric_cell"]
