"""Loading crawl output: every JSONL under a folder, merged across crawls, one row per id."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import jsonlines
import orjson
import pandas as pd

from crawler.items import DISCUSSION_FIELDS, MEASUREMENT_FIELDS

DISCUSSION_SUFFIX = ".discussions.jsonl"


@dataclass
class LoadProblem:
    path: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class Loaded:
    measurements: pd.DataFrame
    discussions: pd.DataFrame
    problems: list[LoadProblem] = field(default_factory=list)
    files: int = 0


# Records are turned into DataFrames this many at a time: a million dicts at once would need
# several GB, the frames a fraction of that.
CHUNK = 100_000


def _read_file(path: Path, problems: list[LoadProblem], columns: tuple[str, ...]) -> list[pd.DataFrame]:
    frames, records = [], []
    with path.open("rb") as handle:
        reader = jsonlines.Reader(handle, loads=orjson.loads)
        line = 0
        while True:
            line += 1
            try:
                value = reader.read(allow_none=False)
            except EOFError:
                break
            except jsonlines.InvalidLineError as exc:
                problems.append(LoadProblem(str(path), line, f"skipped: {exc.__class__.__name__}: "
                                            f"{str(exc).splitlines()[0][:120]}"))
                continue
            if isinstance(value, dict):
                records.append(value)
                if len(records) == CHUNK:
                    frames.append(pd.DataFrame.from_records(records, columns=list(columns)))
                    records = []
            else:
                problems.append(LoadProblem(str(path), line, "skipped: not a JSON object"))
    if records:
        frames.append(pd.DataFrame.from_records(records, columns=list(columns)))
    return frames


def _merge(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """One row per id: the latest retrieved_at wins; first_seen/last_seen span every crawl."""
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(columns))
    if frame.empty:
        return frame.assign(first_seen=pd.Series(dtype=object), last_seen=pd.Series(dtype=object))
    frame = frame[frame["id"].notna()]
    seen = frame.groupby("id")["retrieved_at"].agg(first_seen="min", last_seen="max")
    latest = frame.sort_values("retrieved_at", kind="stable").drop_duplicates("id", keep="last")
    return latest.join(seen, on="id").sort_values(["source", "id"], kind="stable").reset_index(drop=True)


def load_output(folder: Path) -> Loaded:
    """Every ``*.jsonl`` under ``folder`` (the report folder excluded), tolerating bad lines."""
    problems: list[LoadProblem] = []
    measurements, discussions, files = [], [], 0
    for path in sorted(folder.rglob("*.jsonl")):
        files += 1
        if path.name.endswith(DISCUSSION_SUFFIX):
            discussions += _read_file(path, problems, DISCUSSION_FIELDS)
        else:
            measurements += _read_file(path, problems, MEASUREMENT_FIELDS)
    return Loaded(measurements=_merge(measurements, MEASUREMENT_FIELDS),
                  discussions=_merge(discussions, DISCUSSION_FIELDS), problems=problems, files=files)
