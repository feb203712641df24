import pytest

from crawler.extract.power_tables import column_role, table_records
from crawler.extract.tables import document_tables, html_tables, markdown_tables, without_spans

META_CARD = """Pretraining used hardware of type A100-80GB (TDP of 350-400W).

| | Time (GPU hours) | Power Consumption (W) | Carbon Emitted (tCO<sub>2</sub>eq) |
|---|---|---|---|
| Llama 2 7B | 184320 | 400 | 31.22 |
| Llama 2 70B | 1.72M | 400 | 291.42 |
| Total | 3,311,616 | | 539.00 |

Power Consumption: peak power capacity per GPU device adjusted for power usage efficiency.
"""


def test_markdown_table_cells_and_position():
    table, = markdown_tables(META_CARD)
    assert table.header == ["", "Time (GPU hours)", "Power Consumption (W)", "Carbon Emitted (tCO 2 eq)"]
    assert table.rows[0] == ["Llama 2 7B", "184320", "400", "31.22"]
    assert META_CARD[table.start:].startswith("| | Time")
    assert META_CARD[table.end:].startswith("\nPower Consumption")


def test_markdown_ragged_rows_are_reported_not_kept():
    table, = markdown_tables("| a | b |\n|---|---|\n| 1 | 2 |\n| 3 |\n| 4 | 5 |\n")
    assert table.rows == [["1", "2"], ["4", "5"]] and table.ragged_rows == [2]


def test_pipes_without_separator_are_not_a_table():
    assert markdown_tables("a | b\nc | d\n") == []


def test_html_table_with_strong_headers_and_soup():
    html = ("<table><tr><td><strong>Model</strong></td><td><strong>Power (W)</strong></td></tr>"
            "<tr><td>7B<td>400<tr><td>13B<td>410<td>extra</table><div><p>unclosed")
    table, = html_tables(html)
    assert table.header == ["Model", "Power (W)"]
    assert table.rows == [["7B", "400"]] and table.ragged_rows == [2]


def test_document_tables_in_order_and_blanked_out():
    text = "x\n<table><tr><th>a</th></tr><tr><td>1</td></tr></table>\n| a |\n|---|\n| 1 |\n"
    tables = document_tables(text)
    assert [t.kind for t in tables] == ["html", "markdown"]
    rest = without_spans(text, [(t.start, t.end) for t in tables])
    assert "table" not in rest and "|" not in rest and rest.startswith("x\n")


@pytest.mark.parametrize("header, field, factor", [
    ("Time (GPU hours)", "gpu_hours", 1.0),
    ("Power Consumption (W)", "power_w", 1.0),
    ("Training Power Consumption (W)", "power_w", 1.0),
    ("Energy (kWh)", "energy_j", 3_600_000.0),
    ("Energy consumption (MWh)", "energy_j", 3_600_000_000.0),
    ("Energy (J)", "energy_j", 1.0),
    ("Carbon Emitted (tCO2eq)", "co2_kg", 1000.0),
    ("CO2 emissions (kg)", "co2_kg", 1.0),
    ("Batch size", "batch_size", 1.0),
])
def test_column_roles_by_header(header, field, factor):
    role = column_role(header)
    assert (role.field, role.factor) == (field, pytest.approx(factor))


@pytest.mark.parametrize("header", ["Model", "Parameters", "Power", "Carbon Emitted", "Cost ($)"])
def test_headers_without_a_figure_and_unit(header):
    assert column_role(header) is None


def test_meta_style_table_rows_are_rated_training_power():
    table, = markdown_tables(META_CARD)
    result = table_records(table, META_CARD, extractor="card_table.markdown", locator_prefix="t1")
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
    text = ("Inference measured with NVML on an NVIDIA L4.\n\n"
            "| Model | Batch | Power (W) | Energy (kWh) |\n|---|---|---|---|\n"
            "| llama-7b | 1 | 65 | 0.5 |\n| llama-7b | 4 | lots | 0.9 |\n")
    table, = markdown_tables(text)
    result = table_records(table, text, extractor="card_table.markdown", locator_prefix="t1")
    first, second = result.records
    assert (first["power_w"], first["energy_j"], first["batch_size"]) == (65.0, 1_800_000.0, 1)
    assert (first["power_kind"], first["method"], first["workload"], first["gpu_raw"]) == (
        "measured", "nvml", "inference", "NVIDIA L4")
    assert "power_w" not in second and second["energy_j"] == pytest.approx(3_240_000.0)
    assert [p.kind for p in result.problems] == ["non_numeric_cell"]


def test_table_without_figure_columns_gives_nothing():
    table, = markdown_tables("| Model | Params |\n|---|---|\n| a | 7B |\n")
    assert table_records(table, "", extractor="x", locator_prefix="t").records == []
