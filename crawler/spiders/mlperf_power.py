"""MLPerf Inference power results (mlcommons/inference_results_v<round>) -> measured server power.

The walk, by GitHub API (GITHUB_API_URL, with GITHUB_TOKEN when set):

1. the organisation's repositories (``/orgs/mlcommons/repos``): the rounds ``inference_results_vX.Y``;
2. per round, the contents API one level at a time: divisions, submitters, their ``results/``
   folder (a list of systems, each with its tree sha);
3. per system, its own tree, recursively (``/git/trees/<sha>?recursive=1``): one request that
   says which of its results have a ``performance/power/`` folder. A whole round's recursive tree
   is cut off by GitHub (over 100,000 files); one system's few hundred paths are far from that
   limit (a cut tree is still counted and read as far as it goes). A system without power results
   costs that one request and nothing more.

Then, for the systems with power only, the files are read raw (GITHUB_RAW_URL; the token is never
sent there): ``systems/<system>.json`` once, and per result ``performance/run_1/``'s summary,
detail log and ``spl.txt`` (traces can pass the contents API's 1 MB inline limit; raw has none).
The ``performance/ranging/`` run beside ``run_1`` is the analyzer's range-finding, not the result.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import scrapy
from scrapy.exceptions import UsageError

from crawler.extract.mlperf import (MLPerfInputError, ResultFiles, SystemDescription, parse_system,
                                    result_records, scenario_name)
from crawler.items import Measurement

from .arguments import list_argument
from .base import MeasurementSpider, contained, download_failure_kind, next_link, utc_now

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
ROUND_REPO_RE = re.compile(r"^inference_results_v(\d+)\.(\d+)$")
ROUND_ARGUMENT_RE = re.compile(r"^v?(\d+)\.(\d+)$")
# Power results were first published in round v1.0; the issue asks for v2.1 on (the rounds whose
# layout and checker rules are the ones read here).
FIRST_ROUND = (2, 1)
DIVISIONS = ("closed", "open", "network")
RUN_FILES = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "spl.txt")


def parse_round(text: str) -> tuple[int, int]:
    match = ROUND_ARGUMENT_RE.match(text.strip())
    if not match:
        raise UsageError(f"-a rounds: {text!r} is not a round such as v3.1")
    return int(match[1]), int(match[2])


@dataclass
class RoundRepo:
    name: str  # inference_results_v3.1
    round: str  # v3.1
    branch: str
    html_url: str  # https://github.com/mlcommons/inference_results_v3.1


@dataclass
class PowerResult:
    """One result with power: where it stands, and its run files as they arrive."""

    repo: RoundRepo
    division: str
    submitter: str
    system: str
    benchmark: str
    scenario_folder: str
    files: dict[str, str] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return (f"{self.division}/{self.submitter}/results/{self.system}/{self.benchmark}/"
                f"{self.scenario_folder}/performance/run_1")

    @property
    def locator(self) -> str:
        return (f"{self.repo.round}/{self.division}/{self.submitter}/{self.system}/{self.benchmark}/"
                f"{self.scenario_folder}")


class MLPerfPowerSpider(MeasurementSpider):
    """Reads the power results of MLPerf Inference: whole-server power at the wall over each timed run.

    Arguments (comma-separated; matching is case-insensitive): ``-a rounds=v3.1,v4.0`` (default:
    every round from v2.1 on that the organisation has), ``-a divisions=closed`` (default: closed,
    open, network), ``-a submitters=NVIDIA,Dell`` (default: all), ``-a benchmarks=bert-99,llama2-70b-99``
    (default: all).
    """

    name = "mlperf_power"
    organisation = "mlcommons"
    per_page = 100

    @classmethod
    def update_settings(cls, settings):
        super().update_settings(settings)
        # GitHub asks REST clients not to send requests concurrently (secondary rate limits); the
        # raw file host has no such rule, so its downloads keep the project's concurrency.
        api_host = urlsplit(settings["GITHUB_API_URL"]).hostname or ""
        slots = {**settings.getdict("DOWNLOAD_SLOTS"), api_host: {"concurrency": 1}}
        settings.set("DOWNLOAD_SLOTS", slots, priority="spider")

    def __init__(self, *args, rounds=None, divisions=None, submitters=None, benchmarks=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.rounds = {parse_round(text) for text in list_argument("rounds", rounds, ())} or None
        self.divisions = tuple(d.lower() for d in list_argument("divisions", divisions, DIVISIONS))
        unknown = [d for d in self.divisions if d not in DIVISIONS]
        if unknown or not self.divisions:
            raise UsageError(f"-a divisions={divisions!r}: expected some of {', '.join(DIVISIONS)}")
        self.submitters = {s.lower() for s in list_argument("submitters", submitters, ())} or None
        self.benchmarks = {b.lower() for b in list_argument("benchmarks", benchmarks, ())} or None

    # --- URLs and requests -------------------------------------------------------------------
    @property
    def api(self) -> str:
        return self.settings["GITHUB_API_URL"].rstrip("/")

    @property
    def raw(self) -> str:
        return self.settings["GITHUB_RAW_URL"].rstrip("/")

    def contents_url(self, repo: RoundRepo, path: str) -> str:
        return f"{self.api}/repos/{self.organisation}/{repo.name}/contents/{quote(path)}?ref={quote(repo.branch)}"

    def raw_url(self, repo: RoundRepo, path: str) -> str:
        return f"{self.raw}/{self.organisation}/{repo.name}/{quote(repo.branch)}/{quote(path)}"

    def api_request(self, url: str, callback, json_shape: str, **cb_kwargs) -> scrapy.Request:
        """A request of the API, whose answer must be JSON of ``json_shape`` ("list" or "dict"):
        an error page in its place is retried (RetryAfterMiddleware)."""
        return scrapy.Request(url, callback=callback, errback=self.request_failed, headers=API_HEADERS,
                              meta={"dont_obey_robotstxt": True, "json_shape": json_shape}, cb_kwargs=cb_kwargs)

    def raw_request(self, url: str, callback, **cb_kwargs) -> scrapy.Request:
        return scrapy.Request(url, callback=callback, errback=self.request_failed,
                              meta={"dont_obey_robotstxt": True}, cb_kwargs=cb_kwargs)

    def request_failed(self, failure):
        status = getattr(getattr(failure.value, "response", None), "status", None)
        kind = f"http_{status}" if status else download_failure_kind(failure)
        self.count_problem(kind, f"{failure.request.url}: {failure.getErrorMessage()}")

    def wanted(self, allowed: set[str] | None, name: str) -> bool:
        return allowed is None or name.lower() in allowed

    # --- rounds --------------------------------------------------------------------------------
    async def start(self):
        url = f"{self.api}/orgs/{self.organisation}/repos?per_page={self.per_page}"
        yield self.api_request(url, self.parse_repositories, "list", found=[])

    @contained
    def parse_repositories(self, response, found: list):
        """The organisation's repositories, page by page; the rounds are chosen once all are seen,
        so a named round that does not exist is said once."""
        for repo in self.json_or_none(response, list) or []:
            if not isinstance(repo, dict) or not isinstance(repo.get("name"), str):
                continue
            match = ROUND_REPO_RE.match(repo["name"])
            if match:
                found.append((int(match[1]), int(match[2]), repo))
        following = next_link(response.headers.get(b"Link"))
        if following:
            yield self.api_request(following, self.parse_repositories, "list", found=found)
            return
        available = {(major, minor): repo for major, minor, repo in found}
        for missing in sorted((self.rounds or set()) - set(available)):
            self.count_problem("round_not_found", f"v{missing[0]}.{missing[1]}: {self.organisation} has no "
                               f"inference_results_v{missing[0]}.{missing[1]} repository", error=False)
        chosen = sorted(key for key in available if (key in self.rounds if self.rounds else key >= FIRST_ROUND))
        self.logger.info("Rounds to read: %s", ", ".join(f"v{a}.{b}" for a, b in chosen) or "none")
        for key in chosen:
            repo = available[key]
            html_url = repo.get("html_url")
            if not isinstance(html_url, str) or not html_url.startswith(("https://", "http://")):
                html_url = f"https://github.com/{self.organisation}/{repo['name']}"
            round_repo = RoundRepo(name=repo["name"], round=f"v{key[0]}.{key[1]}",
                                   branch=str(repo.get("default_branch") or "main"), html_url=html_url.rstrip("/"))
            self.count("rounds")
            yield self.api_request(self.contents_url(round_repo, ""), self.parse_divisions, "list", repo=round_repo)

    def folders(self, response) -> list[dict]:
        """The folders of a contents listing (entries of type "dir" with a name and a sha)."""
        entries = self.json_or_none(response, list) or []
        return [entry for entry in entries if isinstance(entry, dict) and entry.get("type") == "dir"
                and isinstance(entry.get("name"), str) and isinstance(entry.get("sha"), str)]

    @contained
    def parse_divisions(self, response, repo: RoundRepo):
        for folder in self.folders(response):
            if folder["name"].lower() in self.divisions:
                yield self.api_request(self.contents_url(repo, folder["name"]), self.parse_submitters, "list",
                                       repo=repo, division=folder["name"])

    @contained
    def parse_submitters(self, response, repo: RoundRepo, division: str):
        for folder in self.folders(response):
            if self.wanted(self.submitters, folder["name"]):
                path = f"{division}/{folder['name']}/results"
                request = self.api_request(self.contents_url(repo, path), self.parse_systems, "list",
                                           repo=repo, division=division, submitter=folder["name"])
                request.meta["handle_httpstatus_list"] = [404]  # a submitter folder without results/
                yield request

    @contained
    def parse_systems(self, response, repo: RoundRepo, division: str, submitter: str):
        if response.status == 404:
            self.count_problem("no_results_folder", f"{repo.round}/{division}/{submitter}", error=False)
            return
        for folder in self.folders(response):
            self.count("systems_listed")
            url = f"{self.api}/repos/{self.organisation}/{repo.name}/git/trees/{folder['sha']}?recursive=1"
            yield self.api_request(url, self.parse_system_tree, "dict", repo=repo, division=division,
                                   submitter=submitter, system=folder["name"])

    # --- one system ----------------------------------------------------------------------------
    @contained
    def parse_system_tree(self, response, repo: RoundRepo, division: str, submitter: str, system: str):
        """Which results of the system have power: those with a ``performance/power/`` folder (the
        submission checker's rule; the system's name need not say MaxQ)."""
        where = f"{repo.round}/{division}/{submitter}/{system}"
        tree = self.json_or_none(response, dict)
        if tree is None:
            return
        if tree.get("truncated"):
            self.count_problem("system_tree_truncated", f"{where}: GitHub cut the tree short; reading what it holds")
        paths = {entry["path"]: entry.get("type") for entry in self.listed(tree, "tree", where)
                 if isinstance(entry, dict) and isinstance(entry.get("path"), str)}
        results, incomplete = [], 0
        for path in sorted(paths):
            parts = path.split("/")
            if len(parts) != 4 or parts[2:] != ["performance", "power"]:
                continue
            benchmark, scenario_folder = parts[0], parts[1]
            if not self.wanted(self.benchmarks, benchmark):
                continue
            result = PowerResult(repo, division, submitter, system, benchmark, scenario_folder)
            if scenario_name(scenario_folder) is None:
                self.count_problem("unknown_scenario", f"{result.locator}: scenario folder {scenario_folder!r}")
                continue
            run = f"{benchmark}/{scenario_folder}/performance/run_1"
            missing = [name for name in RUN_FILES if paths.get(f"{run}/{name}") != "blob"]
            if missing:
                incomplete += 1
                self.count_problem("incomplete_power_result", f"{result.locator}: run_1 lacks {', '.join(missing)}")
                continue
            results.append(result)
        if not results:
            if not incomplete:
                self.count_problem("system_without_power", where, error=False)
            return
        self.count("systems_with_power")
        self.count("power_results", len(results))
        url = self.raw_url(repo, f"{division}/{submitter}/systems/{system}.json")
        request = self.raw_request(url, self.parse_system_description, results=results)
        request.meta["handle_httpstatus_list"] = [404]  # read the results all the same, accelerator unknown
        yield request

    @contained
    def parse_system_description(self, response, results: list[PowerResult]):
        where = f"{results[0].repo.round}/{results[0].division}/{results[0].submitter}/{results[0].system}"
        system = SystemDescription(None, None, None)
        if response.status == 404:
            self.count_problem("missing_system_description", f"{where}: no systems/{results[0].system}.json")
        else:
            try:
                system = parse_system(json.loads(response.text))
            except (ValueError, AttributeError) as error:
                kind = error.kind if isinstance(error, MLPerfInputError) else "malformed_system_description"
                self.count_problem(kind, f"{where}: {error}")
        for result in results:
            yield self.next_file_request(result, system)

    def next_file_request(self, result: PowerResult, system: SystemDescription) -> scrapy.Request:
        name = next(name for name in RUN_FILES if name not in result.files)
        return self.raw_request(self.raw_url(result.repo, f"{result.folder}/{name}"), self.parse_run_file,
                                result=result, system=system, name=name)

    @contained
    def parse_run_file(self, response, result: PowerResult, system: SystemDescription, name: str):
        """One file of a result's run; the result is read when its three files are in."""
        result.files[name] = response.text
        if len(result.files) < len(RUN_FILES):
            yield self.next_file_request(result, system)
            return
        files = ResultFiles(locator=result.locator, benchmark=result.benchmark,
                            scenario_folder=result.scenario_folder, summary=result.files["mlperf_log_summary.txt"],
                            detail_log=result.files["mlperf_log_detail.txt"], spl=result.files["spl.txt"])
        result.files.clear()  # a trace can be megabytes: not kept once read
        try:
            records = result_records(files, system)
        except MLPerfInputError as error:
            self.count_problem(error.kind, f"{result.locator}: {error}")
            return
        url = f"{result.repo.html_url}/tree/{quote(result.repo.branch)}/{quote(result.folder)}"
        retrieved_at = utc_now()
        self.count("results_read")
        for record in records:
            self.count("records_found")
            yield Measurement(source=self.name, url=url, retrieved_at=retrieved_at, **record)
