"""mlperf_power on a generated MLPerf round, on a mock GitHub with latency.

Run: python benchmarks/bench_mlperf.py [SYSTEMS] [LATENCY_S]. Serves a mock round
(``inference_results_v9.9``) of SYSTEMS systems (default 200) x 6 benchmarks x 2 scenarios, one
system in four with power results, answering every request after LATENCY_S (default 0.05), crawls
it with ``scrapy crawl mlperf_power -a rounds=v9.9`` and prints the wall time, requests per record,
and where the requests went: a system without power results costs the one request of its tree and
nothing more.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from scrapy.utils.project import get_project_settings

from demosite.__main__ import crawl_environment
from demosite.mlperf import GENERATED_POWER_EVERY, GENERATED_ROUND
from demosite.server import MockSite


def main() -> None:
    systems = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    settings = get_project_settings()
    with_power = len(range(0, systems, GENERATED_POWER_EVERY))
    print(f"mock round: {systems} systems x 6 benchmarks x 2 scenarios, {with_power} systems with power "
          f"results; {latency * 1000:.0f} ms added to every response")
    print(f"politeness as configured: the GitHub API one request at a time, raw files "
          f"CONCURRENT_REQUESTS_PER_DOMAIN={settings.getint('CONCURRENT_REQUESTS_PER_DOMAIN')}")
    with tempfile.TemporaryDirectory() as temporary, MockSite(latency=latency, generated_mlperf_systems=systems) as site:
        site.github.rate_limit = 5000  # a crawl with GITHUB_TOKEN, as a round of this size needs
        work = Path(temporary)
        environment = {**crawl_environment(site, work / "output"), "CRAWLER_HTTPCACHE_DIR": str(work / "cache"),
                       "CRAWLER_STATS_JSON": str(work / "stats.json")}
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "scrapy", "crawl", "mlperf_power", "-a", f"rounds={GENERATED_ROUND[-4:]}",
                        "-s", "AUTOTHROTTLE_START_DELAY=0", "--loglevel", "ERROR"], env=environment, check=True)
        wall_s = time.monotonic() - started
        stats = json.loads((work / "stats.json").read_text())
        requests = list(site.requests)
        trees = site.github.results_repos.trees

    def system_of(path: str) -> str | None:
        """The system a request is about: by name in a file path, by tree sha in a tree listing."""
        if "/git/trees/" in path:
            folder = trees.get(path.split("/git/trees/")[1].split("?")[0], ("", ""))[1]
            return folder.rsplit("/", 1)[-1] if "/results/" in folder else None
        parts = path.split("/results/")
        return parts[1].split("/")[0] if len(parts) > 1 else (
            path.rsplit("/", 1)[-1].removesuffix(".json") if "/systems/" in path else None)

    records = stats.get("measurement/valid", 0)
    per_system = Counter(system for r in requests if (system := system_of(r.path)))
    powered = {f"gen-system-{n:04d}" for n in range(0, systems, GENERATED_POWER_EVERY)}
    without = {name: count for name, count in per_system.items() if name not in powered}
    print(f"crawler: {wall_s:.1f} s, {records:,} records, {len(requests):,} requests, "
          f"{len(requests) / max(records, 1):.2f} requests per record")
    print(f"systems with power results: {len(powered)}, {sum(per_system[s] for s in powered):,} requests "
          f"({sum(per_system[s] for s in powered) / max(len(powered), 1):.1f} each: tree, system file, 3 files a result)")
    print(f"systems without power results: {len(without)}, {sum(without.values())} requests "
          f"(most for one: {max(without.values(), default=0)}, its tree)")
    print(f"counted: systems_without_power={stats.get('extract/skipped/system_without_power', 0)}, "
          f"results read={stats.get('mlperf_power/results_read', 0)}")


if __name__ == "__main__":
    main()
