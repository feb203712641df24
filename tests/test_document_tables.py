import pytest

from crawler.extract.documents import document_records
from crawler.extract.markdown_doc import parse_blocks
from crawler.extract.power_tables import column_role, table_records
from crawler.extract.tables import DocumentTable, html_tables

META_CARD = """Pretraining used hardware of type A100-80GB (TDP of 350-400W).

| | Time (GPU hours) | Power Consumption (W) | Carbon Emitted (tCO<sub>2</sub>eq) |
|---|---|---|---|
| Llama 2 7B | 184320 | 400 | 31.22 |
| Llama 2 70B | 1.72M | 400 | 291.42 |
| Total | 3,311,616 | | 539.00 |

Power Consumption: peak power capacity per GPU device adjusted for power usage efficiency.
"""
META_BEFORE = "Pretraining used hardware of type A100-80GB (TDP of 350-400W)."
META_AFTER = "Power Consumption: peak power capacity per GPU device adjusted for power usage efficiency."


def markdown_table(text: str) -> DocumentTable:
    table, = [b for b in parse_blocks(text) if b.kind == "table"]
    return DocumentTable(header=table.rows[0], rows=table.rows[1:], start=table.line, end=table.end_line,
                         kind="markdown", ragged_rows=table.short_rows)


def records(table_text: str, before: str = "", after: str = "", **kwargs):
    return table_records(markdown_table(table_text), before=before, after=after, extractor="t",
                         locator_prefix="t1", **kwargs)


def test_markdown_table_cells_and_lines():
    table = markdown_table(META_CARD)
    assert table.header == ["", "Time (GPU hours)", "Power Consumption (W)", "Carbon Emitted (tCO2eq)"]
    assert table.rows[0] == ["Llama 2 7B", "184320", "400", "31.22"]
    assert (table.start, table.end) == (2, 6)  # source lines, from 0


def test_short_rows_are_padded_and_reported():
    table = markdown_table("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n| 4 | 5 |\n")
    assert table.rows == [["1", "2"], ["3", ""], ["4", "5"]] and table.ragged_rows == [2]


def test_tables_without_outer_pipes_and_with_short_separators():
    table = markdown_table("Hardware | Energy consumed (Wh)\n-- | --\nGPU L4 | 6.2\n")
    assert table.header == ["Hardware", "Energy consumed (Wh)"] and table.rows == [["GPU L4", "6.2"]]


def test_pipes_without_separator_are_not_a_table():
    assert [b.kind for b in parse_blocks("a | b\nc | d\n")] == ["paragraph"]


def test_html_table_with_strong_headers_and_soup():
    html = ("<table><tr><td><strong>Model</strong></td><td><strong>Power (W)</strong></td></tr>"
            "<tr><td>7B<td>400<tr><td>13B<td>410<td>extra</table><div><p>unclosed")
    table, = html_tables(html)
    assert table.header == ["Model", "Power (W)"]
    assert table.rows == [["7B", "400"]] and table.ragged_rows == [2]


@pytest.mark.parametrize("header, field, factor", [
    ("Time (GPU hours)", "gpu_hours", 1.0),
    ("Power Consumption (W)", "power_w", 1.0),
    ("Training Power Consumption (W)", "power_w", 1.0),
    ("Energy (kWh)", "energy_j", 3_600_000.0),
    ("Energy consumption (MWh)", "energy_j", 3_600_000_000.0),
    ("Energy (J)", "energy_j", 1.0),
    ("Carbon Emitted (tCO2eq)", "co2_kg", 1000.0),
    ("Carbon Emissions (tCO₂eq)", "co2_kg", 1000.0),
    ("CO2 emissions (kg)", "co2_kg", 1.0),
    ("Batch size", "batch_size", 1.0),
])
def test_column_roles_by_header(header, field, factor):
    role = column_role(header)
    assert (role.field, role.factor) == (field, pytest.approx(factor))


@pytest.mark.parametrize("header", ["Model", "Parameters", "Power", "Carbon Emitted", "Cost ($)",
                                    "Carbon Intensity (kg CO₂e/KWh)", "Overhead (W)"])
def test_headers_without_a_figure_and_unit(header):
    assert column_role(header) is None


def test_meta_style_table_rows_are_rated_training_power():
    result = records(META_CARD, META_BEFORE, META_AFTER)
    seven, seventy = result.records
    # 31.22 tCO2eq = 31,220 kg; "1.72M" GPU hours = 1,720,000.
    assert (seven["gpu_hours"], seven["power_w"], seven["co2_kg"]) == (184320.0, 400.0, pytest.approx(31220.0))
    assert seventy["gpu_hours"] == 1_720_000.0 and seventy["model_params_b"] == 70.0
    assert seven["gpu_raw"] == "A100-80GB" and seven["workload"] == "training"
    assert (seven["power_kind"], seven["flags"], seven["method"]) == ("rated", ["rated_not_measured"], "tdp-estimate")
    assert "TDP of 350-400W" in seven["notes"]
    assert seven["locator"] == "t1#row=1:Llama 2 7B"
    assert [(p.kind, p.error) for p in result.problems] == [("table_total_row", False)]


def test_measured_table_with_batch_and_non_numeric_cell():
    result = records("| Model | Batch | Power (W) | Energy (kWh) |\n|---|---|---|---|\n"
                     "| llama-7b | 1 | 65 | 0.5 |\n| llama-7b | 4 | lots | 0.9 |\n",
                     before="Inference measured with NVML on an NVIDIA L4.")
    first, second = result.records
    assert (first["power_w"], first["energy_j"], first["batch_size"]) == (65.0, 1_800_000.0, 1)
    assert (first["power_kind"], first["method"], first["workload"], first["gpu_raw"]) == (
        "measured", "nvml", "inference", "NVIDIA L4")
    assert "power_w" not in second and second["energy_j"] == pytest.approx(3_240_000.0)
    assert [p.kind for p in result.problems] == ["non_numeric_cell"]


def test_table_without_figure_columns_gives_nothing():
    assert records("| Model | Params |\n|---|---|\n| a | 7B |\n").records == []


def test_units_in_cells_gpu_type_column_and_intensity_left_out():
    # Energy written in the cells under a header that says "Power"; a grid intensity column;
    # carbon in tonnes with a footnote mark on a zero.
    table = ("| | GPU Type | Power Consumption From GPUs | Carbon Intensity (kg CO₂e/KWh) | Carbon Emissions (tCO₂eq) |\n"
             "|---|---|---|---|---|\n"
             "| Model A | MI250X (LUMI) | 135 MWh | 0* | 0* |\n"
             "| Model B | A100-40GB (cloud) | 104 MWh | 0.656 | 75.05 |\n")
    result = records(table, before="Both variants were trained on GPUs.")
    a, b = result.records
    # 135 MWh = 135 x 3.6e9 J; 75.05 t = 75,050 kg.
    assert (a["gpu_raw"], a["energy_j"], a["co2_kg"], a.get("power_w")) == ("MI250X (LUMI)", 4.86e11, 0.0, None)
    assert (b["gpu_raw"], b["energy_j"], b["co2_kg"]) == ("A100-40GB (cloud)", pytest.approx(3.744e11), pytest.approx(75_050.0))
    assert a["scope"] == "gpu" and a["workload"] == "training"
    assert result.skipped == {"rate": 2}


def test_transposed_table_with_metrics_as_rows():
    table = ("| Metric | Config A | Config B |\n|---|---|---|\n"
             "| Power (W) | 250 | 300 |\n| Energy per run (kJ) | 90 | 120 |\n| Accuracy | 0.8 | 0.9 |\n")
    a, b = records(table, before="Measured on one RTX 4090 with nvidia-smi.").records
    assert (a["model_name"], a["power_w"], a["energy_j"]) == ("Config A", 250.0, 90_000.0)
    assert (b["model_name"], b["power_w"], b["energy_j"]) == ("Config B", 300.0, 120_000.0)
    assert a["gpu_raw"] == "RTX 4090" and a["method"] == "nvidia-smi"


def test_estimated_energy_with_nothing_about_gpus_is_not_a_record():
    table = ("| Benchmark | Model X | Model Y |\n|---|---|---|\n"
             "| Latency (CPU Decoding) | 48ms | 29ms |\n| Energy (Estimated) | 0.258J | 0.028J |\n")
    result = records(table, before="Results against models of similar size.")
    assert result.records == [] and result.skipped == {"not_gpu": 2}


def test_range_cells_scientific_notation_and_stage_sums():
    table = ("| Run | Power (W) | Energy (kWh) | Time (GPU hours) |\n|---|---|---|---|\n"
             "| a | 180-200W | 3.72e-3 | Stage 1: 147K H100 hours Stage 2: 98K H100 hours |\n")
    record, = records(table, before="On H100 GPUs.").records
    assert record["power_w"] == 190.0 and record["bounds"] == {"power_w": [180.0, 200.0]}
    assert record["energy_j"] == pytest.approx(3.72e-3 * 3.6e6)  # 13,392 J
    assert record["gpu_hours"] == 245_000.0  # 147,000 + 98,000
    assert "range_midpoint" in record["flags"]


def test_two_columns_of_one_quantity_give_one_record_each_with_its_phase():
    table = ("| GPU | Bare idle | Busy | Overhead |\n|---|---|---|---|\n"
             "| L40S | 35.6 W | 290 W | +66.4 W |\n")
    result = records(table, before="Measured with nvidia-smi.")
    idle, busy = result.records
    assert (idle["gpu_raw"], idle["power_w"], idle["phase"]) == ("L40S", 35.6, "idle")
    assert (busy["power_w"], busy["phase"]) == (290.0, None)
    assert idle["locator"] == "t1#row=1:L40S&column=Bare idle"
    assert result.skipped == {"delta": 1}


def test_table_in_a_post_reads_its_workload_and_gpu_count_from_around_it():
    text = ("I get:\n\n<html><body>\n\nHardware | Energy consumed (Wh)\n-- | --\nGPU T4x2 | 6.2\n"
            "GPU P100 | not supported\n\n</body>\n</html>\n\nfor llama inference.\n")
    extraction = document_records(text, table_extractor="markdown_table", locator_prefix="c")
    record, = extraction.records
    # 6.2 Wh x 3600 = 22,320 J
    assert (record["gpu_raw"], record["energy_j"], record["workload"]) == ("GPU T4x2", 22_320.0, "inference")
    assert [p.kind for p in extraction.problems] == ["non_numeric_cell"]


def test_location_and_market_based_carbon_one_record_per_row():
    table = ("| | Training Time (GPU hours) | Logit Generation Time (GPU Hours) | Training Power Consumption (W) "
             "| Training Location-Based Greenhouse Gas Emissions (metric tons CO2eq) "
             "| Training Market-Based Greenhouse Gas Emissions (metric tons CO2eq) |\n|---|---|---|---|---|---|\n"
             "| Model 1B | 370k | 0 | 700 | 107 | 0 |\n| Model 3B | 460k | 7.5k | 700 | 133 | 0 |\n")
    result = records(table, before="Training used H100-80GB (TDP of 700W) type hardware.")
    small, large, logits = result.records
    # 370k GPU-hours, 107 t = 107,000 kg; the market-based zero is accounting, not carbon of the work;
    # a zero logit-generation time is no GPU time; 7.5k of them is a record of its own.
    assert (small["gpu_hours"], small["co2_kg"], small["power_w"], small["gpu_raw"]) == (
        370_000.0, 107_000.0, 700.0, "H100-80GB")
    assert (large["gpu_hours"], large["co2_kg"]) == (460_000.0, 133_000.0)
    assert (logits["gpu_hours"], logits["model_name"]) == (7_500.0, "Model 3B") and "co2_kg" not in logits
    assert result.skipped == {"accounting": 2}


def test_row_label_gives_the_phase():
    rows = records("| Stage | Power (W) |\n|---|---|\n| prefill | 300 |\n| decode | 180-200W |\n",
                   before="On one H100 PCIe.").records
    assert [(r["phase"], r["power_w"]) for r in rows] == [("prefill", 300.0), ("decode", 190.0)]


HTML_TABLE_WITH_BLANK_LINES = """## Hardware

Pretraining ran on H100-80GB (TDP of 700W) type hardware.

<table>
  <tr>
   <td>
   </td>
   <td><strong>Training Time (GPU hours)</strong>
   </td>
   <td><strong>Training Location-Based Greenhouse Gas Emissions</strong>
<p>
<strong>(tons CO2eq)</strong>
   </td>
  </tr>

  <tr>
   <td>Model 8B
   </td>
   <td>1.46M
   </td>
   <td>420
   </td>
  </tr>
</table>

Training Power Consumption: peak power capacity per GPU device.
"""


def test_an_html_table_broken_by_blank_lines_is_read_whole():
    extraction = document_records(HTML_TABLE_WITH_BLANK_LINES, table_extractor="card_table", locator_prefix="",
                                  is_post=False)
    rated, record = extraction.records  # the TDP in the sentence above, and the table's row
    assert (rated["extractor"], rated["power_w"], rated["power_kind"]) == ("prose", 700.0, "rated")
    # 1.46M GPU-hours; 420 tons = 420,000 kg; the GPU from the sentence above the table.
    assert (record["extractor"], record["gpu_hours"], record["co2_kg"], record["gpu_raw"]) == (
        "card_table.html", 1_460_000.0, 420_000.0, "H100-80GB")


def test_a_table_takes_the_nearest_earlier_gpu_of_its_section():
    text = ("## Hardware\n\nWe trained on H100-80GB GPUs.\n\nSome words.\n\nMore words.\n\nEven more.\n\n"
            "| Model Name | Training Time (GPU hours) |\n|---|---|\n| Small | 5.0M |\n")
    record, = document_records(text, table_extractor="t", locator_prefix="", is_post=False).records
    assert (record["gpu_raw"], record["gpu_hours"]) == ("H100-80GB", 5_000_000.0)


def test_min_max_mean_columns():
    records_ = records("| GPU | Min (W) | Max (W) | Mean (W) |\n|---|---|---|---|\n| MI300X | 140 | 750 | 610 |\n",
                       before="Measured with amd-smi while serving.").records
    peak, mean = records_  # in column order; Min is a statistic of the series, not a figure
    assert (mean["power_w"], mean["phase"], peak["power_w"], peak["phase"]) == (610.0, None, 750.0, "peak")


def test_transposed_per_token_energy_with_its_phase_in_the_label():
    table = ("| Metric | Engine A | Engine B |\n|---|--:|--:|\n| J/token (prefill) | 3.72e-3 | 7.90e-4 |\n"
             "| Deterministic | No | Yes |\n")
    a, b = records(table, before="Single-sequence prefill on H100 NVL.").records
    assert (a["model_name"], a["energy_per_token_j"], a["phase"]) == ("Engine A", pytest.approx(3.72e-3), "prefill")
    assert b["energy_per_token_j"] == pytest.approx(7.9e-4)


def test_an_unclosed_html_table_is_read_as_a_browser_shows_it():
    text = "On an A100:\n\n<table><tr><td>Model</td><td>Power (W)</td></tr><tr><td>x</td><td>250</td></tr>\n"
    record, = document_records(text, table_extractor="t", locator_prefix="p").records
    assert (record["power_w"], record["gpu_raw"]) == (250.0, "A100")
