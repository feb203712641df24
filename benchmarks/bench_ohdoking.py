"""How long the ohdoking rule takes on a 20,000-row file in that dataset's shape.

Run: python benchmarks/bench_ohdoking.py [ROWS]. Prints CPU seconds for reading the CSV bytes
into rows and for aggregating them into records (best of 5). Target: well under 1 s of CPU.
"""

from __future__ import annotations

import csv
import io
import sys
import time

from crawler.extract.dataset_tables import extract_table
from crawler.extract.datafiles import read_rows

COLUMNS = ("model_name,huggingface_model,num_params,hidden_size,num_layers,vocab_size,seq_length,"
           "model_type,timestamp,hardware_cpu,hardware_gpu,hardware_ram,total_prompts,"
           "average_runtime,average_energy,average_co2,benchmark_timestamp,prompt_index,"
           "prompt_text,prompt_runtime,prompt_energy,prompt_co2,prompt_response").split(",")
MODELS = [(f"model-{i}-1.1B", f"org/model-{i}-1.1B", "1.1B") for i in range(10)]


def make_file(rows: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    per_model = rows // len(MODELS)
    response = "An answer of a few sentences, with commas, as models write them. " * 4
    for name, repo, params in MODELS:
        for index in range(per_model):
            writer.writerow([name, repo, params, 2048, 22, 32000, 2048, "Transformer", 84646,
                             "NVIDIA_GeForce_RTX_3070", "NVIDIA GeForce RTX 3070", "8.00 GB",
                             per_model, 1.5, 120.0, 4e-05, "20250601_084646", index,
                             f"Prompt number {index}: describe something.", 1.0 + index % 7 * 0.25,
                             80.0 + index % 11 * 3.5, 3e-05, response])
    return buffer.getvalue().encode("utf-8")


def best_cpu_seconds(function, repeats: int = 5) -> float:
    timings = []
    for _ in range(repeats):
        started = time.process_time()
        function()
        timings.append(time.process_time() - started)
    return min(timings)


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    data = make_file(rows)
    table = read_rows(data, "data/benchmark_20250601_084646_NVIDIA_GeForce_RTX_3070.csv")
    read_s = best_cpu_seconds(lambda: read_rows(data, "x.csv"))
    extract_s = best_cpu_seconds(lambda: extract_table(table.rows, "x.csv"))
    records = extract_table(table.rows, "x.csv").records
    print(f"file: {rows:,} rows, {len(data) / 1e6:.1f} MB, {len(records)} records")
    print(f"read CSV bytes -> rows:  {read_s:.3f} s CPU")
    print(f"rows -> records:         {extract_s:.3f} s CPU")
    print(f"total:                   {read_s + extract_s:.3f} s CPU (target: well under 1 s)")


if __name__ == "__main__":
    main()
