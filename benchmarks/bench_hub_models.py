"""hub_models against a plain sequential huggingface_hub script, on a mock Hub with latency.

Run: python benchmarks/bench_hub_models.py [MODELS] [LATENCY_S]. Serves a mock Hub of MODELS
generated model cards (default 2,000) that answers every request after LATENCY_S (default 0.05),
then does the same work twice and prints wall time, requests per record and peak memory of each
(and the crawl process's CPU time: the crawl is CPU-bound, so the load average is printed too):

* the crawler: ``scrapy crawl hub_models -a search=bench/`` with the project's politeness
  settings as configured (they are printed);
* a sequential script: ``HfApi.list_models(search=..., cardData=True, full=True)``, then one
  ``hf_hub_download`` of README.md per model, reading the same cards with the same extractor.

The crawler should be at least 12 times faster. Beside that figure it prints the floor it is
measured against, from the same run: an empty crawl's start-up and shut-down (``scrapy crawl
hub_models`` with nothing to search, timed here) plus the crawler's requests at the mock's latency,
8 at a time (the politeness bound per host): the time of a crawl paced by politeness alone, as a
ratio to the sequential script like the crawler's own figure.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from scrapy.utils.project import get_project_settings

from demosite.__main__ import crawl_environment
from demosite.server import MockSite

SEQUENTIAL = textwrap.dedent("""
    import json, resource, sys
    from huggingface_hub import HfApi, hf_hub_download
    from crawler.extract.model_cards import co2_eq_emissions_records, extract_card
    endpoint = sys.argv[1]
    records = 0
    models = list(HfApi(endpoint=endpoint).list_models(search="bench/", cardData=True, full=True))
    for model in models:
        records += len(co2_eq_emissions_records(model.card_data.to_dict() if model.card_data else {}))
        path = hf_hub_download(model.id, "README.md", endpoint=endpoint)
        records += len(extract_card(open(path, encoding="utf-8").read(), with_metadata=False).records)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"models": len(models), "records": records, "peak_mib": peak_kib / 1024}))
""")


TARGET_RATIO = 12


def cpu_seconds(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    models = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    latency = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
    settings = get_project_settings()
    print(f"mock Hub: {models:,} model cards, {latency * 1000:.0f} ms added to every response")
    print(f"crawler politeness as configured: CONCURRENT_REQUESTS_PER_DOMAIN="
          f"{settings.getint('CONCURRENT_REQUESTS_PER_DOMAIN')}, AUTOTHROTTLE_TARGET_CONCURRENCY="
          f"{settings.getfloat('AUTOTHROTTLE_TARGET_CONCURRENCY')}, AUTOTHROTTLE_START_DELAY="
          f"{settings.getfloat('AUTOTHROTTLE_START_DELAY')} s")
    with tempfile.TemporaryDirectory() as temporary, MockSite(latency=latency, page_size=100,
                                                              generated_models=models) as site:
        work = Path(temporary)
        environment = {**crawl_environment(site, work / "output"), "CRAWLER_HTTPCACHE_DIR": str(work / "cache"),
                       "CRAWLER_STATS_JSON": str(work / "stats.json")}
        crawl = [sys.executable, "-m", "scrapy", "crawl", "hub_models", "-a", "filter=", "-a", "ids=",
                 "--loglevel", "ERROR"]
        started = time.monotonic()
        subprocess.run([*crawl, "-a", "search="], env={**environment, "CRAWLER_STATS_JSON": ""}, check=True)
        startup_s = time.monotonic() - started
        started, children = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([*crawl, "-a", "search=bench/"], env=environment, check=True)
        crawler_s = time.monotonic() - started
        crawler_cpu_s = cpu_seconds(resource.getrusage(resource.RUSAGE_CHILDREN)) - cpu_seconds(children)
        stats = json.loads((work / "stats.json").read_text())
        crawler_records = stats.get("measurement/valid", 0)
        crawler_requests = stats.get("downloader/request_count", 0)

        before = len(site.requests)
        started = time.monotonic()
        sequential = subprocess.run([sys.executable, "-c", SEQUENTIAL, site.hub_url], check=True, capture_output=True,
                                    text=True, env={**environment, "HF_HUB_CACHE": str(work / "hf-cache"),
                                                    "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"})
        sequential_s = time.monotonic() - started
        result = json.loads(sequential.stdout.strip().splitlines()[-1])
        sequential_requests = len(site.requests) - before

    print(f"crawler:    {crawler_s:7.1f} s, {crawler_records:,} records, "
          f"{crawler_requests / max(crawler_records, 1):.2f} requests per record, "
          f"peak memory {stats.get('memusage/max', 0) / 2**20:.0f} MiB, {crawler_cpu_s:.1f} s CPU")
    print(f"sequential: {sequential_s:7.1f} s, {result['records']:,} records, "
          f"{sequential_requests / max(result['records'], 1):.2f} requests per record, "
          f"peak memory {result['peak_mib']:.0f} MiB")
    per_host = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    floor_s = startup_s + crawler_requests * latency / per_host
    print(f"floor:      {floor_s:7.1f} s = {startup_s:.1f} s start-up and shut-down of an empty crawl + "
          f"{crawler_requests:,} requests x {latency * 1000:.0f} ms / {per_host} in flight")
    print(f"the crawler is {sequential_s / crawler_s:.1f} times faster than the sequential script "
          f"(target: at least {TARGET_RATIO}; floor: {sequential_s / floor_s:.1f})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (the crawler is CPU-bound: a busy machine slows it)")


if __name__ == "__main__":
    main()
