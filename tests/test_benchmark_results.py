"""The measurement tools' benchmark result rules (ML.ENERGY, LLM-Perf), on files written here in
the shapes those tools publish; every expected figure is worked out in a comment."""

import io
import json

import pyarrow
import pyarrow.parquet
import pytest

from crawler.extract.datafiles import read_rows
from crawler.extract.dataset_tables import extract_data_file


def extract(text: str | bytes, path: str, context: str = ""):
    data = text.encode() if isinstance(text, str) else text
    return extract_data_file(read_rows(data, path), path, context)


# --- ML.ENERGY per-configuration JSON ------------------------------------------------------------

def test_mlenergy_config_json_is_one_run_of_all_its_gpus():
    config = {"Model": "meta-llama/Llama-2-13b-chat-hf", "Backend": "vLLM",
              "GPU model": "NVIDIA A100-SXM4-40GB", "#GPUs": 2, "Request rate": 4.0,
              "Requests per second": 3.5, "Latency per request (s)": 14.2,
              "Energy per request (J)": 1234.5}
    result = extract(json.dumps(config, indent=2), "data/llm/chat/A100/vLLM/x/rate4.json")
    assert result.extractor == "json.mlenergy_config"
    [record] = result.records
    # The energy per request is the Zeus energy of both GPUs over the run / requests: kept as is,
    # with the two GPUs it covers; the per-request latency is no duration of the run.
    assert record["energy_per_query_j"] == 1234.5 and record["gpu_count"] == 2
    assert record["gpu_raw"] == "NVIDIA A100-SXM4-40GB" and record["model_params_b"] == 13.0
    assert (record["scope"], record["method"], record["workload"]) == ("gpu", "zeus", "inference")
    assert record.get("duration_s") is None and record.get("power_w") is None
    assert "summed over the run's 2 GPUs" in record["notes"] and "Request rate=4.0" in record["notes"]


def test_mlenergy_diffusion_config_json_keeps_its_batch_size():
    config = {"Model": "segmind/SSD-1B", "GPU model": "NVIDIA A100-SXM4-40GB", "Batch size": 4,
              "Number of inference steps": 30, "Batch latency (s)": 8.0,
              "Batch energy (J)": 3200.0, "Energy per image (J)": 800.0}
    [record] = extract(json.dumps(config), "data/diffusion/SSD-1B/bs4.json").records
    # 3,200 J per batch of 4 = 800 J per image, as the file says.
    assert record["energy_per_query_j"] == 800.0 and record["batch_size"] == 4
    assert record["gpu_count"] is None


# --- ML.ENERGY leaderboard CSVs ------------------------------------------------------------------

LEGACY_CSV = ("model,batch_size,throughput,response_length,latency,energy\n"
              "lmsys/vicuna-7B,2,34.5,210.0,14.2,1142.25\n"
              "metaai/llama-13B,1,25.0,73.8,2.7,n/a\n")


def test_mlenergy_legacy_csv_reads_the_documented_units_and_the_gpu_of_the_file_name():
    result = extract(LEGACY_CSV, "data/A100_chat_benchmark.csv")
    assert result.extractor == "csv.mlenergy_legacy"
    [record] = result.records
    # energy (J per response, as the leaderboard documents) and throughput (token/s) as written.
    assert record["energy_per_query_j"] == 1142.25 and record["throughput_tokens_per_s"] == 34.5
    assert (record["gpu_raw"], record["gpu_count"], record["batch_size"]) == ("A100", 1, 2)
    assert record["model_params_b"] == 7.0 and record["scope"] == "gpu"
    assert "GPU A100 from the file name" in record["notes"]
    assert record["locator"] == "data/A100_chat_benchmark.csv#model=lmsys/vicuna-7B&batch=2"
    # The "n/a" energy is counted, not read as a figure.
    assert [problem.kind for problem in result.problems] == ["non_numeric_cell"]


def test_mlenergy_legacy_csv_of_the_first_leaderboard_has_no_batch_column():
    text = "model,throughput,response_length,latency,energy\r\nBAIR/koala-7b,22.5,261.8,11.9,2632.75\r\n"
    [record] = extract(text, "V100_chat_benchmark.csv").records
    assert (record["energy_per_query_j"], record["gpu_raw"], record["batch_size"]) == (2632.75, "V100", None)


def test_mlenergy_legacy_csv_is_recognised_by_its_columns_not_its_name():
    result = extract(LEGACY_CSV, "results/run.csv")
    assert result.extractor == "csv.mlenergy_legacy"
    assert result.records[0]["gpu_raw"] is None and "names no GPU" in result.records[0]["notes"]


# --- ML.ENERGY benchmark v3 run summaries --------------------------------------------------------

V3_LLM_ROWS = [
    # 1,200 W over 4 GPUs; 48,000 J over 40 s of steady state.
    {"domain": "llm", "task": "lm-arena-chat", "model_id": "meta-llama/Llama-3.1-70B-Instruct",
     "nickname": "Llama 3.1 70B", "total_params_billions": 70.6, "gpu_model": "H100", "num_gpus": 4,
     "max_num_seqs": 128, "steady_state_energy_joules": 48000.0, "steady_state_duration_seconds": 40.0,
     "energy_per_token_joules": 0.25, "energy_per_request_joules": 75.0,
     "output_throughput_tokens_per_sec": 4800.0, "avg_power_watts": 1200.0, "avg_batch_size": 120.5,
     "is_stable": True, "unstable_reason": "",
     "results_path": "llm/h100/current/run/chat/lm-arena-chat/results/meta-llama/Llama-3.1-70B-Instruct/H100/num_gpus+4+max_num_seqs+128/results.json"},
    # Unstable: kept and flagged. 450 W on one GPU.
    {"domain": "llm", "task": "gpqa", "model_id": "Qwen/Qwen3-8B", "nickname": "Qwen3 8B",
     "total_params_billions": 8.2, "gpu_model": "B200", "num_gpus": 1, "max_num_seqs": 512,
     "steady_state_energy_joules": 9000.0, "steady_state_duration_seconds": 20.0,
     "energy_per_token_joules": 0.05, "energy_per_request_joules": 40.0,
     "output_throughput_tokens_per_sec": 9000.0, "avg_power_watts": 450.0, "avg_batch_size": 300.0,
     "is_stable": False, "unstable_reason": "low_batch_utilization:0.585938",
     "results_path": "llm/b200/current/run/reasoning/gpqa/results/Qwen/Qwen3-8B/B200/num_gpus+1+max_num_seqs+512/results.json"},
]


def parquet_bytes(rows):
    buffer = io.BytesIO()
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def test_mlenergy_v3_power_per_gpu_and_max_num_seqs_not_a_batch_size():
    result = extract(parquet_bytes(V3_LLM_ROWS), "runs/llm.parquet")
    assert result.extractor == "parquet.mlenergy_v3"
    seventy, qwen = result.records
    # 1,200 W summed over 4 GPUs -> 300 W per GPU.
    assert seventy["power_w"] == 300.0 and seventy["gpu_count"] == 4
    assert seventy["flags"] == ["per_gpu_from_total"]
    assert seventy["energy_per_token_j"] == 0.25 and seventy["energy_per_query_j"] == 75.0
    assert seventy["energy_j"] == 48000.0 and seventy["duration_s"] == 40.0
    assert seventy["throughput_tokens_per_s"] == 4800.0 and seventy["phase"] == "steady"
    assert seventy["model_params_b"] == 70.6 and seventy["task"] == "lm-arena-chat"
    # max_num_seqs is a cap on concurrent sequences: not the batch size, said in the notes.
    assert seventy["batch_size"] is None
    assert "max_num_seqs=128 is vLLM's cap on concurrent sequences, not the batch size" in seventy["notes"]
    assert (seventy["scope"], seventy["method"]) == ("gpu", "zeus")
    assert seventy["locator"].startswith("runs/llm.parquet#llm/h100/")
    # The unstable run is kept, flagged, with its reason; one GPU: 450 W as written.
    assert qwen["power_w"] == 450.0 and qwen["flags"] == ["unstable_run"]
    assert "low_batch_utilization:0.585938" in qwen["notes"]


def test_mlenergy_v3_diffusion_runs_keep_their_batch_size():
    row = {"domain": "diffusion", "task": "text-to-image", "model_id": "stabilityai/stable-diffusion-3.5-large",
           "gpu_model": "H100", "num_gpus": 2, "batch_size": 8, "batch_latency_s": 10.0,
           "avg_power_watts": 1100.0, "energy_per_generation_joules": 1375.0}
    [record] = extract(parquet_bytes([row]), "runs/diffusion.parquet").records
    # 1,100 W over 2 GPUs -> 550 W each; 1,375 J per image as written.
    assert record["power_w"] == 550.0 and record["energy_per_query_j"] == 1375.0
    assert record["batch_size"] == 8 and record["energy_per_token_j"] is None


# --- LLM-Perf leaderboard CSVs -------------------------------------------------------------------

LLM_PERF_CSV = (
    "config.name,config.backend.name,config.backend.model,config.environment.gpu,"
    "config.environment.gpu_count,config.scenario.input_shapes.batch_size,"
    "report.decode.throughput.value,report.decode.efficiency.value,report.decode.efficiency.unit\n"
    "pytorch+cuda+float16+sdpa,pytorch,mistralai/Mistral-7B-v0.1,['NVIDIA A100-SXM4-80GB'],1,1,"
    "32.5,1800000.0,tokens/kWh\n"
    "pytorch+cuda+float16+eager,pytorch,google/gemma-2b,['NVIDIA A100-SXM4-80GB'],1,1,40.0,,tokens/kWh\n")


def test_llm_perf_tokens_per_kwh_become_joules_per_token_of_cpu_ram_and_gpu():
    result = extract(LLM_PERF_CSV, "perf-df-pytorch-cuda-unquantized-1xA100.csv")
    assert result.extractor == "csv.llm_perf"
    [record] = result.records  # the row without an efficiency gives nothing and is no error
    # 3.6e6 J per kWh / 1,800,000 tokens per kWh = 2.0 J per token.
    assert record["energy_per_token_j"] == pytest.approx(2.0)
    assert (record["scope"], record["method"], record["phase"]) == ("gpu+cpu+ram", "codecarbon", "decode")
    assert (record["gpu_raw"], record["gpu_count"], record["batch_size"]) == ("NVIDIA A100-SXM4-80GB", 1, 1)
    assert record["throughput_tokens_per_s"] == 32.5 and record["model_params_b"] == 7.0
    assert record["locator"] == ("perf-df-pytorch-cuda-unquantized-1xA100.csv"
                                 "#model=mistralai/Mistral-7B-v0.1&config=pytorch+cuda+float16+sdpa")
    assert result.problems == []


def test_llm_perf_other_efficiency_unit_is_counted():
    text = LLM_PERF_CSV.replace("1800000.0,tokens/kWh", "500.0,tokens/Wh")
    result = extract(text, "perf-df-x.csv")
    assert result.records == [] and [p.kind for p in result.problems] == ["unexpected_unit"]


# --- One JSON object is one row ------------------------------------------------------------------

def test_json_object_holding_a_list_of_records_is_still_read_as_one_run():
    # An ML.ENERGY configuration object that also lists its per-request results: before, the
    # inner list was taken for the table and the run's own figures were skipped.
    config = {"Model": "lmsys/vicuna-7B", "GPU model": "NVIDIA A40", "#GPUs": 1,
              "Energy per request (J)": 321.0,
              "results": [{"latency": 1.0, "energy": 300.0}, {"latency": 2.0, "energy": 342.0}]}
    table = read_rows(json.dumps(config).encode(), "run.json")
    assert table.rows == config["results"]  # the reader still offers the inner records
    result = extract_data_file(table, "run.json")
    assert result.extractor == "json.mlenergy_config"
    assert [r["energy_per_query_j"] for r in result.records] == [321.0]


def test_rows_measuring_the_same_thing_twice_are_told_apart_by_row_number():
    text = LEGACY_CSV.replace("metaai/llama-13B,1,25.0,73.8,2.7,n/a", "lmsys/vicuna-7B,2,30.0,200.0,13.0,1100.0")
    first, second = extract(text, "data/A100_chat_benchmark.csv").records
    assert first["locator"] == "data/A100_chat_benchmark.csv#model=lmsys/vicuna-7B&batch=2"
    assert second["locator"] == first["locator"] + "&row=2"
