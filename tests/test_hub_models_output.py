"""The records of a fixed hub_models crawl, field for field: work on the crawler's speed (cache,
validation, scheduling, start-up, the mock site) must leave them as they were.

tests/expected/hub_models_records.jsonl holds what the crawler wrote for this crawl before the speed
work of issue 15 (commit c76a649): the demo's models (the default searches and tag filter) and 60
generated models read through three listing pages, with the mock's address written as {hub}.
``retrieved_at`` is left out (the time of the crawl), and so is ``id``, a hash of the record's URL,
which holds the mock's port. After a change meant to change the records, write the file again:
``python -m tests.test_hub_models_output``.
"""

import json
import sys
from pathlib import Path

from demosite.server import MockSite
from tests.conftest import run_crawl

EXPECTED = Path(__file__).parent / "expected" / "hub_models_records.jsonl"
VOLATILE = ("retrieved_at", "id")


def crawled_records(work: Path) -> list[str]:
    """The crawl's records as sorted JSON lines, the volatile fields left out."""
    with MockSite(page_size=20, generated_models=60) as site:
        result = run_crawl(site, "hub_models", work, "-a", "search=Llama,Mistral,GPT,H100,bench/")
        hub = site.hub_url
    assert result.returncode == 0, result.log[-3000:]
    lines = []
    for record in result.items:
        kept = {name: value for name, value in record.items() if name not in VOLATILE}
        lines.append(json.dumps(kept, sort_keys=True, ensure_ascii=False).replace(hub, "{hub}"))
    return sorted(lines)


def test_the_records_are_those_of_the_crawler_before_the_speed_work(tmp_path):
    records = crawled_records(tmp_path)
    expected = EXPECTED.read_text("utf-8").splitlines()
    assert len(records) == len(expected) == 25 + 2 * 60
    assert records == expected


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as temporary:
        EXPECTED.write_text("\n".join(crawled_records(Path(temporary))) + "\n", "utf-8")
    print(f"wrote {EXPECTED}", file=sys.stderr)
