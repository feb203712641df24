from __future__ import annotations


from crawler.extract.gpus import spec_for
from crawler.items import Measurement
from crawler.pipelines import CountingPipeline

ENERGY_FIELDS = ("energy_j", "energy_per_token_j", "energy_per_query_j")
# What no real figure of one inference or training workload reaches, whatever the GPU (flagged
# ``implausible_<field>`` when crossed): the most any accelerator draws is ~1.4 kW (so 2 kW a GPU,
# 200 kW for a whole system, a rack); energy per token from ~1 mJ (batched decode) to ~10 J (a
# large model at batch 1), a query up to ~100 kJ (long video); the largest trainings ~40 M GPU-hours,
# ~50 GWh, ~10 kt CO2. Each bound leaves two orders of magnitude to spare: a figure past it is a
# unit slip or a misread, not a measurement.
PLAUSIBLE = {
    "energy_per_token_j": (1e-6, 1e4),
    "energy_per_query_j": (1e-6, 1e7),
    "energy_j": (0, 1e15),
    "gpu_hours": (0, 1e9),
    "co2_kg": (0, 1e8),
    "duration_s": (0, 3.2e8),
}
MAX_POWER_PER_GPU_W = 2000
MAX_SYSTEM_POWER_W = 200_000


class FlagImplausiblePipeline(CountingPipeline):
    """Flags figures that cannot be right as they stand; keeps the record, counts every flag.

    * ``exceeds_tdp``: a per-GPU average power above the most the GPU can draw (its TDP, or for a
      name that leaves the variant open, the highest TDP of its variants);
    * ``zero_not_measured``: a power or energy of exactly 0 is what tools report for a GPU without
      a counter; it becomes null (0 would read as a real figure);
    * ``non_positive_energy`` / ``non_positive_power``: negative figures, kept as written;
    * ``implausible_<field>``: a figure outside what any real workload shows (PLAUSIBLE, and a power
      above MAX_POWER_PER_GPU_W per GPU, or MAX_SYSTEM_POWER_W for a whole system), known GPU or not.
    """

    @staticmethod
    def _flag(record: Measurement, flag: str) -> None:
        if flag not in record["flags"]:
            record["flags"] = [*record["flags"], flag]

    def process_item(self, item):
        if not isinstance(item, Measurement):
            return item
        record = item  # a mapping: no ItemAdapter needed (see normalise.py)
        for name in ("power_w", *ENERGY_FIELDS):
            if record[name] == 0:
                record[name] = None
                self._flag(record, "zero_not_measured")
                note = f"{name} reported as 0, which means not measured"
                record["notes"] = f"{record['notes']}; {note}" if record["notes"] else note
        for name in ENERGY_FIELDS:
            if record[name] is not None and record[name] < 0:
                self._flag(record, "non_positive_energy")
        power = record["power_w"]
        if power is not None and power < 0:
            self._flag(record, "non_positive_power")
        spec = spec_for(record["gpu"]) if record["gpu"] else None
        ceiling = spec.power_ceiling_w if spec else None
        if (power is not None and ceiling and power > ceiling and record["scope"] != "system"
                and record["power_kind"] != "rated"):
            self._flag(record, "exceeds_tdp")
        self._flag_implausible(record)
        # Every flag is counted here, including those the extractors set (derived, ...).
        for flag in record["flags"]:
            self.stats.inc_value(f"measurement/flag/{flag}")
        return item

    def _flag_implausible(self, record: Measurement) -> None:
        for name, (low, high) in PLAUSIBLE.items():
            value = record[name]
            if value is not None and (value > high or 0 < value < low):  # below 0: non_positive_*
                self._flag(record, f"implausible_{name}")
        power = record["power_w"]  # per GPU, or the whole system's
        ceiling = MAX_SYSTEM_POWER_W if record["scope"] == "system" else MAX_POWER_PER_GPU_W
        if power is not None and power > ceiling:
            self._flag(record, "implausible_power_w")
