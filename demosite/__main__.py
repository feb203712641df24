"""``python -m demosite``: start the offline demo site, crawl it with every spider, synthesise the report.

``python -m demosite --serve`` only serves the site, and prints the ``export`` lines that point a
``scrapy crawl`` by hand at it (for trying the spiders one at a time).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

from crawler.schedule import NotInProject, run_all, spider_names

from .hub import DEMO_HF_TOKEN
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


def site_environment(site: MockSite) -> dict[str, str]:
    """What points a crawl at the demo site and nowhere else: every endpoint setting, the hosts a
    crawl may reach, and the demo's size bound."""
    return {
        "HF_ENDPOINT": site.hub_url,
        "GITHUB_API_URL": site.github_url,
        "GITHUB_RAW_URL": site.github_raw_url,
        "AIENERGYSCORE_SITE_URL": site.methodology_url,
        "AIENERGYSCORE_LEADERBOARD_URL": site.leaderboard_app_url,
        "CRAWLER_ALLOWED_HOSTS": ",".join(site.hosts),
        "HUB_MAX_FILE_BYTES": DEMO_MAX_FILE_BYTES,
    }


CALLER_TOKENS = ("HF_TOKEN", "GITHUB_TOKEN")


def crawl_environment(site: MockSite, output_dir: Path) -> dict:
    """Environment that points a crawl at the demo site and nowhere else."""
    env = dict(os.environ)
    # One process per spider on this machine: a REDIS_URL in the caller's environment would
    # make it a worker of some distributed crawl. The caller's real tokens have no business going
    # to the mock.
    for name in ("REDIS_URL", *CALLER_TOKENS):
        env.pop(name, None)
    env.update(site_environment(site))
    env.update({
        "CRAWLER_OUTPUT_DIR": str(output_dir),
        "CRAWLER_STATS_JSON": str(output_dir / "stats" / "%(name)s-%(time)s.json"),
    })
    return env


# A fixed port keeps the demo's record URLs, and so their ids, the same from one run to the next,
# so repeated demo runs merge in the report instead of piling up.
DEMO_PORT = 8718


def demo_site() -> MockSite:
    try:
        return MockSite(DEMO_PORT)
    except OSError:
        print(f"Port {DEMO_PORT} is taken: serving on another port (record ids will differ from earlier demo runs)")
        return MockSite()


def run_demo(output_dir: Path) -> int:
    with demo_site() as site:
        print(f"Demo site serving the mock sources at {site.hub_url}", flush=True)
        environment = crawl_environment(site, output_dir.resolve())
        environment["HF_TOKEN"] = DEMO_HF_TOKEN  # the mock's gated dataset opens with the token it grants
        arguments = {name: [*DEMO_ARGUMENTS.get(name, []),
                            *[option for key, value in DEMO_SETTINGS.items() for option in ("-s", f"{key}={value}")]]
                     for name in spider_names()}
        return run_all(output_dir, timeout=600, env=environment, arguments=arguments)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m demosite", description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="only serve the demo site")
    parser.add_argument("--port", type=int, default=0, help="port for --serve (default: any free)")
    parser.add_argument("--output", type=Path, default=Path("output"), help="output folder")
    args = parser.parse_args()
    if args.serve:
        site = MockSite(args.port).start()
        print(f"Serving the demo site at {site.hub_url} (Ctrl-C stops it). To crawl it by hand, in another shell:")
        for name, value in site_environment(site).items():
            print(f"export {name}={shlex.quote(value)}")
        set_outside = [name for name in ("REDIS_URL", *CALLER_TOKENS) if os.environ.get(name)]
        if set_outside:
            print(f"unset {' '.join(set_outside)}")
        print("scrapy crawl hub_datasets", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            site.stop()
        return 0
    try:
        spider_names()  # outside the project there is nothing to crawl: say so before serving
    except NotInProject as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    return run_demo(args.output)


if __name__ == "__main__":
    sys.exit(main())
