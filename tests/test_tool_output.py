"""Tool output pasted into posts: each tool's documented output shape, values worked out by hand."""

import pytest

from crawler.extract.tool_output import tool_output_records

# nvidia-smi 418 (2019): names cut to 19 characters, "No running processes found".
OLD_TABLE = """\
+-----------------------------------------------------------------------------+
| NVIDIA-SMI 418.67       Driver Version: 418.67       CUDA Version: 10.1     |
|-------------------------------+----------------------+----------------------+
| GPU  Name        Persistence-M| Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp  Perf  Pwr:Usage/Cap|         Memory-Usage | GPU-Util  Compute M. |
|===============================+======================+======================|
|   0  Tesla V100-PCIE...  On   | 00000000:00:04.0 Off |                    0 |
| N/A   38C    P0    36W / 250W |      0MiB / 16130MiB |      0%      Default |
+-------------------------------+----------------------+----------------------+

+-----------------------------------------------------------------------------+
| Processes:                                                       GPU Memory |
|  GPU       PID   Type   Process name                             Usage      |
|=============================================================================|
|  No running processes found                                                 |
+-----------------------------------------------------------------------------+"""

# nvidia-smi 535 (2023): wider first column, a MIG line per GPU, GI/CI columns for processes.
NEW_TABLE = """\
+---------------------------------------------------------------------------------------+
| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |
|-----------------------------------------+----------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |
|                                         |                      |               MIG M. |
|=========================================+======================+======================|
|   0  NVIDIA H100 80GB HBM3          On  | 00000000:19:00.0 Off |                    0 |
| N/A   33C    P0              71W / 700W |      4MiB / 81559MiB |      0%      Default |
|                                         |                      |             Disabled |
+-----------------------------------------+----------------------+----------------------+
|   1  NVIDIA H100 80GB HBM3          On  | 00000000:3B:00.0 Off |                    0 |
| N/A   45C    P0             650W / 700W |  70000MiB / 81559MiB |    100%      Default |
|                                         |                      |             Disabled |
+-----------------------------------------+----------------------+----------------------+
|   2  NVIDIA H100 80GB HBM3          On  | 00000000:5D:00.0 Off |                    0 |
| N/A   30C    P0              90W / 700W |   2000MiB / 81559MiB |      0%      Default |
|                                         |                      |             Disabled |
+-----------------------------------------+----------------------+----------------------+

+---------------------------------------------------------------------------------------+
| Processes:                                                                            |
|  GPU   GI   CI        PID   Type   Process name                            GPU Memory |
|        ID   ID                                                             Usage      |
|=======================================================================================|
|    1   N/A  N/A     12345      C   python                                    69990MiB |
|    2   N/A  N/A     12346      C   python                                     1990MiB |
+---------------------------------------------------------------------------------------+"""

# A laptop GPU without a power sensor, and a consumer card whose name is cut with " ...".
NA_AND_TRUNCATED_TABLE = """\
| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |
|=========================================+======================+======================|
|   0  NVIDIA GeForce MX450           Off | 00000000:2D:00.0 Off |                  N/A |
| N/A   45C    P8             N/A /  N/A  |      5MiB /  2048MiB |      0%      Default |
+-----------------------------------------+----------------------+----------------------+
|   1  NVIDIA GeForce RTX 3090 ...    Off | 00000000:41:00.0  On |                  N/A |
| 30%   52C    P2             280W / 350W |  20000MiB / 24576MiB |     88%      Default |
+-----------------------------------------+----------------------+----------------------+"""


def powers(readings):
    return [record["power_w"] for record in readings.records]


def test_old_table_pasted_without_a_fence_is_an_idle_reading():
    text = f"Before any job starts:\n{OLD_TABLE}\nSo 36 W idle. Anything above is odd."
    readings = tool_output_records(text, "c1")
    record, = readings.records
    assert (record["gpu_raw"], record["gpu_count"], record["power_w"], record["phase"]) == (
        "Tesla V100-PCIE...", 1, 36.0, "idle")
    assert (record["method"], record["scope"], record["power_kind"], record["extractor"]) == (
        "nvidia-smi", "gpu", "measured", "nvidia_smi")
    assert "power cap 250 W" in record["notes"] and "cut short" in record["notes"]
    assert record["locator"] == f"c1#nvidia-smi-gpu=0@{text.index('|   0  Tesla')}"
    assert readings.skipped == {"cap": 1}
    span, = readings.spans
    assert text[span[0]:span[1]] == OLD_TABLE  # the prose around it is left to the prose reader


def test_new_table_several_gpus_idle_only_at_zero_util_without_processes():
    readings = tool_output_records(f"```\n{NEW_TABLE}\n```", "c")
    assert powers(readings) == [71.0, 650.0, 90.0]
    # GPU 0: 0 % and no process; GPU 1: busy; GPU 2: 0 % but a process holds it.
    assert [record.get("phase") for record in readings.records] == ["idle", None, None]
    assert [record["notes"] for record in readings.records] == [
        "instantaneous nvidia-smi reading; power cap 700 W"] * 3
    assert readings.skipped == {"cap": 3}
    assert all(record["gpu_raw"] == "NVIDIA H100 80GB HBM3" for record in readings.records)


def test_table_power_not_available_is_counted_not_recorded():
    readings = tool_output_records(NA_AND_TRUNCATED_TABLE)
    record, = readings.records
    assert (record["gpu_raw"], record["power_w"], record.get("phase")) == ("NVIDIA GeForce RTX 3090 ...", 280.0, None)
    assert readings.skipped == {"unavailable": 1, "cap": 1}
    assert readings.spans == [(0, len(NA_AND_TRUNCATED_TABLE))]


def test_query_csv_looped_is_one_trace_per_gpu():
    text = """```
$ nvidia-smi --query-gpu=index,name,power.draw,power.limit,utilization.gpu --format=csv -l 1
index, name, power.draw [W], power.limit [W], utilization.gpu [%]
0, NVIDIA A100-SXM4-80GB, 300.00 W, 400.00 W, 97 %
1, NVIDIA A100-SXM4-80GB, 100.00 W, 400.00 W, 0 %
0, NVIDIA A100-SXM4-80GB, 310.00 W, 400.00 W, 98 %
1, NVIDIA A100-SXM4-80GB, 100.00 W, 400.00 W, 0 %
0, NVIDIA A100-SXM4-80GB, 320.00 W, 400.00 W, 99 %
1, NVIDIA A100-SXM4-80GB, [N/A], 400.00 W, 0 %
```"""
    readings = tool_output_records(text)
    busy, idle = readings.records
    assert (busy["power_w"], busy["trace"], busy.get("phase")) == (
        310.0, {"interval_s": 1.0, "readings_w": [300.0, 310.0, 320.0]}, None)
    assert (idle["power_w"], idle["trace"], idle["phase"]) == (
        100.0, {"interval_s": 1.0, "readings_w": [100.0, 100.0]}, "idle")
    assert busy["gpu_raw"] == "NVIDIA A100-SXM4-80GB" and busy["gpu_count"] == 1
    assert readings.skipped == {"cap": 6, "unavailable": 1}


def test_query_csv_with_timestamps_takes_the_interval_from_them():
    text = """timestamp, name, power.draw [W]
2023/10/13 10:22:33.000, NVIDIA L4, 70.00 W
2023/10/13 10:22:35.000, NVIDIA L4, 72.00 W
2023/10/13 10:22:37.000, NVIDIA L4, 74.50 W"""
    record, = tool_output_records(text).records
    assert (record["power_w"], record["trace"]) == (72.167, {"interval_s": 2.0, "readings_w": [70.0, 72.0, 74.5]})


def test_query_csv_looped_in_milliseconds_without_units():
    text = """nvidia-smi --query-gpu=pci.bus_id,power.draw --format=csv,nounits -lms 500
pci.bus_id, power.draw
00000000:17:00.0, 200.5
00000000:17:00.0, 201.5"""
    record, = tool_output_records(text).records
    assert (record["power_w"], record["trace"]) == (201.0, {"interval_s": 0.5, "readings_w": [200.5, 201.5]})


def test_query_csv_without_header_cannot_be_read():
    text = "$ nvidia-smi --query-gpu=name,power.draw --format=csv,noheader,nounits\nNVIDIA A10G, 61.12\n"
    assert tool_output_records(text).records == []


DMON = """\
# gpu   pwr  gtemp  mtemp    sm   mem   enc   dec  mclk  pclk
# Idx     W      C      C     %     %     %     %   MHz   MHz
    0    60     34      -     0     0     0     0   877   210
    1   250     60      -    95    40     0     0  1593  1410
    0    62     34      -     0     0     0     0   877   210
    1   254     61      -    97    41     0     0  1593  1410
    0    64     35      -     0     0     0     0   877   210
    1     -     61      -    96    41     0     0  1593  1410"""


def test_dmon_is_one_trace_per_gpu_at_the_default_interval():
    readings = tool_output_records(f"```\n{DMON}\n```", "c")
    idle, busy = readings.records
    assert (idle["power_w"], idle["trace"], idle["phase"]) == (
        62.0, {"interval_s": 1.0, "readings_w": [60.0, 62.0, 64.0]}, "idle")
    assert (busy["power_w"], busy["trace"]["readings_w"], busy.get("phase")) == (252.0, [250.0, 254.0], None)
    assert (idle["method"], idle["gpu_raw"], idle["gpu_count"]) == ("nvidia-smi", None, 1)
    assert idle["locator"] == "c#nvidia-smi-dmon@4:gpu=0" and "default of 1 s" in idle["notes"]
    assert readings.skipped == {"unavailable": 1}
    assert readings.spans == [(4, 4 + len(DMON))]


def test_dmon_interval_from_the_command_introducing_the_block():
    text = f"Output of `nvidia-smi dmon -s pu -d 5` while training:\n\n```\n{DMON}\n```"
    idle, _ = tool_output_records(text).records
    assert idle["trace"]["interval_s"] == 5.0 and "default" not in idle["notes"]


def test_dmon_with_time_column_and_repeated_header():
    text = """\
#Time        gpu   pwr    sm
#HH:MM:SS    Idx     W     %
 10:00:00      0   100    50
 10:00:02      0   110    60
#Time        gpu   pwr    sm
#HH:MM:SS    Idx     W     %
 10:00:04      0   120    70"""
    record, = tool_output_records(text).records
    assert record["trace"] == {"interval_s": 2.0, "readings_w": [100.0, 110.0, 120.0]}
    assert record["power_w"] == 110.0


DCGMI = """\
#Entity   POWER        TMPTR        GPUTL
ID
GPU 0     71.250       33           0
GPU 1     300.500      55           90
GPU 0     72.750       33           0
GPU 1     299.500      56           91"""


def test_dcgmi_dmon_with_delay_in_milliseconds():
    text = f"```\n$ dcgmi dmon -e 155,150,203 -d 500\n{DCGMI}\n```"
    readings = tool_output_records(text)
    idle, busy = readings.records
    assert (idle["power_w"], idle["trace"], idle["phase"]) == (
        72.0, {"interval_s": 0.5, "readings_w": [71.25, 72.75]}, "idle")
    assert (busy["power_w"], busy.get("phase"), busy["extractor"], busy["method"]) == (300.0, None, "dcgmi", "nvml")
    span, = readings.spans
    assert text[span[0]:span[1]] == DCGMI


def test_dcgmi_dmon_without_delay_has_no_interval():
    idle, _ = tool_output_records(DCGMI).records
    assert idle["trace"]["interval_s"] is None and "interval not shown" in idle["notes"]


def test_zeus_measurement_repr():
    line = "Measurement(time=10.0, gpu_energy={0: 1500.0, 1: 1620.5}, cpu_energy={0: 300.0}, dram_energy=None)"
    readings = tool_output_records(f"Training epoch 1:\n{line}\n", "c")
    first, second = readings.records
    assert (first["energy_j"], first["duration_s"], first["power_w"], first["flags"], first["method"]) == (
        1500.0, 10.0, 150.0, ["derived"], "zeus")
    assert (second["energy_j"], second["power_w"], second["locator"]) == (1620.5, 162.05, "c#zeus@18:gpu=1")
    assert readings.skipped == {"component": 1}
    assert readings.spans == [(18, 18 + len(line))]


def test_zeus_older_repr_and_printout():
    text = ("Measurement(time=4.0, energy={0: 800.0})\n"
            "window train: time=2.5, gpu_energy={3: 500.0}\n")
    readings = tool_output_records(text).records
    assert [(r["energy_j"], r["duration_s"], r["power_w"]) for r in readings] == [
        (800.0, 4.0, 200.0), (500.0, 2.5, 200.0)]


def test_codecarbon_run_is_a_trace_with_the_last_cumulative_energy():
    text = """\
[codecarbon INFO @ 18:28:31] Energy consumed for RAM : 0.000050 kWh. RAM Power : 11.755 W
[codecarbon INFO @ 18:28:31] Energy consumed for all GPUs : 0.001000 kWh. Total GPU Power : 240.0 W
[codecarbon INFO @ 18:28:31] Energy consumed for all CPUs : 0.000200 kWh. Total CPU Power : 42.5 W
[codecarbon INFO @ 18:28:31] 0.001250 kWh of electricity used since the beginning.
[codecarbon INFO @ 18:28:46] Energy consumed for all GPUs : 0.002000 kWh. Total GPU Power : 250.0 W
[codecarbon INFO @ 18:29:01] Energy consumed for all GPUs : 0.003000 kWh. Total GPU Power : 260.0 W"""
    readings = tool_output_records(text)
    record, = readings.records
    assert (record["energy_j"], record["power_w"], record["trace"]) == (
        10800.0, 250.0, {"interval_s": 15.0, "readings_w": [240.0, 250.0, 260.0]})
    assert (record["method"], record["scope"], record["gpu_count"], record["extractor"]) == (
        "codecarbon", "gpu", None, "codecarbon")
    assert readings.skipped == {"component": 2, "total": 1}
    assert readings.spans == [(0, len(text))]


def test_codecarbon_older_wording_and_a_new_run():
    text = """\
[codecarbon INFO @ 10:05:12] Energy consumed for all GPUs : 0.0123 kWh. All GPUs Power : 245.1 W
epoch 2
[codecarbon INFO @ 11:00:00] Energy consumed for all GPUs : 0.0001 kWh. All GPUs Power : 80.0 W"""
    first, second = tool_output_records(text).records
    assert (first["energy_j"], first["power_w"], first.get("trace")) == (44280.0, 245.1, None)
    assert (second["energy_j"], second["power_w"]) == (360.0, 80.0)


@pytest.mark.parametrize("text", [
    "```python\npower_limit_w = 250\nprint(f'Total GPU Power : {p} W')\nmonitor.end_window('x')\n```",
    "```bash\nsudo nvidia-smi -pl 250\nnvidia-smi --query-gpu=name,power.draw --format=csv\n```",
    "```yaml\npower:\n  limit: 300W\n  draw: 250W\n```",
    "| GPU | Power (W) |\n|---|---|\n| A10G | 140 |",
    "Measurement(time=t, gpu_energy=energies)",
])
def test_other_code_yields_nothing(text):
    readings = tool_output_records(text)
    assert (readings.records, readings.spans, readings.skipped) == ([], [], {})


# Large pastes of the shapes that once made this reader slow: what they give. How long each takes
# is for benchmarks/bench_hostile.py to print (the same pastes), not for a timed test.
@pytest.mark.parametrize("text, powers_w, unavailable", [
    ("|" * 200_000, [], 0),
    (("| " + "x " * 60 + "|\n") * 1_600 + "| Fan  Temp  Perf  Pwr:Usage/Cap|\n", [], 0),
    ("time=1 energy={" + "0: 1, " * 30_000, [], 0),
    ("# gpu pwr\n# Idx W\n" + "0 1\n" * 50_000, [1.0], 0),  # one GPU's 50,000 dmon readings of 1 W
    ("[codecarbon INFO @ 10:00:00] Energy consumed for " + "all GPUs : " * 18_000, [], 0),
    ("name, power.draw\n" + "a, [N/A]\n" * 20_000, [], 20_000),
    ("power.draw, power.draw\n" * 10_000, [], 9_999),  # a header, then 9,999 rows of header words
])
def test_large_pastes_give_what_their_lines_hold(text, powers_w, unavailable):
    readings = tool_output_records(text)
    assert powers(readings) == powers_w and readings.skipped.get("unavailable", 0) == unavailable


def test_query_csv_rows_without_a_loop_are_separate_readings():
    text = """name, power.draw [W]
NVIDIA A100-SXM4-80GB, 312.45 W
NVIDIA A100-SXM4-80GB, 298.10 W"""
    readings = tool_output_records(text, "c")
    assert powers(readings) == [312.45, 298.1]
    assert [record.get("trace") for record in readings.records] == [None, None]
    assert [record["locator"] for record in readings.records] == ["c#nvidia-smi-query@0:1", "c#nvidia-smi-query@0:2"]


def test_codecarbon_1x_lines_one_figure_each():
    text = ("```\n[codecarbon INFO @ 10:00:00] GPU Power Consumption : Power(kW=0.25)\n"
            "[codecarbon INFO @ 10:00:00] Energy consumed GPU : Energy(kwh=0.05)\n"
            "[codecarbon INFO @ 10:00:00] CPU Power Consumption : Power(kW=0.04)\n"
            "[codecarbon INFO @ 10:00:00] Energy consumed CPU : Energy(kwh=0.01)\n```\n")
    readings = tool_output_records(text)
    record, = readings.records
    # 0.25 kW = 250 W; 0.05 kWh x 3.6e6 = 180,000 J; the CPU lines are another component.
    assert (record["power_w"], record["energy_j"], record["method"]) == (250.0, 180_000.0, "codecarbon")
    assert readings.skipped == {"component": 2}


def test_dmon_header_escaped_inside_a_quote():
    text = ("> \\# gpu   pwr  temp    sm\n> \\# Idx     W     C     %\n>     0   111    83    25\n"
            ">     1    86    70    18\n")
    assert [r["power_w"] for r in tool_output_records(text).records] == [111.0, 86.0]
