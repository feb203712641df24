from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from scrapy.exceptions import DropItem

from crawler.extract.gpus import normalise_gpu, spec_for
from crawler.extract.models import params_from_name
from crawler.extract.records import truncate, without_surrogates
from crawler.extract.units import parse_figure
from crawler.items import MEASUREMENT_FIELDS, Measurement
from crawler.pipelines import CountingPipeline

logger = logging.getLogger(__name__)

# Figure fields and the kind of figure each accepts when a spider passes it as written.
FIGURE_FIELDS = {
    "power_w": "power",
    "energy_j": "energy",
    "energy_per_token_j": "energy_per_token",
    "energy_per_query_j": "energy_per_query",
    "duration_s": "duration",
}
INTEGER_FIELDS = ("gpu_count", "batch_size", "energy_score")


def _append_note(record: Measurement, note: str) -> None:
    record["notes"] = f"{record['notes']}; {note}" if record.get("notes") else note


class NormalisePipeline(CountingPipeline):
    """Turns figures as written into canonical fields and fills every field of the record.

    * text figures ("~300 W", "0.42 kWh") -> floats in W, J, J/token, J/query, s; a range's
      value is its midpoint, both ends kept in ``bounds`` (and said in the notes); an unreadable
      one is nulled and counted;
    * ``gpu_raw`` -> canonical ``gpu``, ``gpu_count`` and ``gpu_tdp_w`` from the taxonomy; an
      unknown GPU keeps ``gpu_raw``, leaves ``gpu`` null and is counted;
    * model size from the name when the source did not give it;
    * every schema field present (null when unknown), ``workload`` 'unknown' when unstated.
    """

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        # The item itself, not an ItemAdapter of it: a Measurement is a mapping, and the adapter's
        # two calls more for each of a record's ~200 reads and writes cost ~50 us a record.
        record = item
        filled = record.keys()
        for name in MEASUREMENT_FIELDS:
            if name not in filled:
                record[name] = None
        record["flags"] = list(dict.fromkeys(record["flags"] or []))
        record["workload"] = record["workload"] or "unknown"
        record["retrieved_at"] = record["retrieved_at"] or datetime.now(timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self._readable_values(record)
        record["excerpt"] = truncate(" ".join(str(record["excerpt"]).split()))
        self._normalise_figures(record)
        self._normalise_gpu(record)
        if record["model_params_b"] is None:
            record["model_params_b"] = params_from_name(record["model_id"] or record["model_name"])
        for name in INTEGER_FIELDS:
            if record[name] is not None:
                record[name] = int(record[name])
        return item

    def _readable_values(self, record: Measurement) -> None:
        """No value the JSONL cannot hold: a non-finite number ("nan", "inf", "1e309" in a data
        row) is nulled, flagged and counted (JSON has no NaN); a lone surrogate (a JSON "\\ud83d"
        escape in an API response) becomes U+FFFD, which UTF-8 can encode."""
        for name, value in list(record.items()):
            if isinstance(value, float) and not math.isfinite(value):
                record[name] = None
                self.stats.inc_value(f"measurement/non_finite/{name}")
                if "non_finite_dropped" not in record["flags"]:
                    record["flags"] = [*record["flags"], "non_finite_dropped"]
                _append_note(record, f"{name} was {value}, not a number a record can hold")
            elif isinstance(value, str):
                record[name] = without_surrogates(value)
            elif isinstance(value, list) and any(isinstance(entry, str) for entry in value):
                record[name] = [without_surrogates(entry) if isinstance(entry, str) else entry for entry in value]

    def _normalise_figures(self, record: Measurement) -> None:
        had_figure = False
        for name, kind in FIGURE_FIELDS.items():
            value = record[name]
            if value is None:
                continue
            had_figure = True
            if isinstance(value, str):
                figure = parse_figure(value)
                if figure is None or figure.kind != kind:
                    self.stats.inc_value(f"measurement/unparseable/{name}")
                    logger.warning("Unreadable %s %r in %s", name, value, record["url"])
                    record[name] = None
                    continue
                record[name] = figure.value
                if figure.is_range:
                    record["bounds"] = {**(record["bounds"] or {}), name: [figure.low, figure.high]}
                    record["flags"] = [*record["flags"], "range_midpoint"]
                if figure.describe():
                    _append_note(record, f"{name} {figure.describe()}")
            else:
                record[name] = float(value)
        if had_figure and all(record[name] is None for name in FIGURE_FIELDS) and not any(
            record[name] is not None for name in ("gpu_hours", "co2_kg", "energy_score")
        ):
            self.stats.inc_value("measurement/dropped/unparseable")
            raise DropItem(f"no readable figure left in record from {record['url']}")

    def _normalise_gpu(self, record: Measurement) -> None:
        if record["gpu"]:
            spec = spec_for(record["gpu"])
        elif record["gpu_raw"]:
            match = normalise_gpu(record["gpu_raw"])
            spec = match.spec
            if record["gpu_count"] is None:
                record["gpu_count"] = match.count
            if spec is None:
                self.stats.inc_value("gpu/unknown")
                logger.info("Unknown GPU name %r (kept as gpu_raw)", record["gpu_raw"])
        else:
            return
        if spec is not None:
            record["gpu"] = spec.canonical
            record["gpu_tdp_w"] = record["gpu_tdp_w"] or spec.tdp_w
            if spec.tdp_w is None and spec.notes:
                _append_note(record, f"{spec.canonical}: {spec.notes}")
