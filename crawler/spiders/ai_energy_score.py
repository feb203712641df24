"""AI Energy Score: methodology page, leaderboard task files (or the rendered app), raw reports."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import PurePosixPath

import scrapy
from scrapy.exceptions import UsageError
from scrapy_playwright.page import PageMethod

from crawler.extract.ai_energy_score import (DOCUMENTED_FACTS, benchmark_report_records,
                                             leaderboard_records, methodology_facts, page_text,
                                             rendered_leaderboard_rows)
from crawler.items import Measurement

from .arguments import list_argument
from .base import contained, utc_now
from .hub import HubSpider

ALL_FACTS = ("hardware", "batch_size", "unit", "runs", "tool")
REPORT_REPO_TYPES = ("datasets", "spaces", "models")


class AIEnergyScoreSpider(HubSpider):
    """Reads the AI Energy Score leaderboard data and the methodology behind it.

    Arguments: ``-a tasks=text_generation,asr`` limits the tasks (default: every task file the
    Space lists); ``-a reports=<repo paths or URLs>`` adds optimum-benchmark reports
    (``datasets/<org>/<name>/<path>``, ``spaces/...``, ``models/...`` or an http(s) URL);
    ``-a render=1`` reads the leaderboard app in a headless browser instead of the task files.
    """

    name = "ai_energy_score"
    repo_type = "spaces"
    custom_settings = {
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
    }

    def __init__(self, *args, tasks=None, reports=None, render=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.tasks = set(list_argument("tasks", tasks, ()))
        self.reports = list_argument("reports", reports, ())
        for report in self.reports:
            if not report.startswith(("http://", "https://")) and (
                    report.count("/") < 3 or report.split("/", 1)[0] not in REPORT_REPO_TYPES):
                raise UsageError(f"-a reports: {report!r} is neither a URL nor "
                                 "datasets|spaces|models/<org>/<name>/<path>")
        self.render = str(render or "").strip().lower() in ("1", "true", "yes")
        self.facts = DOCUMENTED_FACTS

    @property
    def space(self) -> str:
        return self.settings["AIENERGYSCORE_SPACE"]

    @property
    def leaderboard_page(self) -> str:
        return self.human_url(self.space)

    async def start(self):
        # The methodology comes first: every record carries what it says.
        yield scrapy.Request(self.settings["AIENERGYSCORE_SITE_URL"], callback=self.parse_methodology,
                             errback=self.methodology_unreadable)

    def parse_methodology(self, response):
        facts = None
        with self.failures_contained(response.url):
            facts = methodology_facts(page_text(response.text))
        # A page that cannot be read is as one that states nothing: the documented values stand.
        self.facts = facts if facts is not None else replace(DOCUMENTED_FACTS, missing=ALL_FACTS)
        if self.facts.missing:
            self.count("methodology_fallback")
            self.logger.warning("The methodology page no longer states %s: using the documented values",
                                ", ".join(self.facts.missing))
        yield from self.leaderboard_requests()

    def methodology_unreadable(self, failure):
        self.facts = replace(DOCUMENTED_FACTS, missing=ALL_FACTS)
        self.count("methodology_fallback")
        self.logger.warning("Could not read the methodology page (%s): using the documented values",
                            failure.getErrorMessage())
        yield from self.leaderboard_requests()

    def leaderboard_requests(self):
        if self.render:
            yield self.render_request()
        else:
            yield scrapy.Request(
                self.api_url(f"spaces/{self.space}/tree/main/data/energy"), callback=self.parse_task_listing,
                errback=self.task_listing_unavailable, meta={"dont_obey_robotstxt": True, "json_shape": "list"})
        for report in self.reports:
            yield self.api_request(self.report_url(report), self.parse_report, cb_kwargs={"report": report})

    def render_request(self) -> scrapy.Request:
        return scrapy.Request(
            self.settings["AIENERGYSCORE_LEADERBOARD_URL"], callback=self.parse_rendered,
            errback=self.request_failed,
            # Not through the HTTP cache: a revalidation would hand the browser a bodiless 304.
            meta={"playwright": True, "dont_cache": True,
                  "playwright_page_methods": [PageMethod("wait_for_selector", "table tr td")]},
        )

    def report_url(self, report: str) -> str:
        if report.startswith(("http://", "https://")):
            return report
        kind, owner, name, path = report.split("/", 3)
        return self.file_url(f"{owner}/{name}", path, repo_type=kind)

    @contained
    def parse_task_listing(self, response):
        listing = self.json_or_none(response, list)
        files = [entry["path"] for entry in listing or [] if isinstance(entry, dict)
                 and entry.get("type") == "file" and isinstance(entry.get("path"), str)
                 and entry["path"].endswith(".csv")]
        if not files:
            yield from self.task_listing_unavailable(None, reason=f"no task files in {response.url}")
            return
        for path in files:
            task = PurePosixPath(path).stem
            if self.tasks and task not in self.tasks:
                continue
            self.count("task_files_listed")
            yield scrapy.Request(self.file_url(self.space, path), callback=self.parse_task_file,
                                 errback=self.request_failed, cb_kwargs={"task": task, "path": path},
                                 meta={"dont_obey_robotstxt": True})

    def task_listing_unavailable(self, failure, reason: str | None = None):
        self.count("listing_unavailable")
        self.logger.warning("Cannot list the leaderboard task files (%s): reading the rendered leaderboard",
                            reason or failure.getErrorMessage())
        yield self.render_request()

    @contained
    def parse_task_file(self, response, task, path):
        where = f"{self.space}/{path}"
        table = self.read_table(response, path, where)
        if table is None:
            return
        extraction = leaderboard_records(table.rows, task, self.facts, path)
        self.report_problems(where, extraction.problems)
        yield from self.measurements(extraction.records, self.leaderboard_page)

    @contained
    def parse_rendered(self, response):
        tables, problems = rendered_leaderboard_rows(response.text)
        self.report_problems(response.url, problems)
        self.count("rendered_tables", len(tables))
        for task, rows in tables:
            if self.tasks and task not in self.tasks:
                continue
            with self.failures_contained(f"{response.url} (table {task})"):
                extraction = leaderboard_records(rows, task or "unknown", self.facts, "rendered leaderboard")
                self.report_problems(f"rendered {task}", extraction.problems)
                for record in extraction.records:
                    record["extractor"] = "aienergyscore.rendered_leaderboard"
                yield from self.measurements(extraction.records, self.leaderboard_page)

    @contained
    def parse_report(self, response, report):
        try:
            value = json.loads(response.text)
        except ValueError as exc:
            self.count_problem("invalid_json", f"{report}: {exc}")
            return
        if not isinstance(value, dict):
            self.count_problem("unexpected_report_shape", f"{report}: not a JSON object")
            return
        extraction = benchmark_report_records(value, report, self.facts)
        self.report_problems(report, extraction.problems)
        if report.startswith(("http://", "https://")):
            url = report
        else:
            kind, owner, name, path = report.split("/", 3)
            url = self.human_url(f"{owner}/{name}", path, repo_type=kind)
        yield from self.measurements(extraction.records, url)

    def measurements(self, records, url):
        retrieved_at = utc_now()
        for record in records:
            self.count("records_found")
            yield Measurement(source=self.name, url=url, retrieved_at=retrieved_at, **record)
