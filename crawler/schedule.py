"""``python -m crawler.schedule``: run every spider, each in its own ``scrapy crawl`` process with a
hard timeout and a JSON stats file, then the synthesis. For cron and other schedulers.

Prints one line per spider (outcome, records, input errors, fetch problems, duration, feed) and
exits non-zero when any spider failed, timed out or did not finish cleanly. Each crawl logs at INFO
to ``<output>/logs/<spider>-<time>.log``; its warnings, errors and Scrapy's progress line (LogStats,
pages and items once a minute) are shown on stderr as the crawl runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings, inside_project

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


class NotInProject(RuntimeError):
    """Run where Scrapy finds no project settings: there would be no spiders to run."""


def spider_names() -> list[str]:
    if not inside_project():
        raise NotInProject(f"no scrapy.cfg in {Path.cwd()} or any folder above it (and SCRAPY_SETTINGS_MODULE "
                           "is not set): run it from the project folder")
    names = sorted(SpiderLoader.from_settings(get_project_settings()).list())
    if not names:
        raise NotInProject("the project settings name no spiders (SPIDER_MODULES): is this the crawler's folder?")
    return names


# A record of the crawl's log file (Scrapy's LOG_FORMAT and LOG_DATEFORMAT); other lines continue one.
LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[(?P<logger>[^\]]+)\] (?P<level>[A-Z]+): ")
SHOWN_LEVELS = {"WARNING", "ERROR", "CRITICAL"}
PROGRESS_LOGGER = "scrapy.extensions.logstats"


class LogRelay:
    """Shows what a person watching the run needs from a crawl's log file as it grows: warnings and
    errors (with their traceback lines), and Scrapy's progress line except the first (logged as
    the crawl opens, all zeros)."""

    def __init__(self, path: Path, out=None):
        self.path = path
        self.out = out or sys.stderr
        self.file = None
        self.partial = ""
        self.showing = False
        self.progress_lines = 0

    def relay(self) -> None:
        if self.file is None:
            if not self.path.exists():
                return
            self.file = self.path.open(encoding="utf-8", errors="replace")
        lines = (self.partial + self.file.read()).split("\n")
        self.partial = lines.pop()  # written up to here so far
        for line in lines:
            if record := LOG_RECORD.match(line):
                if record["logger"] == PROGRESS_LOGGER:
                    self.progress_lines += 1
                    self.showing = self.progress_lines > 1
                else:
                    self.showing = record["level"] in SHOWN_LEVELS
            if self.showing:
                print(line, file=self.out, flush=True)

    def close(self) -> None:
        self.relay()
        if self.partial and self.showing:
            print(self.partial, file=self.out, flush=True)
        if self.file is not None:
            self.file.close()


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted((path for path in folder.glob(pattern) if not path.name.endswith(".discussions.jsonl")),
                   key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def run_spider(name: str, output_dir: Path, *, timeout: float, env: dict, arguments: list[str]) -> SpiderRun:
    started = time.time()
    stats_dir = output_dir / "stats"
    environment = {**env, "CRAWLER_OUTPUT_DIR": str(output_dir),
                   "CRAWLER_STATS_JSON": str(stats_dir / "%(name)s-%(time)s.json")}
    log_file = output_dir / "logs" / f"{name}-{time.strftime('%Y-%m-%dT%H-%M-%S', time.gmtime(started))}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "scrapy", "crawl", name, "--loglevel", "INFO", "--logfile", str(log_file),
               *arguments]
    process = subprocess.Popen(command, env=environment, start_new_session=True)
    log = LogRelay(log_file)
    deadline = time.monotonic() + timeout
    timed_out = False
    returncode = None
    while returncode is None and not timed_out:
        try:
            returncode = process.wait(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            timed_out = time.monotonic() >= deadline
        log.relay()
    if timed_out:
        os.killpg(process.pid, signal.SIGINT)
        try:
            returncode = process.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
    log.close()
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
    print(f"JSONL under {output_dir}/<spider>/, crawl stats under {output_dir}/stats/, logs under {output_dir}/logs/",
          flush=True)
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
    try:
        known = spider_names()
    except NotInProject as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    names = [n.strip() for n in args.spiders.split(",") if n.strip()] if args.spiders else None
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        parser.error(f"unknown spiders: {', '.join(unknown)} (known: {', '.join(known)})")
    return run_all(args.output, spiders=names, timeout=args.timeout, report=not args.no_report)


if __name__ == "__main__":
    sys.exit(main())
