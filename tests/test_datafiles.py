import io

import pyarrow
import pyarrow.parquet
import pytest

from crawler.extract.datafiles import DataFileError, is_data_file, read_rows


def test_csv_rows_with_quoted_commas():
    data = b'model,gpu,note\nm1,RTX 3090,"a, b"\n'
    assert read_rows(data, "x.csv").rows == [{"model": "m1", "gpu": "RTX 3090", "note": "a, b"}]


def test_truncated_csv_keeps_the_good_rows_and_reports_the_cut_row():
    table = read_rows(b"model,gpu,avg_power_w\nm1,A10G,120.5\nm2,A1", "t.csv")
    assert table.rows == [{"model": "m1", "gpu": "A10G", "avg_power_w": "120.5"}]
    assert [p.kind for p in table.problems] == ["ragged_row"]


def test_unterminated_quote_is_reported_after_the_rows_before_it():
    table = read_rows(b'a,b\n1,2\n3,"unterminated\n', "t.csv")
    assert table.rows == [{"a": "1", "b": "2"}]
    assert [p.kind for p in table.problems] == ["malformed_csv"]


def test_non_utf8_file_is_refused():
    with pytest.raises(DataFileError) as error:
        read_rows("model\nmodèle\n".encode("latin-1"), "l.csv")
    assert error.value.kind == "not_utf8"


def test_bom_is_ignored():
    assert read_rows("\ufeffa,b\n1,2\n".encode("utf-8"), "b.csv").rows == [{"a": "1", "b": "2"}]


def test_tsv():
    assert read_rows(b"a\tb\n1\t2\n", "x.tsv").rows == [{"a": "1", "b": "2"}]


def test_json_list_and_nested_list():
    assert read_rows(b'[{"a": 1}]', "x.json").rows == [{"a": 1}]
    assert read_rows(b'{"meta": 1, "results": [{"a": 2}]}', "x.json").rows == [{"a": 2}]


def test_json_object_is_kept_whole_and_is_its_own_row_when_it_holds_no_list():
    single = read_rows(b'{"gpu_model": "1 x NVIDIA L4", "gpu_power": 60.5}', "run.json")
    assert single.rows == [{"gpu_model": "1 x NVIDIA L4", "gpu_power": 60.5}]
    assert single.document == single.rows[0]
    report = read_rows(b'{"decode": {"energy": {"unit": "kWh", "gpu": 0.2}}}', "report.json")
    assert report.document == {"decode": {"energy": {"unit": "kWh", "gpu": 0.2}}}
    wrapped = read_rows(b'{"meta": 1, "results": [{"a": 2}]}', "x.json")
    assert (wrapped.rows, wrapped.document) == ([{"a": 2}], {"meta": 1, "results": [{"a": 2}]})
    assert read_rows(b'[{"a": 1}]', "x.json").document is None


@pytest.mark.parametrize("data, kind", [
    (b'{"results": [{"model": "x", ', "invalid_json"),
    (b"[1, 2]", "no_table"),
    (b"{}", "empty"),
    (b"", "empty"),
])
def test_json_that_is_not_a_table(data, kind):
    with pytest.raises(DataFileError) as error:
        read_rows(data, "x.json" if data else "x.csv")
    assert error.value.kind == kind


def test_jsonl_bad_line_is_skipped_and_counted():
    table = read_rows(b'{"a": 1}\n{"a": \n[1]\n{"a": 3}\n', "x.jsonl")
    assert table.rows == [{"a": 1}, {"a": 3}]
    assert [p.kind for p in table.problems] == ["invalid_json_line", "invalid_json_line"]


def test_parquet():
    buffer = io.BytesIO()
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist([{"a": 1, "b": "x"}]), buffer)
    assert read_rows(buffer.getvalue(), "d/x.parquet").rows == [{"a": 1, "b": "x"}]


def test_broken_parquet_is_refused():
    with pytest.raises(DataFileError) as error:
        read_rows(b"PAR1 not really", "x.parquet")
    assert error.value.kind == "bad_parquet"


def test_data_file_types():
    assert [p for p in ["a.CSV", "b.jsonl", "c.parquet", "README.md", "d.json", "e.txt"]
            if is_data_file(p)] == ["a.CSV", "b.jsonl", "c.parquet", "d.json"]
