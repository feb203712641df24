"""``python -m crawler.schedule``: run every spider, each in its own ``scrapy crawl`` process with a
hard timeout and a JSON stats file, then the synthesis. For cron and other schedulers.

Prints one line per spider (items, input errors, duration, outcome) and exits non-zero when any
spider failed, timed out or did not finish cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

# After a timeout the crawl gets SIGINT (Scrapy's graceful stop: feeds are closed, stats written)
# and this long to finish before it is killed.
GRACE_SECONDS = 30


@dataclass
class SpiderRun:
    name: str
    outcome: str  # "finished", a Scrapy finish reason, "timed out" or "failed (exit N)"
    items: int
    errors: int
    seconds: float
    feed: Path | None

    @property
    def ok(self) -> bool:
        return self.outcome == "finished"

    def summary(self) -> str:
        return (f"{self.name}: {self.outcome}, {self.items} records, {self.errors} input errors counted, "
                f"{self.seconds:.1f} s -> {self.feed}")


def spider_names() -> list[str]:
    return sorted(SpiderLoader.from_settings(get_project_settings()).list())


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted((path for path in folder.glob(pattern) if not path.name.endswith(".discussions.jsonl")),
                   key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def run_spider(name: str, output_dir: Path, *, timeout: float, env: dict, arguments: list[str]) -> SpiderRun:
    started = time.time()
    stats_dir = output_dir / "stats"
    environment = {**env, "CRAWLER_OUTPUT_DIR": str(output_dir),
                   "CRAWLER_STATS_JSON": str(stats_dir / "%(name)s-%(time)s.json")}
    command = [sys.executable, "-m", "scrapy", "crawl", name, "--loglevel", "WARNING", *arguments]
    process = subprocess.Popen(command, env=environment, start_new_session=True)
    try:
        returncode = process.wait(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
        os.killpg(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
    stats_file = newest(stats_dir, f"{name}-*.json")
    stats = json.loads(stats_file.read_text()) if stats_file and stats_file.stat().st_mtime >= started else {}
    if timed_out:
        outcome = "timed out"
    elif returncode:
        outcome = f"failed (exit {returncode})"
    else:
        outcome = stats.get("finish_reason", "failed (no stats)")
    return SpiderRun(name=name, outcome=outcome, items=int(stats.get("measurement/valid", 0)),
                     errors=sum(v for k, v in stats.items() if k.startswith("extract/error/")),
                     seconds=time.time() - started, feed=newest(output_dir / name, "*.jsonl"))


def run_all(output_dir: Path, *, spiders: list[str] | None = None, timeout: float = 3600, env: dict | None = None,
            arguments: dict[str, list[str]] | None = None, report: bool = True) -> int:
    failures = 0
    for name in spiders or spider_names():
        run = run_spider(name, output_dir, timeout=timeout, env=env or dict(os.environ),
                         arguments=(arguments or {}).get(name, []))
        print(run.summary(), flush=True)
        failures += not run.ok
    print(f"JSONL under {output_dir}/<spider>/, crawl stats under {output_dir}/stats/", flush=True)
    if report:
        failures += subprocess.run([sys.executable, "-m", "postprocess", str(output_dir)], env=env).returncode != 0
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crawler.schedule", description=__doc__.splitlines()[0])
    parser.add_argument("--spiders", help="comma-separated spiders to run (default: all)")
    parser.add_argument("--timeout", type=float, default=3600, help="hard timeout per spider, seconds (default 3600)")
    parser.add_argument("--output", type=Path, default=Path("output"), help="output folder (default output/)")
    parser.add_argument("--no-report", action="store_true", help="skip the synthesis")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.spiders.split(",") if n.strip()] if args.spiders else None
    unknown = sorted(set(names or []) - set(spider_names()))
    if unknown:
        parser.error(f"unknown spiders: {', '.join(unknown)} (known: {', '.join(spider_names())})")
    return run_all(args.output, spiders=names, timeout=args.timeout, report=not args.no_report)


if __name__ == "__main__":
    sys.exit(main())
