"""The columnar paths of postprocess (issue 15): the typed pyarrow read of a Measurement file and
its hand-over to the careful line-by-line read, flags looked up in Arrow, CSV cells formatted in
Arrow, and power/energy summaries built column-wise. Each is held to the slower path it replaced."""

import io
import json

import numpy as np
import pandas as pd
import pyarrow
import pyarrow.csv
import pytest

from postprocess import load as load_module
from postprocess import spreadsheets
from postprocess.load import MEASUREMENT_CHECK, InputProblems, _fast_frame, _read_file, _typed_lists, load_output
from postprocess.spreadsheets import _power_energy, _write_csv_table
from postprocess.synthesis import _has_flag
from tests.test_postprocess import record

CLEAN = [record(id=f"{i:020x}", gpu="A10", power_w=100.0 + i, power_kind="measured", batch_size=1 + i,
                flags=["derived", "cpu_only"] if i % 3 == 0 else [], bounds={"power_w": [90, 110.5]} if i == 2 else None,
                trace={"interval_s": None, "readings_w": [60, 61.5]} if i == 4 else None,
                notes="=cmd" if i == 1 else None)
         for i in range(8)]


@pytest.fixture(autouse=True)
def every_file_read_fast(monkeypatch):
    """The fast read for files of any size: these files are small."""
    monkeypatch.setattr(load_module, "FAST_READ_MIN_BYTES", 0)


def _lines(records) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _comparable(frame: pd.DataFrame) -> list[dict]:
    """Rows with every missing value as None and Arrow lists as Python lists."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{key: list(value) if isinstance(value, np.ndarray) else value for key, value in row.items()} for row in rows]


def test_a_clean_file_is_read_by_pyarrow_as_the_careful_path_reads_it(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(_lines(CLEAN), "utf-8")
    fast = _fast_frame(path, MEASUREMENT_CHECK)
    assert fast is not None
    problems = InputProblems()
    careful = pd.concat(map(_typed_lists, _read_file(path, MEASUREMENT_CHECK, problems)), ignore_index=True)
    assert problems.count == 0 and list(fast.columns) == list(careful.columns)
    assert _comparable(fast) == _comparable(careful)
    # Objects stay as the JSON wrote them (integers, key order), as the careful path keeps them.
    assert fast.loc[2, "bounds"] == {"power_w": [90, 110.5]} and fast.loc[4, "trace"]["readings_w"] == [60, 61.5]
    assert fast["retrieved_at"].iloc[0] == pd.Timestamp("2026-01-01T00:00:00Z")


@pytest.mark.parametrize("damage", [
    lambda text: text.replace('"power_w": 101.0', '"power_w": NaN'),  # pyarrow reads NaN; strict JSON has none
    lambda text: text.replace('"power_w": 101.0', '"power_w": Infinity'),
    lambda text: text.replace('"readings_w": [60, 61.5]', '"readings_w": [60, NaN]'),
    lambda text: text.replace('"readings_w": [60, 61.5]', '"readings_w": [60, null]'),
    lambda text: text.replace('"readings_w": [60, 61.5]', '"readings_w": []'),  # minItems, in an object
    lambda text: text.replace('"power_w": [90, 110.5]', '"power_w": [90]'),
    lambda text: text.replace('"batch_size": 2', '"batch_size": 2.0'),  # valid, but not an int64 to pyarrow
    lambda text: text.replace('"retrieved_at": "2026-01-01T00:00:00Z"', '"retrieved_at": "2026-01-01"', 1),
    lambda text: text.replace('"retrieved_at": "2026-01-01T00:00:00Z"', '"retrieved_at": "2026-02-30T00:00:00Z"', 1),
    lambda text: text.replace('"flags": ["derived", "cpu_only"]', '"flags": ["derived", "derived"]', 1),
    lambda text: text.replace('"flags": ["derived", "cpu_only"]', '"flags": [""]', 1),
    lambda text: text.replace('"flags": ["derived", "cpu_only"]', '"flags": null', 1),
    lambda text: text.replace('"workload": "inference"', '"workload": "gaming"', 1),
    lambda text: text.replace('"id": "00000000000000000001"', '"id": "X"'),
    lambda text: text.replace('"id": "00000000000000000001", ', ''),  # a field that may not be missing
    lambda text: text.replace('"notes": "=cmd"', '"notes": "=cmd", "extra": 1'),
    lambda text: text.replace("\n", "\n\n", 1),  # a blank line pyarrow would skip
    lambda text: text.replace("}\n", "}", 1),  # two records on one line
    lambda text: text + "[1]\n",
], ids=["nan", "infinity", "nan-in-trace", "null-in-trace", "empty-trace", "short-bounds", "float-integer",
        "lenient-date", "impossible-date", "repeated-flag", "empty-flag", "null-flags", "enum", "pattern",
        "missing-field", "unknown-field", "blank-line", "two-on-a-line", "not-an-object"])
def test_anything_amiss_sends_the_file_to_the_careful_path(tmp_path, damage):
    path = tmp_path / "hub_models" / "x.jsonl"
    path.parent.mkdir()
    text = _lines(CLEAN)
    damaged = damage(text)
    assert damaged != text
    path.write_text(damaged, "utf-8")
    assert _fast_frame(path, MEASUREMENT_CHECK) is None
    # The careful path then keeps every good row and names what it left out (or, for 2.0, keeps it).
    loaded = load_output(tmp_path)
    assert len(loaded.measurements) + loaded.problems.count >= len(CLEAN) - 1


def test_a_bom_and_crlf_lines_still_take_the_fast_path(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + _lines(CLEAN).replace("\n", "\r\n").encode())
    fast = _fast_frame(path, MEASUREMENT_CHECK)
    assert fast is not None and list(fast["id"]) == [r["id"] for r in CLEAN]


def test_one_damaged_file_does_not_send_the_others_to_the_careful_path(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "good.jsonl").write_text(_lines(CLEAN[:4]), "utf-8")
    (tmp_path / "a" / "bad.jsonl").write_text(_lines(CLEAN[4:]) + "not json\n", "utf-8")
    careful = []
    read_file = load_module._read_file
    monkeypatch.setattr(load_module, "_read_file", lambda path, *rest: careful.append(path.name) or read_file(path, *rest))
    loaded = load_output(tmp_path)
    assert careful == ["bad.jsonl"]
    assert len(loaded.measurements) == 8 and loaded.problems.count == 1 and loaded.problems.listed[0].line == 5
    assert isinstance(loaded.measurements["flags"].dtype, pd.ArrowDtype)  # one type whichever path read a row


def test_a_small_file_is_read_line_by_line(tmp_path, monkeypatch):
    monkeypatch.setattr(load_module, "FAST_READ_MIN_BYTES", 256 << 10)
    path = tmp_path / "x.jsonl"
    path.write_text(_lines(CLEAN), "utf-8")
    assert _fast_frame(path, MEASUREMENT_CHECK) is None
    path.write_text(_lines(CLEAN) * (1 + (256 << 10) // len(_lines(CLEAN))), "utf-8")  # just over 256 KB
    assert _fast_frame(path, MEASUREMENT_CHECK) is not None


def test_flags_found_in_arrow_lists_as_in_python_lists():
    lists = [["derived"], [], None, ["cpu_only", "derived"], ["exceeds_tdp"], ["derived_x"]]
    python = pd.DataFrame({"flags": pd.Series(lists, dtype=object, index=[10, 11, 12, 13, 14, 15])})
    arrow = python.assign(flags=pd.array(lists, dtype=pd.ArrowDtype(pyarrow.list_(pyarrow.string()))))
    for frame in (arrow, arrow.iloc[2:]):  # a selection's rows keep their labels
        has = _has_flag(frame, "derived")
        assert has.dtype == bool and list(has.index) == list(frame.index)
        assert list(has) == list(_has_flag(python.loc[frame.index], "derived"))
    assert list(_has_flag(arrow, "derived")) == [True, False, False, True, False, False]


def test_csv_cells_are_written_as_pyarrows_writer_writes_them(tmp_path, monkeypatch):
    table = pyarrow.table({
        "text": ["plain", 'with "quotes"', "line\nbreak", None, "", "comma, here", "ünï ✓"],
        "all null text": pyarrow.array([None] * 7, pyarrow.large_string()),
        "number": [1.0, 5934.6189072, None, -0.5, 1e-12, 1e22, 7.0],
        "integer": [1, None, 3, 4, 5, 6, -7],
        "flag": [True, False, None, True, True, False, True],
        "when": pyarrow.array([0, 1_500_000, None, 10**15, 5, 6, 7], pyarrow.timestamp("us", tz="UTC")),
        "nothing": pyarrow.nulls(7),
    })
    expected = io.BytesIO()
    pyarrow.csv.write_csv(table, expected)
    for rows in (7, 3, 1):  # batches that cut the table anywhere
        monkeypatch.setattr(spreadsheets, "CSV_BATCH_ROWS", rows)
        _write_csv_table(table, tmp_path / "x.csv")
        assert (tmp_path / "x.csv").read_bytes() == expected.getvalue()


def test_power_energy_summaries_skip_missing_figures_whatever_column_is_empty():
    frame = pd.DataFrame({"power_w": [400.0, None, 350.5, None], "energy_j": [None, None, None, None],
                          "gpu_hours": [184320.0, 2.0, None, None], "co2_kg": [None, 0.25, None, None]})
    assert list(_power_energy(frame)) == ["power_w=400 W; gpu_hours=184320 GPU h",
                                          "gpu_hours=2 GPU h; co2_kg=0.25 kg CO2", "power_w=350.5 W", ""]


def test_float_noise_of_a_column_without_figures_is_the_column():
    """A column no row fills skips the rounding and comes back as the same float NaNs, index and name;
    a column with one figure is still rounded (5934.618907200001 -> 5934.6189072)."""
    empty = pd.Series([None, None], index=[7, 3], name="energy_j", dtype=float)
    cleaned = spreadsheets.without_float_noise(empty)
    assert cleaned.dtype == np.float64 and cleaned.isna().all()
    assert list(cleaned.index) == [7, 3] and cleaned.name == "energy_j"
    one = spreadsheets.without_float_noise(pd.Series([None, 5934.618907200001], dtype=float))
    assert one.iloc[1] == 5934.6189072 and np.isnan(one.iloc[0])
