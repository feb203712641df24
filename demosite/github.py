"""The mock GitHub REST API: issues, their comments, issue search, the MLPerf results repositories
(demosite/mlperf.py), and rate-limit behaviour."""

from __future__ import annotations

import json
import threading
import time
from importlib import resources
from urllib.parse import urlencode

from .hub import Reply
from .mlperf import MockResultsRepos

FIXTURE = resources.files(__package__).joinpath("fixtures/github/issues.json")
RATE_LIMIT = 60


class MockGitHub:
    def __init__(self, generated_mlperf_systems: int = 0):
        data = json.loads(FIXTURE.read_text("utf-8"))
        self.page_size = data["page_size"]
        self.search_page_size = data["search_page_size"]
        self.search_totals = data["search_totals"]
        self.issues = {(issue["repo"], issue["number"]): issue for issue in data["issues"]}
        self.results_repos = MockResultsRepos(generated_systems=generated_mlperf_systems)
        self.lock = threading.Lock()
        self.requests_served = 0
        self.rate_limit = RATE_LIMIT  # what GitHub allows an hour without a token; 5,000 with one
        # Rate-limit scenarios a test can switch on.
        self.exhaust_after: int | None = None
        self.reset_in = 0.0
        self.reset_at: float | None = None
        self.retry_after_once: dict[str, int] = {}

    # --- JSON shapes -------------------------------------------------------------------------
    def issue_json(self, issue: dict, api_url: str) -> dict:
        repo, number = issue["repo"], issue["number"]
        base = f"{api_url}/repos/{repo}/issues/{number}"
        item = {
            "url": base, "html_url": f"https://github.com/{repo}/issues/{number}",
            "comments_url": f"{base}/comments", "id": 1000 + number, "number": number,
            "title": issue["title"], "user": {"login": issue["user"]}, "state": issue["state"],
            "comments": len(issue["comments"]), "created_at": issue["created_at"],
            "updated_at": issue["updated_at"], "closed_at": issue["closed_at"], "body": issue["body"],
        }
        if issue.get("pull_request"):
            item["pull_request"] = {"url": f"{api_url}/repos/{repo}/pulls/{number}"}
        return item

    def comment_json(self, issue: dict, index: int, comment: dict) -> dict:
        comment_id = issue["number"] * 1000 + index
        return {
            "id": comment_id,
            "html_url": f"https://github.com/{issue['repo']}/issues/{issue['number']}#issuecomment-{comment_id}",
            "user": {"login": comment["user"]} if comment["user"] else None,
            "created_at": issue["created_at"], "updated_at": issue["updated_at"], "body": comment["body"],
        }

    # --- rate limits ---------------------------------------------------------------------------
    def _limit_headers(self) -> tuple[dict, Reply | None]:
        now = time.time()
        with self.lock:
            self.requests_served += 1
            spent = self.exhaust_after is not None and self.requests_served > self.exhaust_after
            if spent and self.reset_at is None:
                self.reset_at = now + self.reset_in
            if self.reset_at is not None and now >= self.reset_at:
                self.exhaust_after, self.reset_at, spent = None, None, False
            reset = int(self.reset_at if self.reset_at else now + 3600) + (1 if self.reset_at else 0)
            remaining = 0 if spent else max(0, self.rate_limit - self.requests_served)
        headers = {"x-ratelimit-limit": str(self.rate_limit), "x-ratelimit-remaining": str(remaining),
                   "x-ratelimit-reset": str(reset)}
        if spent:
            body = {"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest"}
            return headers, Reply(403, json.dumps(body).encode(), headers)
        return headers, None

    # --- routes --------------------------------------------------------------------------------
    def handle(self, path: str, query: dict, api_url: str) -> Reply | None:
        if not path.startswith(("/repos/", "/search/", "/orgs/")):
            return None
        headers, limited = self._limit_headers()
        if limited:
            return limited
        for fragment, seconds in list(self.retry_after_once.items()):
            if fragment in path:
                del self.retry_after_once[fragment]
                body = {"message": "You have exceeded a secondary rate limit."}
                return Reply(403, json.dumps(body).encode(), {**headers, "retry-after": str(seconds)})
        if path == "/search/issues":
            return self.search(query, api_url, headers)
        results_reply = self.results_repos.handle_api(path, query, api_url, headers)
        if results_reply is not None:
            return results_reply
        parts = path.strip("/").split("/")
        if len(parts) in (5, 6) and parts[0] == "repos" and parts[3] == "issues":
            issue = self.issues.get((f"{parts[1]}/{parts[2]}", int(parts[4]) if parts[4].isdigit() else -1))
            if issue is None:
                return Reply(404, b'{"message": "Not Found"}', headers)
            if len(parts) == 5:
                return Reply(200, json.dumps(self.issue_json(issue, api_url)).encode(), headers)
            if parts[5] == "comments":
                return self.comments(issue, query, api_url, path, headers)
        return Reply(404, b'{"message": "Not Found"}', headers)

    def _page(self, entries: list, query: dict, size: int, next_url: str, headers: dict):
        page = int(query.get("page", ["1"])[0])
        chunk = entries[(page - 1) * size: page * size]
        if page * size < len(entries):
            following = {key: values[0] for key, values in query.items()}
            following["page"] = str(page + 1)
            headers = {**headers, "Link": f'<{next_url}?{urlencode(following)}>; rel="next"'}
        return chunk, headers

    def comments(self, issue: dict, query: dict, api_url: str, path: str, headers: dict) -> Reply:
        if issue.get("comments_page") == "html":
            return Reply(200, b"<html><body><h1>502 Bad Gateway</h1></body></html>", headers, "text/html")
        entries = [self.comment_json(issue, i, c) for i, c in enumerate(issue["comments"], start=1)]
        chunk, headers = self._page(entries, query, self.page_size, f"{api_url}{path}", headers)
        return Reply(200, json.dumps(chunk).encode(), headers)

    def search(self, query: dict, api_url: str, headers: dict) -> Reply:
        q = query.get("q", [""])[0]
        words = q.split()
        terms = [w.lower() for w in words if ":" not in w]
        repos = [w.split(":", 1)[1] for w in words if w.startswith("repo:")]
        matches = [issue for issue in self.issues.values()
                   if (not repos or issue["repo"] in repos)
                   and all(t in (issue["title"] + " " + issue["body"]).lower() for t in terms)]
        items = [self.issue_json(issue, api_url) for issue in matches]
        chunk, headers = self._page(items, query, self.search_page_size, f"{api_url}/search/issues", headers)
        total = max([len(items)] + [claimed for qualifier, claimed in self.search_totals.items() if qualifier in q])
        body = {"total_count": total, "incomplete_results": False, "items": chunk}
        return Reply(200, json.dumps(body).encode(), headers)
