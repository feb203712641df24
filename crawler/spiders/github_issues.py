"""GitHub issues and their comments -> power figures people post, and a summary per discussion."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import scrapy
from scrapy.exceptions import UsageError

from crawler.extract.github_issues import comment_records, tools_mentioned
from crawler.items import Discussion, Measurement
from crawler.pipelines.stable_id import measurement_id

from .arguments import list_argument, positive_int_argument
from .base import MeasurementSpider, contained, download_failure_kind, next_link, utc_now

API_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
SEARCH_CAP = 1000  # GitHub returns at most 1,000 results per search
_REPO_IN_URL_RE = re.compile(r"github\.com/([^/]+/[^/]+)/(?:issues|pull)/")


@dataclass
class IssueState:
    """What has been read of one issue so far, for its Discussion summary."""

    issue: dict
    repo: str
    tool_mentions: dict[str, int] = field(default_factory=dict)
    comments_read: int = 0
    measurements: int = 0
    complete: bool = True

    def mention(self, tools: list[str]) -> None:
        for tool in tools:
            self.tool_mentions[tool] = self.tool_mentions.get(tool, 0) + 1


def parse_issue_reference(reference: str) -> tuple[str, int]:
    """'owner/repo#123' -> ('owner/repo', 123); raises UsageError otherwise."""
    repo, _, number = reference.partition("#")
    if repo.count("/") != 1 or not number.isdigit():
        raise UsageError(f"-a issues: {reference!r} is not owner/repo#number")
    return repo, int(number)


class GitHubIssuesSpider(MeasurementSpider):
    """Reads GitHub issues where people report GPU power and energy, with all their comments.

    Arguments: ``-a issues=owner/repo#n,...`` replaces the named issues (default
    huggingface/transformers#25782; ``-a issues=`` for none); ``-a q=query;query`` replaces the
    searches (semicolon-separated, GitHub search syntax); ``-a max_pages=N`` bounds each search.
    """

    name = "github_issues"
    # GitHub asks REST clients not to send requests concurrently (secondary rate limits).
    custom_settings = {"CONCURRENT_REQUESTS_PER_DOMAIN": 1}
    default_feeds = ("DEFAULT_FEED", "DEFAULT_DISCUSSION_FEED")
    default_issues = ("huggingface/transformers#25782",)
    default_queries = ("energy repo:huggingface/transformers is:issue",
                       "power repo:huggingface/transformers is:issue")
    per_page = 100

    def __init__(self, *args, issues=None, q=None, max_pages=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.issue_refs = [parse_issue_reference(r) for r in list_argument("issues", issues, self.default_issues)]
        self.queries = [query.strip() for query in (q.split(";") if q is not None else self.default_queries)
                        if query.strip()]
        self.max_pages = positive_int_argument("max_pages", max_pages, None)

    @property
    def api(self) -> str:
        return self.settings["GITHUB_API_URL"].rstrip("/")

    def api_request(self, url, callback, json_shape: str, **kwargs) -> scrapy.Request:
        """A request of the API, whose answer must be JSON of ``json_shape`` ("list" or "dict"):
        an error page in its place is retried (RetryAfterMiddleware)."""
        return scrapy.Request(url, callback=callback, headers=API_HEADERS,
                              meta={"dont_obey_robotstxt": True, "json_shape": json_shape}, **kwargs)

    async def start(self):
        for repo, number in self.issue_refs:
            yield self.api_request(f"{self.api}/repos/{repo}/issues/{number}", self.parse_issue, "dict",
                                   errback=self.request_failed)
        for query in self.queries:
            url = f"{self.api}/search/issues?{urlencode({'q': query, 'per_page': self.per_page})}"
            yield self.search_request(url, query, 1)

    def search_request(self, url: str, query: str, page: int) -> scrapy.Request:
        return self.api_request(url, self.parse_search, "dict", errback=self.request_failed,
                                cb_kwargs={"query": query, "page": page})

    def request_failed(self, failure):
        status = getattr(getattr(failure.value, "response", None), "status", None)
        kind = f"http_{status}" if status else download_failure_kind(failure)
        self.count_problem(kind, f"{failure.request.url}: {failure.getErrorMessage()}")

    @contained
    def parse_search(self, response, query, page):
        """A page of search results: the next page (Link) is asked for first, then each issue is
        read on its own: one that cannot be read costs no other issue or page."""
        following = next_link(response.headers.get(b"Link"))
        if following and (self.max_pages is None or page < self.max_pages):
            yield self.search_request(following, query, page + 1)
        result = self.json_or_none(response, dict)
        if result is None or not isinstance(result.get("items"), list):
            if result is not None:
                self.count_problem("unexpected_api_shape", f"{response.url}: no items list")
            return
        self.count("search_pages")
        if page == 1:
            total = result.get("total_count")
            self.crawler.stats.max_value(f"{self.name}/search_total_count", total if isinstance(total, int) else 0)
            self.logger.info("Search %r: %s results", query, total)
            if isinstance(total, int) and total > SEARCH_CAP:
                self.count("searches_cut_off")
                self.logger.warning("Search %r matches %d issues; GitHub returns the first %d only. "
                                    "Narrow the query (-a q=...) to read the rest.", query, total, SEARCH_CAP)
        if result.get("incomplete_results"):
            self.logger.warning("Search %r: GitHub says the results are incomplete (it timed out)", query)
        for position, issue in enumerate(result["items"]):
            if not isinstance(issue, dict):
                self.count_problem("unexpected_api_shape", f"{response.url}: an item is not an object")
            elif "pull_request" in issue:
                self.count_problem("pull_request", f"{issue.get('html_url')}", error=False)
            else:
                with self.failures_contained(f"{response.url} (item {position}, {issue.get('html_url')})"):
                    yield from self.read_issue(issue)

    @contained
    def parse_issue(self, response):
        issue = self.json_or_none(response, dict)
        if issue is not None:
            yield from self.read_issue(issue)

    def read_issue(self, issue: dict):
        url, comments_url = issue.get("html_url"), issue.get("comments_url")
        if not isinstance(url, str) or not isinstance(comments_url, str) or not isinstance(issue.get("number"), int):
            self.count_problem("unexpected_api_shape", f"issue without html_url, comments_url or number: {str(issue)[:200]}")
            return
        if not self.first_time("issues_seen", url):
            return
        self.count("issues_read")
        repo_match = _REPO_IN_URL_RE.search(url)  # issues and pull requests alike
        repo = repo_match[1] if repo_match else ""
        state = IssueState(issue=issue, repo=repo)
        with self.failures_contained(f"{url} (title)"):
            state.mention(tools_mentioned(str(issue.get("title") or "")))
        yield from self.read_post(state, issue, url, f"{repo}#{issue['number']}")
        separator = "&" if "?" in comments_url else "?"
        yield self.comments_request(f"{comments_url}{separator}per_page={self.per_page}", state)

    def comments_request(self, url: str, state: IssueState) -> scrapy.Request:
        return self.api_request(url, self.parse_comments, "list", errback=self.comments_failed,
                                cb_kwargs={"state": state})

    def read_post(self, state: IssueState, post: dict, url: str, where: str):
        """The records of one post; a post that cannot be read costs no other post."""
        body = post.get("body")
        if not isinstance(body, str) or not body.strip():
            self.count_problem("empty_body", where, error=False)
            return
        with self.failures_contained(url):
            state.mention(tools_mentioned(body))
            extraction = comment_records(body, locator_prefix=where, reply=post is not state.issue,
                                         title=str(state.issue.get("title") or ""))
            self.report_problems(where, extraction.problems)
            self.report_skipped(where, extraction.skipped)
            retrieved_at = utc_now()
            for record in extraction.records:
                state.measurements += 1
                self.count("records_found")
                yield Measurement(source=self.name, url=url, retrieved_at=retrieved_at, **record)

    def parse_comments(self, response, state: IssueState):
        comments = self.json_or_none(response, list)
        if comments is None:
            state.complete = False
            yield self.discussion(state)
            return
        for comment in comments:
            if not isinstance(comment, dict) or not isinstance(comment.get("html_url"), str):
                self.count_problem("unexpected_api_shape", f"{response.url}: a comment without html_url")
                continue
            state.comments_read += 1
            if comment.get("user") is None:
                self.count("comments_by_deleted_users")
            yield from self.read_post(state, comment, comment["html_url"],
                                      f"{state.repo}#{state.issue['number']}/{comment.get('id')}")
        # The next page after this one's comments: the last page's callback sums up the issue.
        following = next_link(response.headers.get(b"Link"))
        if following:
            yield self.comments_request(following, state)
        else:
            yield self.discussion(state)

    def comments_failed(self, failure):
        self.request_failed(failure)
        state = failure.request.cb_kwargs["state"]
        state.complete = False
        yield self.discussion(state)

    def discussion(self, state: IssueState) -> Discussion:
        issue = state.issue
        self.count("discussions")
        return Discussion(
            id=measurement_id(self.name, issue["html_url"], "discussion", ""),
            source=self.name, url=issue["html_url"], retrieved_at=utc_now(), repo=state.repo,
            number=issue["number"], title=str(issue.get("title") or ""), state=issue.get("state"),
            created_at=issue.get("created_at"), updated_at=issue.get("updated_at"),
            closed_at=issue.get("closed_at"),
            comment_count=issue.get("comments") if isinstance(issue.get("comments"), int) else None,
            comments_read=state.comments_read, tools=sorted(state.tool_mentions),
            tool_mentions=dict(sorted(state.tool_mentions.items())),
            measurement_count=state.measurements, complete=state.complete,
        )
