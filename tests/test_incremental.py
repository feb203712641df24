"""A repeated crawl of unchanged sources costs little: conditional requests through the HTTP cache."""

from collections import Counter

from demosite.server import MockSite
from tests.conftest import run_crawl

CHANGED = "data/throttled.csv"
NEW_ROW = b"model,gpu,avg_power_w,energy_per_token_j\nmeta-llama/Llama-2-13b-hf,NVIDIA RTX A6000,250.0,0.8\n"


def test_second_crawl_revalidates_unchanged_pages_and_picks_up_a_changed_file(tmp_path):
    cache = {"CRAWLER_HTTPCACHE_DIR": str(tmp_path / "cache")}
    with MockSite() as site:
        first = run_crawl(site, "hub_datasets", tmp_path / "first", env=cache)
        served_first = len(site.requests)
        site.hub.changed_files[("datasets", "broken/energy-bench-broken", CHANGED)] = NEW_ROW
        second = run_crawl(site, "hub_datasets", tmp_path / "second", env=cache)
        again = site.requests[served_first:]
    statuses = Counter(r.status for r in again)
    bodies = sorted(r.path for r in again if r.status == 200)
    # The 200s of the second crawl: the changed file, and the oversized file, which has no ETag and
    # is cancelled at its Content-Length header again (its body is never read). All else is 304, or
    # the same 404 and redirect as before.
    assert bodies == ["/datasets/broken/energy-bench-broken/resolve/main/data/huge.csv",
                      f"/datasets/broken/energy-bench-broken/resolve/main/{CHANGED}"]
    assert statuses[304] >= 15 and set(statuses) <= {200, 302, 304, 404}
    first_ids = {i["id"]: i for i in first.items}
    second_ids = {i["id"]: i for i in second.items}
    assert set(first_ids) == set(second_ids)  # the changed row is the same figure: same id ...
    changed = next(i for i in second.items if i["url"].endswith(CHANGED))
    assert (first_ids[changed["id"]]["power_w"], changed["power_w"]) == (290.0, 250.0)  # ... new value
    assert second.stat("httpcache/revalidate") >= 15
