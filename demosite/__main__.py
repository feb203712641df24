"""``python -m demosite``: start the offline demo site, crawl it with every spider, synthesise the report.

``python -m demosite --serve`` only serves the site (for trying ``scrapy crawl`` by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

from .server import MockSite

# Local site, so no need to wait between requests; the bound on file size makes the demo's
# oversized file (8 MB) show the size guard without moving hundreds of MB.
DEMO_SETTINGS = {"AUTOTHROTTLE_START_DELAY": "0.05", "AUTOTHROTTLE_MAX_DELAY": "1"}
DEMO_MAX_FILE_BYTES = str(4 * 1024 * 1024)
# Spider arguments that show what a spider can do beyond its defaults.
DEMO_ARGUMENTS = {
    "ai_energy_score": ["-a", "reports=datasets/benchmarks-lab/llm-reports/text_generation/phi-2/"
                              "benchmark_report.json"],
}


def crawl_environment(site: MockSite, output_dir: Path) -> dict:
    """Environment that points a crawl at the demo site and nowhere else."""
    env = dict(os.environ)
    env.update({
        "HF_ENDPOINT": site.hub_url,
        "GITHUB_API_URL": site.github_url,
        "AIENERGYSCORE_SITE_URL": site.methodology_url,
        "AIENERGYSCORE_LEADERBOARD_URL": site.leaderboard_app_url,
        "CRAWLER_ALLOWED_HOSTS": ",".join(site.hosts),
        "HUB_MAX_FILE_BYTES": DEMO_MAX_FILE_BYTES,
        "CRAWLER_OUTPUT_DIR": str(output_dir),
        "CRAWLER_STATS_JSON": str(output_dir / "stats" / "%(name)s-%(time)s.json"),
    })
    return env


def spider_names() -> list[str]:
    return sorted(SpiderLoader.from_settings(get_project_settings()).list())


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted((path for path in folder.glob(pattern) if not path.name.endswith(".discussions.jsonl")),
                   key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


# A fixed port keeps the demo's record URLs, and so their ids, the same from one run to the next,
# so repeated demo runs merge in the report instead of piling up.
DEMO_PORT = 8718


def demo_site() -> MockSite:
    try:
        return MockSite(DEMO_PORT)
    except OSError:
        print(f"Port {DEMO_PORT} is taken: serving on another port (record ids will differ from earlier demo runs)")
        return MockSite()


def run_all(output_dir: Path) -> int:
    failures = 0
    with demo_site() as site:
        print(f"Demo site serving the mock sources at {site.hub_url}")
        for name in spider_names():
            started = time.monotonic()
            command = [sys.executable, "-m", "scrapy", "crawl", name, "--loglevel", "WARNING",
                       *DEMO_ARGUMENTS.get(name, [])]
            for key, value in DEMO_SETTINGS.items():
                command += ["-s", f"{key}={value}"]
            result = subprocess.run(command, env=crawl_environment(site, output_dir.resolve()))
            feed = newest(output_dir / name, "*.jsonl")
            stats_file = newest(output_dir / "stats", f"{name}-*.json")
            stats = json.loads(stats_file.read_text()) if stats_file else {}
            items = sum(1 for _ in feed.open()) if feed else 0
            errors = sum(v for k, v in stats.items() if k.startswith("extract/error/"))
            print(f"{name}: {items} records, {errors} input errors counted, "
                  f"{time.monotonic() - started:.1f} s -> {feed}")
            failures += result.returncode != 0 or stats.get("finish_reason") != "finished"
    print(f"JSONL under {output_dir}/<spider>/, crawl stats under {output_dir}/stats/")
    report = subprocess.run([sys.executable, "-m", "postprocess", str(output_dir)])
    return 1 if failures or report.returncode else 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demosite", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="only serve the demo site")
    parser.add_argument("--port", type=int, default=0, help="port for --serve (default: any free)")
    parser.add_argument("--output", type=Path, default=Path("output"), help="output folder")
    args = parser.parse_args()
    if args.serve:
        site = MockSite(args.port).start()
        print(f"Serving the demo site; crawl it with: HF_ENDPOINT={site.hub_url} scrapy crawl hub_datasets")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            site.stop()
        return 0
    return run_all(args.output)


if __name__ == "__main__":
    sys.exit(main())
