"""``--push-to-hub ORG/NAME``: the merged records as a Hub dataset, one config per record kind.

The repo gets ``data/measurements.parquet`` and ``data/discussions.parquet`` (typed with the Arrow
schemas derived from the JSON Schemas, plus ``first_seen``/``last_seen``), a dataset card whose YAML
``configs`` name them, whose tables give every column with its type and unit and the sources with
their licences, and the report (``report/``). It goes through huggingface_hub to ``HF_ENDPOINT``
with ``HF_TOKEN``. The card holds no scraped text: only our own words, field names and counts.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from crawler.arrow_schema import TIMESTAMP, discussion_arrow_schema, measurement_arrow_schema
from crawler.record_schemas import discussion_schema, measurement_schema

from .spreadsheets import merged_arrow_schema, typed_table

CONFIGS = {"measurements": "data/measurements.parquet", "discussions": "data/discussions.parquet"}
REPORT_FILES = ("report.md", "report.html", "synthesis.json")
# The unit of a column, by name: canonical units (DESIGN.md's data contract).
UNITS = {"model_params_b": "billion parameters", "gpu_tdp_w": "W", "power_w": "W", "energy_j": "J",
         "energy_per_token_j": "J per token", "energy_per_query_j": "J per query", "duration_s": "s",
         "gpu_hours": "GPU hours", "co2_kg": "kg CO2-eq", "throughput_tokens_per_s": "tokens per s",
         "energy_score": "stars, 1 to 5", "bounds": "each range in its field's unit",
         "trace": "interval_s in s, readings_w in W", "retrieved_at": "UTC", "first_seen": "UTC",
         "last_seen": "UTC", "created_at": "UTC", "updated_at": "UTC", "closed_at": "UTC",
         "tool_mentions": "posts"}
# Where each spider's records come from and under which terms; a record's url links its page.
SOURCES = (
    ("hub_datasets", "Hugging Face Hub datasets: CSV, JSON and Parquet files of power and energy runs",
     "each dataset's own licence (its card's `license`); see the record's url"),
    ("hub_models", "Hugging Face Hub model cards: carbon metadata, power tables and prose",
     "each model's own licence (its card's `license`); see the record's url"),
    ("ai_energy_score", "AI Energy Score leaderboard and benchmark reports (Hugging Face)",
     "the AI Energy Score project's terms; see the record's url"),
    ("github_issues", "GitHub issues and comments on GPU power",
     "GitHub's Terms of Service; posts remain their authors'"),
    ("mlperf_power", "MLPerf Inference power results (MLCommons): whole servers at the wall, with traces",
     "the licence of each `mlcommons/inference_results_v*` repository (its LICENSE file); see the record's url"),
)


def _parquet_bytes(frame: pd.DataFrame, schema: pa.Schema) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(typed_table(frame, schema), buffer)
    return buffer.getvalue()


def discussions_parquet(discussions: pd.DataFrame) -> bytes:
    schema = merged_arrow_schema(discussion_arrow_schema())
    frame = discussions.copy()
    for field in schema:
        if field.type == TIMESTAMP and field.name in frame and not pd.api.types.is_datetime64_any_dtype(frame[field.name]):
            frame[field.name] = pd.to_datetime(frame[field.name], format="ISO8601", utc=True)
    return _parquet_bytes(frame[schema.names], schema)


def _column_rows(schema: pa.Schema, record_schema: dict) -> list[str]:
    rows = []
    for field in schema:
        described = record_schema["properties"].get(field.name, {}).get("description", "")
        if field.name in ("first_seen", "last_seen"):
            described = f"{'earliest' if field.name == 'first_seen' else 'latest'} retrieved_at of this id across crawls"
        rows.append(f"| `{field.name}` | `{field.type}` | {UNITS.get(field.name, '')} | {described} |")
    return rows


def dataset_card(repo_id: str, measurements: int, discussions: int, by_source: dict[str, int]) -> str:
    metadata = {
        "pretty_name": "GPU power and energy measurements for AI inference",
        "license": "other",
        "tags": ["energy", "gpu", "power", "inference"],
        "configs": [{"config_name": name, "data_files": path, **({"default": True} if name == "measurements" else {})}
                    for name, path in CONFIGS.items()],
    }
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "---", yaml.safe_dump(metadata, sort_keys=False).strip(), "---", "",
        "# GPU power and energy measurements for AI inference", "",
        f"Published power and energy figures for AI workloads on GPUs, collected by gpu-power-crawler and "
        f"merged ({when}): {measurements:,} measurements and {discussions:,} discussions. Every figure keeps "
        "the excerpt it was read from and the url of its page.", "",
        "```python", "import datasets",
        f'measurements = datasets.load_dataset("{repo_id}", "measurements", split="train")',
        f'discussions = datasets.load_dataset("{repo_id}", "discussions", split="train")', "```", "",
        "## Configs", "", "| config | file | rows |", "|---|---|---|",
        f"| `measurements` (default) | `{CONFIGS['measurements']}` | {measurements:,} |",
        f"| `discussions` | `{CONFIGS['discussions']}` | {discussions:,} |", "",
        "## Columns: measurements", "", "| column | type | unit | meaning |", "|---|---|---|---|",
        *_column_rows(merged_arrow_schema(measurement_arrow_schema()), measurement_schema()), "",
        "## Columns: discussions", "", "| column | type | unit | meaning |", "|---|---|---|---|",
        *_column_rows(merged_arrow_schema(discussion_arrow_schema()), discussion_schema()), "",
        "## Sources and licences", "",
        "The dataset collects figures others published; each keeps its source's terms.", "",
        "| source | what | measurements | licence |", "|---|---|---|---|",
        *[f"| `{name}` | {what} | {by_source.get(name, 0):,} | {licence} |" for name, what, licence in SOURCES], "",
        "## Report", "",
        "`report/report.md` and `report/report.html` (self-contained): the synthesis of these records; "
        "`report/synthesis.json`: every figure it shows.", "",
    ]
    return "\n".join(lines)


def push_to_hub(repo_id: str, measurements: pd.DataFrame, discussions: pd.DataFrame, report_dir: Path,
                *, token: str, endpoint: str | None = None) -> str:
    """Creates the dataset repo if needed and commits the data, card and report in one commit;
    returns the commit URL."""
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi(endpoint=endpoint, token=token)
    api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    sources = measurements["source"].value_counts().to_dict() if len(measurements) else {}
    card = dataset_card(repo_id, len(measurements), len(discussions), sources)
    files = {
        "README.md": card.encode("utf-8"),
        CONFIGS["measurements"]: (report_dir / "measurements.parquet").read_bytes(),
        CONFIGS["discussions"]: discussions_parquet(discussions),
        **{f"report/{name}": (report_dir / name).read_bytes() for name in REPORT_FILES if (report_dir / name).is_file()},
    }
    plots = report_dir / "plots"
    if plots.is_dir():
        files.update({f"report/plots/{p.name}": p.read_bytes() for p in sorted(plots.iterdir()) if p.is_file()})
    commit = api.create_commit(repo_id, repo_type="dataset", commit_message="Publish the crawl's merged records",
                               operations=[CommitOperationAdd(path, content) for path, content in files.items()])
    return commit.commit_url
