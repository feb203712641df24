"""What the Hub spiders share: endpoints, file URLs, listings with Link pagination, errbacks."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import scrapy
from scrapy.exceptions import DownloadCancelledError
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.extract.datafiles import DataFileError, TableRead, read_rows

from .arguments import list_argument, positive_int_argument
from .base import MeasurementSpider, contained, download_failure_kind, next_link

class HubSpider(MeasurementSpider):
    """Base of the spiders that read the Hugging Face Hub: URLs, requests, problem counting.

    Subclasses set ``repo_type`` ("datasets", "models" or "spaces").
    """

    repo_type: str = ""
    page_size = 100

    @property
    def endpoint(self) -> str:
        return self.settings["HF_ENDPOINT"].rstrip("/")

    def api_url(self, path: str, **params) -> str:
        query = f"?{urlencode(params)}" if params else ""
        return f"{self.endpoint}/api/{path}{query}"

    # Query parameters that make a listing carry what the spider reads (file list, card data).
    listing_params: dict[str, str] = {"full": "true"}

    def listing_url(self, **query) -> str:
        """A listing sorted by downloads, e.g. listing_url(search="llama") or (filter=tag)."""
        return self.api_url(self.repo_type, **query, **self.listing_params, sort="downloads",
                            direction=-1, limit=self.page_size)

    def repo_url(self, repo_id: str) -> str:
        return self.api_url(f"{self.repo_type}/{repo_id}", **self.listing_params)

    def _repo_base(self, repo_id: str, repo_type: str | None) -> str:
        kind = repo_type or self.repo_type
        return f"{self.endpoint}{'' if kind == 'models' else '/' + kind}/{repo_id}"

    def file_url(self, repo_id: str, path: str, repo_type: str | None = None) -> str:
        return f"{self._repo_base(repo_id, repo_type)}/resolve/main/{quote(path)}"

    def human_url(self, repo_id: str, path: str | None = None, repo_type: str | None = None) -> str:
        base = self._repo_base(repo_id, repo_type)
        return f"{base}/blob/main/{quote(path)}" if path else base

    def api_request(self, url: str, callback, json_shape: str | None = None, **kwargs) -> scrapy.Request:
        """A request of the API or of a file; ``json_shape`` ("list" or "dict") when the answer must
        be JSON of that shape, so that an error page in its place is retried (RetryAfterMiddleware)."""
        meta = {"dont_obey_robotstxt": True, **kwargs.pop("meta", {})}
        if json_shape:
            meta["json_shape"] = json_shape
        return scrapy.Request(url, callback=callback, errback=self.request_failed, meta=meta, **kwargs)

    def read_table(self, response, path: str, where: str) -> TableRead | None:
        """The rows of a downloaded data file; an unreadable file is counted and gives None.

        Problems inside a readable file (ragged rows, bad lines) are counted here too.
        """
        try:
            table = read_rows(response.body, path)
        except DataFileError as exc:
            self.count_problem(exc.kind, f"{where}: {exc.detail}")
            return None
        self.report_problems(where, table.problems)
        return table

    def request_failed(self, failure):
        """Errback: an HTTP error, a cancelled oversized download or a network error is counted."""
        request = failure.request
        if failure.check(HttpError):
            status = failure.value.response.status
            kind = {401: "gated", 403: "gated", 404: "not_found", 429: "rate_limited"}.get(
                status, f"http_{status}")
            self.count_problem(kind, f"HTTP {status} for {request.url}")
        elif failure.check(DownloadCancelledError):
            self.count_problem("oversized", f"{request.url} is larger than the download bound")
        else:
            self.count_problem(download_failure_kind(failure), f"{request.url}: {failure.getErrorMessage()}")


class HubListingSpider(HubSpider):
    """A Hub spider that walks listings (search, tag filter) and named repos.

    Subclasses set the default searches and ids and say in ``repo_entry`` what to read of a repo.
    Arguments: ``-a search=a,b`` and ``-a ids=org/x,org/y`` replace the defaults (an empty value
    means none), ``-a max_pages=N`` bounds pagination per listing.
    """

    default_searches: tuple[str, ...] = ()
    default_ids: tuple[str, ...] = ()

    def __init__(self, *args, search=None, ids=None, max_pages=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.searches = list_argument("search", search, self.default_searches)
        self.ids = list_argument("ids", ids, self.default_ids)
        self.max_pages = positive_int_argument("max_pages", max_pages, None)

    def pages_left(self, page: int) -> bool:
        return self.max_pages is None or page < self.max_pages

    def listing_request(self, url: str, page: int, **context) -> scrapy.Request:
        # Ahead of the files already queued (priority 1 over their 0): the scheduler hands out the
        # last request first, so a next page yielded before its page's 100 cards waited for all of
        # them, and the pages came one after another, each with the host half idle behind it.
        return self.api_request(url, self.parse_listing, json_shape="list", priority=1,
                                cb_kwargs={"page": page, **context})

    def repo_request(self, repo_id: str, **context) -> scrapy.Request:
        return self.api_request(self.repo_url(repo_id), self.parse_repo, json_shape="dict", cb_kwargs=context)

    @contained
    def parse_listing(self, response, page, **context):
        """A page of a Hub listing: the next page (Link) is asked for first, then each repo goes to
        ``repo_entry``, one at a time: an entry that cannot be read costs no other entry or page.

        ``context`` (keyword arguments of the first page's request) is passed on to ``repo_entry``
        and to the next pages.
        """
        following = next_link(response.headers.get(b"Link"))
        if following and self.pages_left(page):
            yield self.listing_request(following, page + 1, **context)
        elif following:
            self.logger.info("Stopped after %d pages (max_pages) at %s", page, response.url)
        listing = self.json_or_none(response, list)
        if listing is None:
            return
        self.count("listing_pages")
        for position, entry in enumerate(listing):
            where = f"{response.url} (entry {position})"
            if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
                self.count_problem("unexpected_api_shape", f"{where}: not a repo with an id")
                continue
            with self.failures_contained(f"{where}, {entry['id']}"):
                yield from self.repo_entry(self.checked_entry(entry, entry["id"]), **context)

    @contained
    def parse_repo(self, response, **context):
        """One repo from the repo API (for ``-a ids``)."""
        entry = self.json_or_none(response, dict)
        if entry is not None and isinstance(entry.get("id"), str) and entry["id"]:
            yield from self.repo_entry(self.checked_entry(entry, entry["id"]), **context)
        elif entry is not None:
            self.count_problem("unexpected_api_shape", f"{response.url}: a repo without an id")

    def checked_entry(self, entry: dict, repo_id: str) -> dict:
        """The entry with the fields the spiders read in the shapes they read them: ``tags`` a list,
        ``siblings`` a list of files with a name, ``cardData`` an object or absent. Anything else is
        counted (unexpected_api_shape) and read as empty, so the rest of the entry is still read."""
        checked = {**entry, "tags": self.listed(entry, "tags", repo_id)}
        if "siblings" in entry:
            siblings = self.listed(entry, "siblings", repo_id)
            checked["siblings"] = [s for s in siblings if isinstance(s, dict) and isinstance(s.get("rfilename"), str)]
            if len(checked["siblings"]) < len(siblings):
                self.count_problem("unexpected_api_shape", f"{repo_id}: a file of siblings without a name")
        card_data = entry.get("cardData")
        if card_data is not None and not isinstance(card_data, dict):
            self.count_problem("unexpected_api_shape", f"{repo_id}: cardData is a {type(card_data).__name__}")
            del checked["cardData"]
        return checked

    def repo_entry(self, entry: dict, **context):
        """Requests and items for one repo of a listing, as ``checked_entry`` returns it; subclasses
        say what to read."""
        raise NotImplementedError
