"""Hub dataset search -> data files of the matching datasets -> power and energy records."""

from __future__ import annotations

import os
from fnmatch import fnmatchcase

from crawler.extract.dataset_tables import extract_data_file
from crawler.extract.datafiles import is_data_file
from crawler.items import Measurement

from .arguments import positive_int_argument
from .base import contained, utc_now
from .hub import HubListingSpider


class HubDatasetsSpider(HubListingSpider):
    """Searches Hub datasets and reads their CSV, JSON, JSONL and Parquet files.

    Arguments (besides HubListingSpider's ``search``, ``ids`` and ``max_pages``): ``-a max_files=N``
    bounds the data files read per dataset (default 50).

    Gated datasets are counted (``datasets_gated``); their files are asked for only when HF_TOKEN
    is set (the token middleware sends it to the Hub), and a refusal is counted as ``gated``.
    """

    name = "hub_datasets"
    repo_type = "datasets"
    default_searches = ("energy", "power", "GPU")
    default_ids = ("ohdoking/energy_consumption_by_model_and_gpu", "ml-energy/benchmark-v3",
                   "optimum-benchmark/llm-perf-leaderboard")
    # Datasets whose results sit among many other files: only these are read. ML.ENERGY v3 keeps
    # its run summaries in runs/*.parquet beside thousands of raw results.json (power timelines of
    # megabytes each); LLM-Perf's perf-df-*.csv beside llm-df.csv (quality scores, no energy).
    result_files = {
        "ml-energy/benchmark-v3": ("runs/*.parquet",),
        "optimum-benchmark/llm-perf-leaderboard": ("perf-df-*.csv", "*/perf-df-*.csv"),
    }

    def __init__(self, *args, max_files=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_files = positive_int_argument("max_files", max_files, 50)

    async def start(self):
        for repo_id in self.ids:
            yield self.repo_request(repo_id)
        for term in self.searches:
            yield self.listing_request(self.listing_url(search=term), 1)

    def repo_entry(self, entry: dict):
        repo_id = entry["id"]
        if "siblings" not in entry:
            # Listings made without full=true carry no file list: ask for the repo itself.
            yield self.repo_request(repo_id)
            return
        if not self.first_time("datasets_seen", repo_id):
            return
        self.count("datasets_listed")
        paths = [s.get("rfilename", "") for s in entry.get("siblings") or [] if isinstance(s, dict)]
        data_files = [path for path in paths if is_data_file(path)]
        if repo_id in self.result_files:
            patterns = self.result_files[repo_id]
            results = [path for path in data_files if any(fnmatchcase(path, p) for p in patterns)]
            self.logger.info("Dataset %s: reading its %d result files (%s) of %d data files",
                             repo_id, len(results), ", ".join(patterns), len(data_files))
            data_files = results
        if not data_files:
            self.count("datasets_without_data_files")
            self.logger.info("Skipping dataset %s: no CSV, JSON, JSONL or Parquet files", repo_id)
            return
        self.count("datasets_with_data_files")
        if entry.get("gated"):
            self.count("datasets_gated")
            if not os.environ.get("HF_TOKEN", "").strip():
                self.count("datasets_gated_without_token")
                self.logger.info("Skipping gated dataset %s: set HF_TOKEN (of an account granted "
                                 "access) to read it", repo_id)
                return
        if len(data_files) > self.max_files:
            self.logger.info("Dataset %s: reading %d of %d data files (max_files)",
                             repo_id, self.max_files, len(data_files))
        context = " ".join([repo_id, *map(str, entry["tags"])])
        for path in data_files[: self.max_files]:
            yield self.api_request(
                self.file_url(repo_id, path),
                self.parse_data_file,
                cb_kwargs={"repo_id": repo_id, "path": path, "context": context},
                meta={"download_maxsize": self.settings.getint("HUB_MAX_FILE_BYTES")},
            )

    @contained
    def parse_data_file(self, response, repo_id, path, context):
        self.count("files_fetched")
        where = f"{repo_id}/{path}"
        table = self.read_table(response, path, where)
        if table is None or not table.rows:
            return
        self.count("files_read")
        if self.first_time("datasets_readable", repo_id):
            self.count("datasets_with_readable_files")
        extraction = extract_data_file(table, path, context)
        self.report_problems(where, extraction.problems)
        if not extraction.records:
            return
        if self.first_time("datasets_yielding", repo_id):
            self.count("datasets_with_measurements")
        retrieved_at = utc_now()
        url = self.human_url(repo_id, path)
        for record in extraction.records:
            yield Measurement(source=self.name, url=url, retrieved_at=retrieved_at, **record)
