"""The three table rules, on rows written here; every expected figure is worked out in a comment."""

import pytest

from crawler.extract.dataset_tables import extract_table, map_generic_columns

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
    assert "CPU baseline" in record["notes"]
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
