from __future__ import annotations

from itemadapter import ItemAdapter

from crawler.extract.gpus import spec_for
from crawler.items import Measurement
from crawler.pipelines import CountingPipeline

ENERGY_FIELDS = ("energy_j", "energy_per_token_j", "energy_per_query_j")


class FlagImplausiblePipeline(CountingPipeline):
    """Flags figures that cannot be right as they stand; keeps the record, counts every flag.

    * ``exceeds_tdp``: a per-GPU average power above the most the GPU can draw (its TDP, or for a
      name that leaves the variant open, the highest TDP of its variants);
    * ``zero_not_measured``: a power or energy of exactly 0 is what tools report for a GPU without
      a counter; it becomes null (0 would read as a real figure);
    * ``non_positive_energy`` / ``non_positive_power``: negative figures, kept as written.
    """

    @staticmethod
    def _flag(adapter: ItemAdapter, flag: str) -> None:
        if flag not in adapter["flags"]:
            adapter["flags"] = [*adapter["flags"], flag]

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        adapter = ItemAdapter(item)
        for name in ("power_w", *ENERGY_FIELDS):
            if adapter[name] == 0:
                adapter[name] = None
                self._flag(adapter, "zero_not_measured")
                note = f"{name} reported as 0, which means not measured"
                adapter["notes"] = f"{adapter['notes']}; {note}" if adapter["notes"] else note
        for name in ENERGY_FIELDS:
            if adapter[name] is not None and adapter[name] < 0:
                self._flag(adapter, "non_positive_energy")
        power = adapter["power_w"]
        if power is not None and power < 0:
            self._flag(adapter, "non_positive_power")
        spec = spec_for(adapter["gpu"]) if adapter["gpu"] else None
        ceiling = spec.power_ceiling_w if spec else None
        if (power is not None and ceiling and power > ceiling and adapter["scope"] != "system"
                and adapter["power_kind"] != "rated"):
            self._flag(adapter, "exceeds_tdp")
        # Every flag is counted here, including those the extractors set (derived, ...).
        for flag in adapter["flags"]:
            self.stats.inc_value(f"measurement/flag/{flag}")
        return item
