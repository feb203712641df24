from __future__ import annotations

import logging
import math
from datetime import datetime, timezone

from itemadapter import ItemAdapter
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


def _append_note(adapter: ItemAdapter, note: str) -> None:
    adapter["notes"] = f"{adapter['notes']}; {note}" if adapter.get("notes") else note


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
        adapter = ItemAdapter(item)
        for name in MEASUREMENT_FIELDS:
            adapter.setdefault(name, None)
        adapter["flags"] = list(dict.fromkeys(adapter["flags"] or []))
        adapter["workload"] = adapter["workload"] or "unknown"
        adapter["retrieved_at"] = adapter["retrieved_at"] or datetime.now(timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ")
        self._readable_values(adapter)
        adapter["excerpt"] = truncate(" ".join(str(adapter["excerpt"]).split()))
        self._normalise_figures(adapter)
        self._normalise_gpu(adapter)
        if adapter["model_params_b"] is None:
            adapter["model_params_b"] = params_from_name(adapter["model_id"] or adapter["model_name"])
        for name in INTEGER_FIELDS:
            if adapter[name] is not None:
                adapter[name] = int(adapter[name])
        return item

    def _readable_values(self, adapter: ItemAdapter) -> None:
        """No value the JSONL cannot hold: a non-finite number ("nan", "inf", "1e309" in a data
        row) is nulled, flagged and counted (JSON has no NaN); a lone surrogate (a JSON "\\ud83d"
        escape in an API response) becomes U+FFFD, which UTF-8 can encode."""
        for name, value in list(adapter.items()):
            if isinstance(value, float) and not math.isfinite(value):
                adapter[name] = None
                self.stats.inc_value(f"measurement/non_finite/{name}")
                if "non_finite_dropped" not in adapter["flags"]:
                    adapter["flags"] = [*adapter["flags"], "non_finite_dropped"]
                _append_note(adapter, f"{name} was {value}, not a number a record can hold")
            elif isinstance(value, str):
                adapter[name] = without_surrogates(value)
            elif isinstance(value, list) and any(isinstance(entry, str) for entry in value):
                adapter[name] = [without_surrogates(entry) if isinstance(entry, str) else entry for entry in value]

    def _normalise_figures(self, adapter: ItemAdapter) -> None:
        had_figure = False
        for name, kind in FIGURE_FIELDS.items():
            value = adapter[name]
            if value is None:
                continue
            had_figure = True
            if isinstance(value, str):
                figure = parse_figure(value)
                if figure is None or figure.kind != kind:
                    self.stats.inc_value(f"measurement/unparseable/{name}")
                    logger.warning("Unreadable %s %r in %s", name, value, adapter["url"])
                    adapter[name] = None
                    continue
                adapter[name] = figure.value
                if figure.is_range:
                    adapter["bounds"] = {**(adapter["bounds"] or {}), name: [figure.low, figure.high]}
                    adapter["flags"] = [*adapter["flags"], "range_midpoint"]
                if figure.describe():
                    _append_note(adapter, f"{name} {figure.describe()}")
            else:
                adapter[name] = float(value)
        if had_figure and all(adapter[name] is None for name in FIGURE_FIELDS) and not any(
            adapter[name] is not None for name in ("gpu_hours", "co2_kg", "energy_score")
        ):
            self.stats.inc_value("measurement/dropped/unparseable")
            raise DropItem(f"no readable figure left in record from {adapter['url']}")

    def _normalise_gpu(self, adapter: ItemAdapter) -> None:
        if adapter["gpu"]:
            spec = spec_for(adapter["gpu"])
        elif adapter["gpu_raw"]:
            match = normalise_gpu(adapter["gpu_raw"])
            spec = match.spec
            if adapter["gpu_count"] is None:
                adapter["gpu_count"] = match.count
            if spec is None:
                self.stats.inc_value("gpu/unknown")
                logger.info("Unknown GPU name %r (kept as gpu_raw)", adapter["gpu_raw"])
        else:
            return
        if spec is not None:
            adapter["gpu"] = spec.canonical
            adapter["gpu_tdp_w"] = adapter["gpu_tdp_w"] or spec.tdp_w
            if spec.tdp_w is None and spec.notes:
                _append_note(adapter, f"{spec.canonical}: {spec.notes}")
