"""One typed schema for every output: the Arrow schema derived from the JSON Schemas, the JSONL of
every spider read together by datasets, polars and pyarrow with it, the Parquet feed and
measurements.parquet written with it; feeds hold one kind of record and none is left empty."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import datasets
import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.json
import pyarrow.parquet as pq
import pytest

from crawler.arrow_schema import TIMESTAMP, discussion_arrow_schema, measurement_arrow_schema
from crawler.exporters import ParquetItemExporter
from crawler.extract.github_issues import TOOL_CUES
from crawler.items import DISCUSSION_FIELDS, MEASUREMENT_FIELDS, Discussion, Measurement
from crawler.spiders.base import beside, feeds_of_one_kind
from demosite.__main__ import DEMO_ARGUMENTS, crawl_environment
from demosite.server import MockSite
from postprocess.__main__ import main as postprocess_main
from tests.conftest import ROOT, run_crawl

SPIDERS = ("ai_energy_score", "github_issues", "hub_datasets", "hub_models")
MEASUREMENT = "crawler.items.Measurement"
DISCUSSION = "crawler.items.Discussion"


def measurement_files(output: Path) -> list[str]:
    return sorted(str(p) for p in output.glob("*/*.jsonl") if not p.name.endswith(".discussions.jsonl"))


def read_jsonl(paths) -> list[dict]:
    return [json.loads(line) for path in paths for line in Path(path).read_text("utf-8").splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Every spider's demo crawl into one output folder, and github_issues once more with -O into
    three formats at once."""
    folder = tmp_path_factory.mktemp("typed")
    with MockSite() as site:
        for spider in SPIDERS:
            result = run_crawl(site, spider, folder, *DEMO_ARGUMENTS.get(spider, []))
            assert result.returncode == 0, result.log[-3000:]
        named = folder / "named"
        result = run_crawl(site, "github_issues", named, "-O", str(named / "x.jsonl"), "-O", str(named / "x.parquet"),
                           "-O", str(named / "x.csv"))
        assert result.returncode == 0, result.log[-3000:]
    return folder


def test_arrow_types_follow_the_json_schema():
    schema = measurement_arrow_schema()
    assert schema.names == list(MEASUREMENT_FIELDS)
    by_type = {}
    for field in schema:
        by_type.setdefault(str(field.type), set()).add(field.name)
        assert field.nullable
    assert by_type["int64"] == {"gpu_count", "batch_size", "energy_score"}
    assert by_type["timestamp[us, tz=UTC]"] == {"retrieved_at"}
    assert by_type["double"] == {"model_params_b", "gpu_tdp_w", "power_w", "energy_j", "energy_per_token_j",
                                 "energy_per_query_j", "duration_s", "gpu_hours", "co2_kg", "throughput_tokens_per_s"}
    assert schema.field("flags").type == pa.list_(pa.string())
    assert schema.field("trace").type == pa.struct([("interval_s", pa.float64()), ("readings_w", pa.list_(pa.float64())),
                                                     ("load_window_s", pa.list_(pa.float64()))])
    assert schema.field("bounds").type.names == ["power_w", "energy_j", "energy_per_token_j", "energy_per_query_j",
                                                 "duration_s", "gpu_hours", "co2_kg"]
    assert "large_string" not in str(schema)
    discussions = discussion_arrow_schema()
    assert discussions.names == list(DISCUSSION_FIELDS)
    assert {f.name for f in discussions if f.type == TIMESTAMP} == {"retrieved_at", "created_at", "updated_at",
                                                                    "closed_at"}
    # The tools a Discussion counts are the ones the extractor recognises, one struct field each.
    assert discussions.field("tool_mentions").type.names == [name for name, _ in TOOL_CUES]
    assert "large_string" not in str(discussions)


def check_measurement_table(table: pa.Table, records: list[dict]) -> None:
    """The table holds the records, typed by the schema, values as in the JSONL."""
    assert table.schema.equals(measurement_arrow_schema())
    rows = {row["id"]: row for row in table.to_pylist()}
    assert len(rows) == table.num_rows == len(records)
    for record in records:
        row = rows[record["id"]]
        assert row["retrieved_at"].isoformat() == record["retrieved_at"].replace("Z", "+00:00")
        for name in ("batch_size", "gpu_count", "energy_score", "power_w", "flags", "gpu"):
            assert row[name] == record[name], (record["id"], name)
        # A struct has every field of its type; the fields a record leaves out come back null.
        for name in ("bounds", "trace"):
            assert {k: v for k, v in (row[name] or {}).items() if v is not None} == (record[name] or {}), name


def test_every_spiders_jsonl_loads_together_with_datasets(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = measurement_files(demo / "output")
    assert len(files) == len(SPIDERS)
    records = read_jsonl(files)
    # Every figure type occurs in the demo, and so do values a file holds only as null.
    assert any(r["batch_size"] for r in records) and any(r["energy_score"] for r in records)
    assert any(r["bounds"] for r in records) and any(r["trace"] for r in records)
    features = datasets.Features.from_arrow_schema(measurement_arrow_schema())
    loaded = datasets.load_dataset("json", data_files=files, features=features, split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.features == features
    assert loaded.features["batch_size"] == datasets.Value("int64")
    assert loaded.features["retrieved_at"] == datasets.Value("timestamp[us, tz=UTC]")
    check_measurement_table(loaded.data.table, records)


def test_every_spiders_jsonl_loads_together_with_polars(demo):
    files = measurement_files(demo / "output")
    records = read_jsonl(files)
    schema = pl.from_arrow(measurement_arrow_schema().empty_table()).schema
    together = pl.read_ndjson(files, schema=schema)
    concatenated = pl.concat([pl.read_ndjson(path, schema=schema) for path in files])
    for frame in (together, concatenated):
        assert frame.schema == schema
        assert frame.schema["batch_size"] == pl.Int64 and frame.schema["energy_score"] == pl.Int64
        assert frame.schema["retrieved_at"] == pl.Datetime("us", "UTC")
        assert frame.schema["id"] == pl.String
        assert frame.shape == (len(records), len(MEASUREMENT_FIELDS))
        check_measurement_table(frame.to_arrow().cast(measurement_arrow_schema()), records)


def test_every_spiders_jsonl_loads_together_with_pyarrow(demo):
    files = measurement_files(demo / "output")
    options = pyarrow.json.ParseOptions(explicit_schema=measurement_arrow_schema())
    table = pa.concat_tables([pyarrow.json.read_json(path, parse_options=options) for path in files])
    check_measurement_table(table, read_jsonl(files))


def test_discussions_load_with_their_schema(demo, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = sorted(str(p) for p in (demo / "output").glob("*/*.discussions.jsonl"))
    records = read_jsonl(files)
    assert len(records) == 4
    loaded = datasets.load_dataset("json", data_files=files, split="train", cache_dir=str(tmp_path / "cache"),
                                   features=datasets.Features.from_arrow_schema(discussion_arrow_schema()))
    frame = pl.read_ndjson(files, schema=pl.from_arrow(discussion_arrow_schema().empty_table()).schema)
    for rows in (loaded.data.table.to_pylist(), frame.to_dicts()):
        by_id = {row["id"]: row for row in rows}
        for record in records:
            row = by_id[record["id"]]
            assert {k: v for k, v in row["tool_mentions"].items() if v is not None} == record["tool_mentions"]
            assert row["created_at"].isoformat() == record["created_at"].replace("Z", "+00:00")


def test_measurements_parquet_is_typed(demo, tmp_path):
    assert postprocess_main([str(demo / "output"), "--out", str(tmp_path / "report")]) == 0
    path = tmp_path / "report" / "measurements.parquet"
    table = pq.read_table(path)
    expected = measurement_arrow_schema().append(pa.field("first_seen", TIMESTAMP)).append(pa.field("last_seen", TIMESTAMP))
    assert table.schema.equals(expected)
    records = {r["id"]: r for r in read_jsonl(measurement_files(demo / "output"))}
    assert table.num_rows == len(records)
    rows = {row["id"]: row for row in table.to_pylist()}
    for record_id, record in records.items():
        for name in ("batch_size", "gpu_count", "energy_score", "power_w", "flags"):
            assert rows[record_id][name] == record[name], (record_id, name)
        trace = {k: v for k, v in (rows[record_id]["trace"] or {}).items() if v is not None}
        assert trace == (record["trace"] or {}), record_id
        assert rows[record_id]["first_seen"] == rows[record_id]["retrieved_at"]
    # DuckDB, as the README reads it: integers, time-zoned timestamps.
    types = duckdb.sql(f"SELECT typeof(batch_size), typeof(energy_score), typeof(retrieved_at) FROM '{path}' "
                       "LIMIT 1").fetchall()[0]
    assert types == ("BIGINT", "BIGINT", "TIMESTAMP WITH TIME ZONE")


def test_named_feeds_hold_one_kind_each_in_every_format(demo):
    named = demo / "named"
    default_items = read_jsonl(measurement_files(demo / "output"))
    gh_items = [r for r in default_items if r["source"] == "github_issues"]
    items, discussions = read_jsonl([named / "x.jsonl"]), read_jsonl([named / "x.discussions.jsonl"])
    assert {tuple(r) for r in items} == {MEASUREMENT_FIELDS} and len(items) == len(gh_items) == 14
    assert {tuple(r) for r in discussions} == {DISCUSSION_FIELDS} and len(discussions) == 4
    parquet = pq.read_table(named / "x.parquet")
    assert parquet.schema.equals(measurement_arrow_schema())
    assert sorted(parquet.column("id").to_pylist()) == sorted(r["id"] for r in items)
    check_measurement_table(parquet, items)
    parquet_discussions = pq.read_table(named / "x.discussions.parquet")
    assert parquet_discussions.schema.equals(discussion_arrow_schema())
    assert sorted(parquet_discussions.column("number").to_pylist()) == sorted(d["number"] for d in discussions)
    # CSV: every field a column, lists and objects as JSON text.
    csv_rows = pl.read_csv(named / "x.csv", infer_schema=False).to_dicts()
    assert list(csv_rows[0]) == list(MEASUREMENT_FIELDS) and len(csv_rows) == 14
    by_id = {r["id"]: r for r in items}
    for row in csv_rows:
        assert json.loads(row["flags"]) == by_id[row["id"]]["flags"]
        assert (json.loads(row["trace"]) if row["trace"] else None) == by_id[row["id"]]["trace"]
    csv_discussions = pl.read_csv(named / "x.discussions.csv", infer_schema=False).to_dicts()
    assert list(csv_discussions[0]) == list(DISCUSSION_FIELDS)
    by_number = {str(d["number"]): d for d in discussions}
    assert all(json.loads(row["tool_mentions"]) == by_number[row["number"]]["tool_mentions"] for row in csv_discussions)


def test_feed_uris_of_other_kinds_stand_beside():
    assert beside("x.jsonl", DISCUSSION) == "x.discussions.jsonl"
    assert beside("file:///data/out.v2/x.parquet", DISCUSSION) == "file:///data/out.v2/x.discussions.parquet"
    assert beside("s3://bucket/records", DISCUSSION) == "s3://bucket/records.discussions"
    feeds = feeds_of_one_kind({"x.csv": {"format": "csv", "overwrite": True},
                               "mine.jsonl": {"format": "jsonlines", "item_classes": [DISCUSSION]}},
                              [MEASUREMENT, DISCUSSION])
    assert feeds == {"x.csv": {"format": "csv", "overwrite": True, "item_classes": [MEASUREMENT]},
                     "x.discussions.csv": {"format": "csv", "overwrite": True, "item_classes": [DISCUSSION]},
                     "mine.jsonl": {"format": "jsonlines", "item_classes": [DISCUSSION]}}


def test_standard_output_gets_measurements_only_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        feeds = feeds_of_one_kind({"stdout:": {"format": "jsonlines"}}, [MEASUREMENT, DISCUSSION])
    assert feeds == {"stdout:": {"format": "jsonlines", "item_classes": [MEASUREMENT]}}
    assert "Discussion records are not written to standard output" in caplog.text
    assert "x.discussions.jsonl" in caplog.text


def measurement(**fields) -> Measurement:
    return Measurement({name: None for name in MEASUREMENT_FIELDS} | {
        "id": "a" * 20, "source": "s", "url": "https://example.org/", "retrieved_at": "2026-01-02T03:04:05Z",
        "excerpt": "e", "extractor": "x", "workload": "inference", "flags": []} | fields)


def test_parquet_exporter_types_values_and_keeps_one_kind():
    file = io.BytesIO()
    exporter = ParquetItemExporter(file)
    exporter.start_exporting()
    exporter.export_item(measurement(batch_size=8.0, power_w=float("nan"), bounds={"power_w": [80.0, 100.0]}))
    with pytest.raises(ValueError, match="a Discussion record in a Parquet feed of Measurement records"):
        exporter.export_item(Discussion({name: None for name in DISCUSSION_FIELDS}))
    exporter.finish_exporting()
    row, = pq.read_table(io.BytesIO(file.getvalue())).to_pylist()
    assert row["batch_size"] == 8 and row["power_w"] is None
    assert row["retrieved_at"].isoformat() == "2026-01-02T03:04:05+00:00"
    assert row["bounds"]["power_w"] == [80.0, 100.0] and row["bounds"]["energy_j"] is None


def test_parquet_exporter_does_not_append(caplog):
    file = io.BytesIO(b"PAR1 an earlier file")
    file.seek(0, io.SEEK_END)
    exporter = ParquetItemExporter(file)
    exporter.export_item(measurement())
    with caplog.at_level(logging.ERROR):
        exporter.finish_exporting()
    assert file.getvalue() == b"PAR1 an earlier file"
    assert "Parquet cannot be appended to: nothing written; use -O" in caplog.text


def test_no_records_no_file(mock_site, tmp_path):
    named = tmp_path / "named.jsonl"
    for args in ((), ("-O", str(named)), ("-O", str(tmp_path / "named.parquet"))):
        result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "search=no-such-dataset", "-a", "ids=", *args)
        assert result.returncode == 0 and result.stat("item_scraped_count") == 0
        assert result.stat("hub_datasets/listing_pages") == 1  # it did crawl, and found nothing
    assert not named.exists() and not (tmp_path / "named.parquet").exists()
    assert not list((tmp_path / "output").rglob("*.jsonl"))


def test_scrapy_parse_leaves_no_feed_file(mock_site, tmp_path):
    output = tmp_path / "output"
    completed = subprocess.run(
        [sys.executable, "-m", "scrapy", "parse", f"{mock_site.hub_url}/api/datasets?search=energy",
         "--spider", "hub_datasets", "-c", "parse_listing", "--cbkwargs", '{"page": 1}'],
        cwd=ROOT, env=crawl_environment(mock_site, output), capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "/api/datasets/lab/llm-energy-codecarbon" in completed.stdout  # it did parse the listing
    assert not list(output.rglob("*.jsonl"))


def test_json_feeds_never_hold_nan():
    from crawler.exporters import StrictJsonLinesItemExporter

    file = io.BytesIO()
    exporter = StrictJsonLinesItemExporter(file)
    exporter.export_item(measurement(power_w=300.0))
    with pytest.raises(ValueError, match="not JSON compliant"):
        exporter.export_item(measurement(trace={"interval_s": None, "readings_w": [float("nan")]}))
    line, = file.getvalue().decode().splitlines()
    assert json.loads(line, parse_constant=lambda constant: pytest.fail(constant))["power_w"] == 300.0


def test_crawl_stats_json_is_strict(tmp_path):
    from scrapy.utils.test import get_crawler

    from crawler.extensions import StatsJsonDump

    crawler = get_crawler(settings_dict={"STATS_JSON_PATH": str(tmp_path / "%(name)s.json")})
    crawler.stats.set_value("ratio", float("nan"))
    crawler.stats.set_value("pages", 3)
    extension = StatsJsonDump(crawler, crawler.settings["STATS_JSON_PATH"])
    spider = type("Spider", (), {"name": "s"})()
    extension.spider_closed(spider, "finished")
    stats = json.loads((tmp_path / "s.json").read_text("utf-8"), parse_constant=lambda constant: pytest.fail(constant))
    assert (stats["ratio"], stats["pages"], stats["finish_reason"]) == (None, 3, "finished")


def test_a_file_that_was_there_is_left_when_a_crawl_appends_nothing(mock_site, tmp_path):
    kept = tmp_path / "kept.jsonl"
    kept.touch()  # the user's own file, empty
    result = run_crawl(mock_site, "hub_datasets", tmp_path, "-a", "search=no-such-dataset", "-a", "ids=",
                       "-o", str(kept))
    assert result.returncode == 0 and result.stat("item_scraped_count") == 0
    assert kept.exists()
