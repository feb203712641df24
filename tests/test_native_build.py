"""The extractors compiled with mypyc (scripts/build_native.py) read as their sources do, and a
build is loaded only while it was made from the sources as they stand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import crawler.extract

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "demosite" / "fixtures"

# Prints, as JSON, what the extractors read from the bench's cards and the mock site's cards and
# GitHub posts: run once in this process (compiled when built) and once as plain source.
DUMP = """
import json, random, sys
from pathlib import Path
sys.path.insert(0, str(Path({root!r}) / "benchmarks"))
from bench_cards import make_card
from crawler.extract.github_issues import comment_records
from crawler.extract.model_cards import extract_card

def plain(extraction):
    return {{"records": extraction.records, "problems": [str(problem) for problem in extraction.problems],
             "skipped": dict(sorted(extraction.skipped.items()))}}

rng = random.Random(11)
out = {{f"bench card {{number}}": plain(extract_card(make_card(rng))) for number in range(40)}}
for path in sorted(Path({fixtures!r}).glob("hub/models/*/*/README.md")):
    out[str(path)] = plain(extract_card(path.read_text(encoding="utf-8")))
for issue in json.loads((Path({fixtures!r}) / "github" / "issues.json").read_text())["issues"]:
    posts = [comment_records(issue["body"] or "", "x", title=issue["title"])]
    posts += [comment_records(comment["body"] or "", "x", title=issue["title"], reply=True)
              for comment in issue["comments"]]
    out[f"issue {{issue['number']}}"] = [plain(post) for post in posts]
print(json.dumps(out, sort_keys=True, default=str))
"""


def _dump(pure_python: bool) -> dict:
    environment = dict(os.environ, CRAWLER_PURE_PYTHON="1" if pure_python else "0")
    script = DUMP.format(root=str(ROOT), fixtures=str(FIXTURES))
    finished = subprocess.run([sys.executable, "-c", script], env=environment, cwd=ROOT,
                              capture_output=True, text=True, check=True)
    return json.loads(finished.stdout)


def test_ci_runs_the_compiled_extractors():
    """CI builds them (scripts/setup.sh): a build that fails there must not pass as a slow success."""
    if os.environ.get("CI") != "true":
        pytest.skip("only CI must have the build; elsewhere the sources may be newer than it")
    assert crawler.extract.NATIVE, "crawler/extract runs as source: scripts/build_native.py failed or is stale"


def test_compiled_extractors_read_as_the_sources_do():
    if not crawler.extract.NATIVE:
        pytest.skip("no current mypyc build of crawler/extract (scripts/build_native.py)")
    compiled, source = _dump(pure_python=False), _dump(pure_python=True)
    assert sum(len(document["records"]) for name, document in source.items() if name.startswith("bench")) > 100
    assert compiled.keys() == source.keys()
    for name in source:
        assert compiled[name] == source[name], f"{name}: the compiled extractors read it differently"


def test_a_build_of_other_sources_is_not_loaded(tmp_path, monkeypatch):
    sources = tmp_path / "extract"
    sources.mkdir()
    for name in crawler.extract.COMPILED_MODULES:
        (sources / f"{name}.py").write_text(f"RULE = {name!r}\n")
    monkeypatch.setattr(crawler.extract, "SOURCE_DIR", sources)
    monkeypatch.setattr(crawler.extract, "BUILT_FROM", tmp_path / "BUILT_FROM")
    assert not crawler.extract.native_build_is_current()  # never built
    crawler.extract.BUILT_FROM.write_text(crawler.extract.sources_digest() + "\n")
    assert crawler.extract.native_build_is_current()
    (sources / "units.py").write_text("RULE = 'edited after the build'\n")
    assert not crawler.extract.native_build_is_current()
