import pytest

from crawler.extract.github_issues import MAX_BODY_CHARS, comment_records, tools_mentioned
from crawler.extract.tool_output import tool_output_records
from crawler.spiders.github_issues import parse_issue_reference

SMI_TABLE = """```
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |
|===============================+======================+======================|
|   0  NVIDIA H100 PCIe     On  | 00000000:17:00.0 Off |                    0 |
| N/A   45C    P0   285W / 350W |  40960MiB / 81559MiB |     97%      Default |
+-------------------------------+----------------------+----------------------+
|   1  NVIDIA H100 80GB HBM3 On | 00000000:65:00.0 Off |                    0 |
| N/A   41C    P0    62W / 700W |      4MiB / 81559MiB |      0%      Default |
```"""

SMI_QUERY = """```
$ nvidia-smi --query-gpu=name,power.draw,power.limit --format=csv
name, power.draw [W], power.limit [W]
NVIDIA A100-SXM4-80GB, 312.45 W, 400.00 W
NVIDIA A100-SXM4-80GB, [N/A], 400.00 W
```"""


def test_nvidia_smi_default_table():
    first, second = tool_output_records(SMI_TABLE, "c1").records
    assert (first["gpu_raw"], first["power_w"], first["method"], first["power_kind"]) == (
        "NVIDIA H100 PCIe", 285.0, "nvidia-smi", "measured")
    assert "power cap 350 W" in first["notes"]
    assert (second["gpu_raw"], second["power_w"]) == ("NVIDIA H100 80GB HBM3", 62.0)
    assert "power cap 700 W" in second["notes"]


def test_nvidia_smi_query_csv():
    reading, = tool_output_records(SMI_QUERY, "c1").records  # the [N/A] row has no reading
    assert (reading["gpu_raw"], reading["power_w"]) == ("NVIDIA A100-SXM4-80GB", 312.45)
    assert "power cap 400 W" in reading["notes"]


def test_query_without_power_draw_gives_nothing():
    assert tool_output_records("name, temperature.gpu\nNVIDIA A10G, 45\n").records == []


@pytest.mark.parametrize("text, expected", [
    ("~285 W average on an H100 PCIe at batch 8",
     {"power_w": 285.0, "gpu_raw": "H100 PCIe", "batch_size": 8, "phase": None}),
    ("0.35 J/token on A100-80GB", {"energy_per_token_j": 0.35, "gpu_raw": "A100-80GB"}),
    ("My A10G sits idle at 60W.", {"power_w": 60.0, "phase": "idle"}),
    ("Under load it peaks at 340 W on an RTX 4090.", {"power_w": 340.0, "phase": "peak", "power_kind": "peak"}),
])
def test_comment_prose_forms(text, expected):
    record, = comment_records(text, "c").records
    assert {key: record.get(key) for key in expected} == expected


def test_code_blocks_that_are_not_tool_output_yield_nothing():
    text = "My script:\n\n```python\nmodel.generate()  # a 300 W budget, 0.5 J/token\n```\n"
    assert comment_records(text, "c").records == []


def test_table_with_a_gpu_column_and_a_broken_row():
    text = "| GPU | Power (W) |\n|---|---|\n| A10G | 140 |\n| T4 |\n"
    extraction = comment_records(text, "c")
    record, = extraction.records
    assert (record["gpu_raw"], record["power_w"], record["extractor"]) == ("A10G", 140.0, "markdown_table.markdown")
    assert [p.kind for p in extraction.problems] == ["ragged_row"]


def test_huge_body_is_read_up_to_the_bound():
    body = "It draws 250 W on an L4. " + "x" * 1_000_000 + " It draws 999 W on an L4."
    powers = [r["power_w"] for r in comment_records(body, "c").records]
    assert powers == [250.0] and MAX_BODY_CHARS < len(body)


def test_tools_mentioned():
    text = ("We read pynvml through Zeus, compared with nvidia-smi -pl 250 (power capping), a Kill-A-Watt "
            "at the wall and RAPL for the CPU; CodeCarbon and DCGM too.")
    assert tools_mentioned(text) == ["NVML", "nvidia-smi", "Zeus", "CodeCarbon", "power capping",
                                     "external meter", "RAPL", "DCGM"]
    assert tools_mentioned("nothing relevant") == []


def test_issue_reference():
    assert parse_issue_reference("huggingface/transformers#25782") == ("huggingface/transformers", 25782)
    from scrapy.exceptions import UsageError
    with pytest.raises(UsageError):
        parse_issue_reference("transformers#1")


def test_codecarbon_emissions_csv_pasted_in_a_code_block_is_read_as_the_file():
    text = ("I track training on 4 GPUs; my emissions.csv:\n\n```csv\n"
            "timestamp,project_name,run_id,duration,emissions,gpu_power,gpu_energy,energy_consumed,gpu_count,gpu_model\n"
            "2024-05-05T04:04:43,Test,run-1,3600.0,1.5,1000.0,0.9,1.2,4,4 x NVIDIA A40\n```\n")
    record, = comment_records(text, "c").records
    # 1000 W over 4 GPUs = 250 W each; 0.9 kWh x 3.6e6 = 3,240,000 J; 1.5 kg CO2.
    assert (record["extractor"], record["gpu_raw"], record["gpu_count"]) == ("csv.codecarbon", "4 x NVIDIA A40", 4)
    assert (record["power_w"], record["energy_j"], record["co2_kg"]) == (250.0, pytest.approx(3_240_000.0), 1.5)
    assert record["workload"] == "training"
