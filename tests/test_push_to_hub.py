"""python -m postprocess --push-to-hub: the dataset is published to the (mock) Hub through
huggingface_hub and loads back with datasets.load_dataset, one config per record kind."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import yaml

from crawler.items import DISCUSSION_FIELDS
from demosite.server import MockSite
from postprocess.__main__ import main
from tests.test_postprocess import h100_records, record, write_jsonl

TOKEN = "hf_write_token_5d1c"
HOSTILE = "<script>alert(1)</script> | **x**"

LOAD_BACK = """
import json, datasets
out = {}
for config in ("measurements", "discussions"):
    loaded = datasets.load_dataset("lab/gpu-power", config, split="train")
    out[config] = {"rows": loaded.num_rows, "features": {k: str(v) for k, v in loaded.features.items()},
                   "records": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                               for row in loaded]}
print(json.dumps(out))
"""


def discussion(number: int, **fields) -> dict:
    return dict.fromkeys(DISCUSSION_FIELDS) | {
        "id": f"{number:020x}", "source": "github_issues", "url": f"https://github.com/o/r/issues/{number}",
        "retrieved_at": "2026-01-01T00:00:00Z", "repo": "o/r", "number": number, "title": HOSTILE,
        "created_at": "2024-03-01T08:00:00Z", "comments_read": 2, "tools": ["nvidia-smi"],
        "tool_mentions": {"nvidia-smi": 2}, "measurement_count": 1, "complete": True} | fields


def test_push_then_load_back_from_the_hub(tmp_path):
    output = tmp_path / "output"
    measurements = h100_records() + [record(id="e" * 20, model_name=HOSTILE, power_w=300.0, batch_size=16,
                                            source="hub_datasets")]
    write_jsonl(output / "m" / "x.jsonl", measurements)
    write_jsonl(output / "github_issues" / "x.discussions.jsonl", [discussion(7)])
    with MockSite() as site:
        env = {**os.environ, "HF_ENDPOINT": site.hub_url, "HF_TOKEN": TOKEN, "HF_HUB_DISABLE_TELEMETRY": "1",
               "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0"}
        pushed = subprocess.run([sys.executable, "-m", "postprocess", str(output), "--out", str(tmp_path / "report"),
                                 "--push-to-hub", "lab/gpu-power"], env=env, capture_output=True, text=True,
                                timeout=300)
        assert pushed.returncode == 0, pushed.stderr[-3000:]
        assert "pushed to lab/gpu-power: " in pushed.stdout
        uploads = site.hub.uploads["datasets"]["lab/gpu-power"]
        # The token went with every API call (the pushes and the reads back), to the Hub host only.
        api_calls = [r for r in site.requests if r.path.startswith("/api/") and r.status != 404 and "resolve" not in r.path]
        assert api_calls and all(r.authorization == f"Bearer {TOKEN}" and r.host == "127.0.0.1" for r in api_calls)
        loaded = subprocess.run([sys.executable, "-c", LOAD_BACK], env=env, capture_output=True, text=True,
                                timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    back = json.loads(loaded.stdout.splitlines()[-1])

    assert set(uploads) == {"README.md", "data/measurements.parquet", "data/discussions.parquet", "report/report.md",
                            "report/report.html", "report/synthesis.json", "report/plots/power_by_gpu.png",
                            "report/plots/energy_per_token.png", "report/plots/batch_effect.png"}
    assert uploads["data/measurements.parquet"] == (tmp_path / "report" / "measurements.parquet").read_bytes()

    card = uploads["README.md"].decode("utf-8")
    metadata = yaml.safe_load(card.split("---\n")[1])
    assert metadata["configs"] == [
        {"config_name": "measurements", "data_files": "data/measurements.parquet", "default": True},
        {"config_name": "discussions", "data_files": "data/discussions.parquet"}]
    assert "| `power_w` | `double` | W |" in card
    assert "| `energy_per_token_j` | `double` | J per token |" in card
    assert "| `batch_size` | `int64` |  |" in card
    assert "| `retrieved_at` | `timestamp[us, tz=UTC]` | UTC |" in card
    assert "| `hub_datasets` | Hugging Face Hub datasets" in card and "| 1 | each dataset's own licence" in card
    assert "| `hub_models` |" in card and "| 5 | each model's own licence" in card
    assert "| `github_issues` |" in card and "GitHub's Terms of Service" in card
    assert "6 measurements and 1 discussions" in card
    assert "<script" not in card and HOSTILE not in card  # scraped text stays out of the card

    rows = {r["id"]: r for r in back["measurements"]["records"]}
    assert back["measurements"]["rows"] == 6
    assert back["measurements"]["features"]["batch_size"] == "Value('int64')"
    assert back["measurements"]["features"]["retrieved_at"] == "Value('timestamp[us, tz=UTC]')"
    assert back["measurements"]["features"]["first_seen"] == "Value('timestamp[us, tz=UTC]')"
    assert rows["e" * 20]["batch_size"] == 16 and rows["e" * 20]["power_w"] == 300.0
    assert rows["e" * 20]["model_name"] == HOSTILE
    assert sorted(r["power_w"] for r in rows.values()) == [50.0, 250.0, 270.0, 290.0, 300.0, 310.0]
    issue, = back["discussions"]["records"]
    assert back["discussions"]["rows"] == 1
    assert (issue["number"], issue["created_at"], issue["tool_mentions"]["nvidia-smi"]) == (
        7, "2024-03-01T08:00:00+00:00", 2)
    assert issue["tool_mentions"]["Zeus"] is None


def test_push_needs_a_token(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    write_jsonl(tmp_path / "output" / "m" / "x.jsonl", h100_records())
    assert main([str(tmp_path / "output"), "--out", str(tmp_path / "report"), "--push-to-hub", "lab/x"]) == 2
    assert capsys.readouterr().err == "error: --push-to-hub needs a write token in HF_TOKEN\n"
    assert not (tmp_path / "report").exists()


def test_a_failed_push_is_one_line(tmp_path, monkeypatch, capsys):
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    write_jsonl(tmp_path / "output" / "m" / "x.jsonl", h100_records())
    assert main([str(tmp_path / "output"), "--out", str(tmp_path / "report"), "--push-to-hub", "lab/x"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: pushing to lab/x failed: ") and error.count("\n") == 1
    assert "Traceback" not in error and TOKEN not in error
    assert (tmp_path / "report" / "measurements.parquet").is_file()  # the local outputs are written


def test_every_spider_has_a_row_in_the_dataset_cards_sources():
    from crawler.schedule import spider_names
    from postprocess.push import SOURCES

    assert {name for name, _, _ in SOURCES} == set(spider_names())
