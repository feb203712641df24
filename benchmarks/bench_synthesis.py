"""Time and peak memory of a 1,000,000-record synthesis (python -m postprocess).

Run: python benchmarks/bench_synthesis.py [RECORDS] [--keep DIR]. Writes RECORDS measurement records
in the crawlers' JSONL shape (spread over sources, GPUs, models, batch sizes and phases) to a
temporary folder, or to DIR, where a later run with --keep DIR reuses them; runs the whole
postprocess command on them in a child process and prints its wall time, CPU time and peak memory
beside the targets (issue 15: 25 s and 2 GiB for a million records) and beside a floor measured in
the same run: the bare typed read of the same files (pyarrow.json with the Arrow schema
crawler.arrow_schema derives, in a child process of its own), which every synthesis must do first.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from crawler.items import MEASUREMENT_FIELDS

GPUS = [("H100 PCIe", 350.0), ("H100 SXM", 700.0), ("A100 SXM", 400.0), ("L4", 72.0), ("RTX 4090", 450.0)]
SOURCES = ["hub_datasets", "hub_models", "ai_energy_score", "github_issues"]
TARGET_S = 25.0
TARGET_GIB = 2.0
# The floor: every file read by pyarrow with the records' Arrow schema, nothing else.
# It prints the rows read, and the wall and CPU seconds of the reading alone (not of the imports).
FLOOR_SCRIPT = """
import sys, time
from pathlib import Path
import pyarrow.json
from crawler.arrow_schema import measurement_arrow_schema
options = pyarrow.json.ParseOptions(explicit_schema=measurement_arrow_schema())
wall, cpu = time.monotonic(), time.process_time()
paths = sorted(Path(sys.argv[1]).rglob("*.jsonl"))
rows = sum(pyarrow.json.read_json(path, parse_options=options).num_rows for path in paths)
print(rows, time.monotonic() - wall, time.process_time() - cpu)
"""


def write_records(folder: Path, count: int) -> None:
    rng = random.Random(11)
    empty = dict.fromkeys(MEASUREMENT_FIELDS)
    per_file = 250_000
    for start in range(0, count, per_file):
        path = folder / SOURCES[(start // per_file) % len(SOURCES)] / f"{start:09d}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as handle:
            for index in range(start, min(count, start + per_file)):
                gpu, tdp = GPUS[index % len(GPUS)]
                batch = 2 ** (index % 6)
                record = {**empty, "id": f"{index:020x}", "source": path.parent.name,
                          "url": f"https://example.org/doc/{index // 50}", "retrieved_at": "2026-11-28T00:00:00Z",
                          "excerpt": f"row {index}", "extractor": "table.generic", "locator": f"row={index}",
                          "model_id": f"org/model-{index % 40}-{1 + index % 7}B", "model_params_b": float(1 + index % 7),
                          "gpu": gpu, "gpu_raw": gpu, "gpu_tdp_w": tdp, "workload": "inference",
                          "batch_size": batch, "phase": rng.choice(["steady", None, "idle", "peak"]),
                          "power_w": round(tdp * rng.uniform(0.2, 0.95), 2), "power_kind": "measured",
                          "energy_per_token_j": round(rng.uniform(0.05, 2.0), 4), "scope": "gpu",
                          "method": "nvml", "flags": []}
                handle.write(json.dumps(record) + "\n")


class ChildRun:
    """A child process's wall time, CPU time (user + system) and peak memory (GiB)."""

    def __init__(self, command: list[str]):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        self.completed = subprocess.run(command, capture_output=True, text=True)
        self.wall_s = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # ru_maxrss of the children is the largest of any child so far (KiB on Linux): the floor
        # runs first and needs less, so after the synthesis it is the synthesis's.
        self.peak_gib = after.ru_maxrss / 1024 / 1024


def synthesise(folder: Path, count: int) -> None:
    floor = ChildRun([sys.executable, "-c", FLOOR_SCRIPT, str(folder)])
    if floor.completed.returncode:
        raise SystemExit(f"the typed read failed: {floor.completed.stderr[-2000:]}")
    rows, floor_wall_s, floor_cpu_s = floor.completed.stdout.split()
    if int(rows) != count:
        raise SystemExit(f"the typed read found {rows} records, not {count}")
    floor_wall_s, floor_cpu_s = float(floor_wall_s), float(floor_cpu_s)
    run = ChildRun([sys.executable, "-m", "postprocess", str(folder)])
    if run.completed.returncode:
        print(run.completed.stderr[-2000:])
        raise SystemExit("postprocess failed")
    # Records the synthesis leaves out (they break the schema) would make it look faster than it is.
    left_out = json.loads((folder / "report" / "synthesis.json").read_text("utf-8"))["input"]["problems"]["count"]
    if left_out:
        raise SystemExit(f"{left_out:,} generated records were left out as input problems")
    print(run.completed.stdout.strip())
    print(f"floor (typed pyarrow read of the same files): {floor_wall_s:.1f} s wall, {floor_cpu_s:.1f} s CPU")
    print(f"synthesis: {run.wall_s:.1f} s wall ({run.wall_s / TARGET_S:.2f} x the {TARGET_S:g} s target, "
          f"{run.wall_s / floor_wall_s:.1f} x the floor), {run.cpu_s:.1f} s CPU "
          f"({run.cpu_s / floor_cpu_s:.1f} x the floor's)")
    print(f"peak memory: {run.peak_gib:.2f} GiB ({run.peak_gib / TARGET_GIB:.2f} x the {TARGET_GIB:g} GiB target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="write the records here, or reuse those a run wrote here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        folder = args.keep or Path(temporary) / "output"
        marker = folder / f".records-{args.records}"
        if not marker.exists():
            started = time.monotonic()
            write_records(folder, args.records)
            marker.touch()
            size_mb = sum(p.stat().st_size for p in folder.rglob("*.jsonl")) / 1e6
            print(f"wrote {args.records:,} records ({size_mb:,.0f} MB of JSONL) in {time.monotonic() - started:.1f} s")
        synthesise(folder, args.records)


if __name__ == "__main__":
    main()
