"""The cards benchmark's records, pinned: a speed change must not change what is extracted.

``benchmarks/bench_cards.py`` builds its cards from a seeded generator; the records, problems
and skip counts of the first CARDS of them are stored in tests/snapshots/bench_cards.json. A
change that alters them on purpose (a new rule) regenerates the file with

    python tests/test_card_output_snapshot.py

and the diff of the snapshot shows, in review, what the change did to the output.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "snapshots" / "bench_cards.json"
CARDS = 24

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_cards import make_card  # noqa: E402

from crawler.extract.model_cards import extract_card  # noqa: E402


def extract_bench_cards() -> list[dict]:
    rng = random.Random(7)  # the benchmark's own seed: these are its first cards
    results = []
    for _ in range(CARDS):
        extraction = extract_card(make_card(rng))
        results.append({"records": extraction.records,
                        "problems": [f"{problem.kind}: {problem.detail}" for problem in extraction.problems],
                        "skipped": dict(sorted(extraction.skipped.items()))})
    return json.loads(json.dumps(results))  # tuples as lists, as in the stored file


def test_bench_cards_give_the_pinned_records():
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    found = extract_bench_cards()
    assert sum(len(card["records"]) for card in found) > 3 * CARDS  # the snapshot pins real output
    for number, (card, pinned) in enumerate(zip(found, expected)):
        assert card == pinned, f"bench card {number} extracts differently from the snapshot"
    assert len(found) == len(expected)


if __name__ == "__main__":
    SNAPSHOT.parent.mkdir(exist_ok=True)
    SNAPSHOT.write_text(json.dumps(extract_bench_cards(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT}")
