"""``python -m crawler.schedule``: run every spider, each in its own ``scrapy crawl`` process with a
hard timeout and a JSON stats file, then the synthesis. For cron and other schedulers.

Prints one line per spider (outcome, records, input errors, fetch problems, duration, feed) and
exits non-zero when any spider failed, timed out or did not finish cleanly.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

# After a timeout the crawl gets SIGINT (Scrapy's graceful stop: feeds are closed, stats written)
# and this long to finish before it is killed.
GRACE_SECONDS = 30

# Fetch problems a crawl counts (crawler/middlewares.py), as the summary line names one and more.
FETCH_PROBLEMS = {
    "fetch/error_page": ("error page", "error pages"),
    "fetch/broken_encoding": ("undecodable body", "undecodable bodies"),
    "fetch/short_body": ("short body", "short bodies"),
    "fetch/redirect_loop": ("redirect loop", "redirect loops"),
    "retry/max_reached": ("request given up", "requests given up"),
}


def counted(count: int, one: str, more: str) -> str:
    return f"{count} {one if count == 1 else more}"


@dataclass
class SpiderRun:
    name: str
    outcome: str  # "finished", a finish reason (+ " (exit N)" if not 0), "timed out" or "failed (...)"
    items: int
    errors: int
    seconds: float
    feed: Path | None
    retries: int = 0
    fetch_problems: dict[str, int] = field(default_factory=dict)  # stat -> count, the non-zero ones

    @property
    def ok(self) -> bool:
        return self.outcome == "finished"

    def summary(self) -> str:
        fetched = f", {counted(self.retries, 'retry', 'retries')}" if self.retries else ""
        if self.fetch_problems:
            fetched += " (" + ", ".join(counted(count, *FETCH_PROBLEMS[stat])
                                        for stat, count in self.fetch_problems.items()) + ")"
        return (f"{self.name}: {self.outcome}, {self.items} records, {self.errors} input errors counted{fetched}, "
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
    reason = stats.get("finish_reason")
    if timed_out:
        outcome = "timed out"
    elif reason is None:
        outcome = f"failed (exit {returncode})" if returncode else "failed (no stats)"
    else:
        outcome = f"{reason} (exit {returncode})" if returncode else reason
    return SpiderRun(name=name, outcome=outcome, items=int(stats.get("measurement/valid", 0)),
                     errors=sum(v for k, v in stats.items() if k.startswith("extract/error/")),
                     seconds=time.time() - started, feed=newest(output_dir / name, "*.jsonl"),
                     retries=int(stats.get("retry/count", 0)),
                     fetch_problems={stat: stats[stat] for stat in FETCH_PROBLEMS if stats.get(stat)})


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
