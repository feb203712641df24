"""Time and peak memory of a 1,000,000-record synthesis (python -m postprocess).

Run: python benchmarks/bench_synthesis.py [RECORDS]. Writes RECORDS measurement records in the
crawlers' JSONL shape to a temporary folder (spread over sources, GPUs, models, batch sizes and
phases), runs the whole postprocess command on it in a child process, and prints its wall time
and peak memory. Targets: under a minute and under 4 GiB.
"""

from __future__ import annotations

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


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "output"
        started = time.monotonic()
        write_records(folder, count)
        size_mb = sum(p.stat().st_size for p in folder.rglob("*.jsonl")) / 1e6
        print(f"wrote {count:,} records ({size_mb:,.0f} MB of JSONL) in {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        completed = subprocess.run([sys.executable, "-m", "postprocess", str(folder)], capture_output=True, text=True)
        elapsed = time.monotonic() - started
        peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024  # KiB on Linux
        if completed.returncode:
            print(completed.stderr[-2000:])
            raise SystemExit("postprocess failed")
        # Records the synthesis leaves out (they break the schema) would make it look faster than it is.
        left_out = json.loads((folder / "report" / "synthesis.json").read_text("utf-8"))["input"]["problems"]["count"]
        if left_out:
            raise SystemExit(f"{left_out:,} generated records were left out as input problems")
        print(completed.stdout.strip())
        print(f"synthesis: {elapsed:.1f} s wall, peak memory {peak_gib:.2f} GiB (targets: < 60 s, < 4 GiB)")


if __name__ == "__main__":
    main()
