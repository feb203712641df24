"""Feed exporters for the formats Scrapy's own do not serve well (FEED_EXPORTERS in settings.py).

* ``parquet``: ``scrapy crawl X -O x.parquet`` writes the records with their Arrow schema
  (``crawler/arrow_schema.py``, derived from the JSON Schema): int64 for integer fields, timestamps
  in UTC for date-times, one string type, lists and structs for flags, bounds and trace.
* ``jsonlines``/``jsonl``/``json``: Scrapy's, refusing to write NaN or Infinity (not JSON; the
  pipelines null non-finite figures, so this is a last guard: such a record is logged, not written).
* ``csv``: every field of the record, always (one column each, in schema order); lists and objects
  (``flags``, ``bounds``, ``trace``, ``tools``, ``tool_mentions``) as JSON text, where Scrapy's
  would join a list with commas and write an object as a Python repr.

A feed holds one kind of record (spiders/base.py gives Discussions a feed of their own).
"""

from __future__ import annotations

import json
import logging

from itemadapter import ItemAdapter
from scrapy.exporters import BaseItemExporter, CsvItemExporter, JsonItemExporter, JsonLinesItemExporter

from crawler.items import DISCUSSION_FIELDS, MEASUREMENT_FIELDS, Discussion, Measurement

logger = logging.getLogger(__name__)

# The Arrow schema of each kind of record, by the name of its function in crawler/arrow_schema.py.
ARROW_SCHEMAS = {Measurement: "measurement_arrow_schema", Discussion: "discussion_arrow_schema"}
FIELDS = {Measurement: MEASUREMENT_FIELDS, Discussion: DISCUSSION_FIELDS}


class OneKindOnly(ValueError):
    """A record of another kind than the feed's first: one feed, one schema."""


class ParquetItemExporter(BaseItemExporter):
    """Records to a Parquet file with their Arrow schema, written a row group at a time.

    Parquet cannot be appended to: ``scrapy crawl`` refuses ``-o`` onto a file that holds data
    before it starts (use ``-O``); should a crawl reach the exporter that way all the same, nothing
    is written and the log says so. A crawl without records writes nothing, and the feed storage
    removes the empty file.
    """

    ROW_GROUP = 10_000

    def __init__(self, file, **kwargs):
        super().__init__(dont_fail=True, **kwargs)
        # pyarrow is imported here, by a Parquet feed, not with this module: Scrapy imports every
        # class of FEED_EXPORTERS when a crawl starts, and pyarrow's import took ~0.3 s CPU of each.
        import pyarrow.parquet  # noqa: PLC0415

        from crawler import arrow_schema  # noqa: PLC0415 (imports pyarrow)

        self.pyarrow, self.arrow_schema = pyarrow, arrow_schema
        self.file = file
        self.kind = None
        self.schema = None
        self.convert = None
        self.rows: list[dict] = []
        self.writer = None
        self.refused = False

    def export_item(self, item) -> None:
        kind = type(item)
        if self.kind is None:
            if kind not in ARROW_SCHEMAS:
                raise OneKindOnly(f"no Arrow schema for {kind.__name__} records")
            self.kind, self.schema = kind, getattr(self.arrow_schema, ARROW_SCHEMAS[kind])()
            self.convert = self.arrow_schema.record_converter(self.schema)
        elif kind is not self.kind:
            raise OneKindOnly(f"a {kind.__name__} record in a Parquet feed of {self.kind.__name__} records")
        self.rows.append(self.convert(ItemAdapter(item).asdict()))
        if len(self.rows) >= self.ROW_GROUP:
            self._write_rows()

    def _write_rows(self) -> None:
        if self.refused:
            self.rows = []
            return
        if self.writer is None:
            if self.file.tell() > 0:
                self.refused = True
                self.rows = []
                logger.error("%s holds data already and Parquet cannot be appended to: nothing written; "
                             "use -O to replace the file", getattr(self.file, "name", "the feed file"))
                return
            self.writer = self.pyarrow.parquet.ParquetWriter(self.file, self.schema)
        self.writer.write_table(self.pyarrow.Table.from_pylist(self.rows, schema=self.schema))
        self.rows = []

    def finish_exporting(self) -> None:
        try:
            if self.rows:
                self._write_rows()
        finally:  # a file without its footer is no Parquet file: close it whatever happened
            if self.writer is not None:
                self.writer.close()


class SchemaCsvItemExporter(CsvItemExporter):
    """Scrapy's CSV exporter with the record's every field as columns and structured values as JSON."""

    def export_item(self, item) -> None:
        if self._headers_not_written and self.fields_to_export is None and type(item) in FIELDS:
            self.fields_to_export = list(FIELDS[type(item)])
        super().export_item(item)

    def serialize_field(self, field, name, value):
        if isinstance(value, (list, dict)):
            # allow_nan=False: the cell is strict JSON (the pipelines null non-finite figures).
            return json.dumps(value, ensure_ascii=False, allow_nan=False)
        return super().serialize_field(field, name, value)


class StrictJsonLinesItemExporter(JsonLinesItemExporter):
    def __init__(self, file, **kwargs):
        super().__init__(file, allow_nan=False, **kwargs)

    def export_item(self, item) -> None:
        fields = FIELDS.get(type(item))
        if fields is None or self.fields_to_export is not None:
            super().export_item(item)
            return
        # A record of ours, every field at once: the fields in schema (declaration) order, with or
        # without those not filled as export_empty_fields says, values as they stand (our fields
        # have no serializers): the line Scrapy's exporter writes, without its per-field calls,
        # which cost twice the JSON encoding.
        filled = item.keys()
        values = ({name: item[name] if name in filled else None for name in fields} if self.export_empty_fields
                  else {name: item[name] for name in fields if name in filled})
        self.file.write(f"{self.encoder.encode(values)}\n".encode(self.encoding or "utf-8"))


class StrictJsonItemExporter(JsonItemExporter):
    def __init__(self, file, **kwargs):
        super().__init__(file, allow_nan=False, **kwargs)
