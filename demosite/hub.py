"""The mock Hugging Face Hub: dataset search and repo API, resolve URLs, an LFS CDN host."""

from __future__ import annotations

import hashlib
import io
import json
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote, urlencode, urlsplit

FIXTURES = resources.files(__package__).joinpath("fixtures/hub")
HELPER_SUFFIX = ".rows.json"  # JSON rows that the site turns into Parquet; not files of the repo


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict | None = None
    content_type: str = "application/json"
    # For large generated files: the body is produced in chunks, never held whole.
    chunks: object = None
    length: int | None = None


def json_reply(value, status=200, headers=None) -> Reply:
    return Reply(status, json.dumps(value).encode(), headers)


def _generated_csv_chunks(size: int):
    """Exactly ``size`` bytes of a valid-looking CSV, made as it is sent."""
    header = b"model,gpu,batch_size,avg_power_w\n"
    block = b"meta-llama/Llama-2-7b-hf,NVIDIA H100 PCIe,1,250.0\n" * 1000
    yield header[:size]
    left = size - len(header)
    while left > 0:
        yield block[:left]
        left -= len(block)


class MockHub:
    def __init__(self):
        catalogue = json.loads(FIXTURES.joinpath("catalogue.json").read_text("utf-8"))
        self.page_size = catalogue["page_size"]
        self.datasets = {entry["id"]: entry for entry in catalogue["datasets"]}
        self.served_counts: dict[str, int] = {}
        self.lock = threading.Lock()

    # --- repo contents -----------------------------------------------------------------------
    def _repo_dir(self, repo_id: str):
        return FIXTURES.joinpath("datasets", *repo_id.split("/"))

    def _disk_files(self, repo_id: str) -> list[str]:
        found = []

        def walk(node, prefix):
            for child in node.iterdir():
                path = f"{prefix}{child.name}"
                if child.is_dir():
                    walk(child, path + "/")
                elif not child.name.endswith(HELPER_SUFFIX):
                    found.append(path)

        walk(self._repo_dir(repo_id), "")
        return found

    def siblings(self, repo_id: str) -> list[str]:
        extra = self.datasets[repo_id].get("files", {})
        return sorted(set(self._disk_files(repo_id)) | set(extra))

    def api_entry(self, repo_id: str, full: bool) -> dict:
        entry = self.datasets[repo_id]
        sha = hashlib.sha1(repo_id.encode()).hexdigest()
        item = {
            "_id": sha[:24], "id": repo_id, "author": repo_id.split("/")[0], "sha": sha,
            "lastModified": "2025-06-01T10:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z",
            "private": False, "gated": False, "disabled": False,
            "downloads": entry["downloads"], "likes": entry["likes"], "tags": entry["tags"],
        }
        if full:
            item["siblings"] = [{"rfilename": path} for path in self.siblings(repo_id)]
        return item

    # --- routes ------------------------------------------------------------------------------
    def handle(self, path: str, query: dict, base_url: str, cdn_url: str) -> Reply | None:
        if path == "/api/datasets":
            return self.search(query, base_url)
        if path.startswith("/api/datasets/"):
            repo_id = path[len("/api/datasets/"):]
            if repo_id not in self.datasets:
                return json_reply({"error": "Repository not found"}, 404,
                                  {"X-Error-Code": "RepoNotFound"})
            return json_reply(self.api_entry(repo_id, full=True))
        if path.startswith("/datasets/") and "/resolve/main/" in path:
            repo_id, file_path = path[len("/datasets/"):].split("/resolve/main/", 1)
            return self.resolve(repo_id, file_path, cdn_url)
        if path.startswith("/cdn/datasets/"):
            repo_id, file_path = path[len("/cdn/datasets/"):].split("/main/", 1)
            return self.file_body(repo_id, file_path)
        return None

    def search(self, query: dict, base_url: str) -> Reply:
        term = query.get("search", [""])[0].lower()
        limit = min(int(query.get("limit", [self.page_size])[0]), self.page_size)
        cursor = int(query.get("cursor", ["0"])[0])
        matches = sorted(
            (repo_id for repo_id in self.datasets if term in repo_id.lower()),
            key=lambda repo_id: -self.datasets[repo_id]["downloads"],
        )
        full = query.get("full", ["false"])[0] == "true"
        page = [self.api_entry(repo_id, full) for repo_id in matches[cursor: cursor + limit]]
        headers = {}
        if cursor + limit < len(matches):
            following = {key: values[0] for key, values in query.items()}
            following["cursor"] = str(cursor + limit)
            headers["Link"] = f'<{base_url}/api/datasets?{urlencode(following)}>; rel="next"'
        return json_reply(page, headers=headers)

    def resolve(self, repo_id: str, file_path: str, cdn_url: str) -> Reply:
        if repo_id not in self.datasets:
            return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        quirks = self.datasets[repo_id].get("files", {}).get(file_path, {})
        key = f"{repo_id}/{file_path}"
        with self.lock:
            self.served_counts[key] = self.served_counts.get(key, 0) + 1
            served = self.served_counts[key]
        if quirks.get("throttle_once") and served == 1:
            return json_reply({"error": "Too many requests"}, 429,
                              {"Retry-After": str(quirks["throttle_once"])})
        if quirks.get("lfs"):
            location = f"{cdn_url}/cdn/datasets/{repo_id}/main/{quote(file_path)}"
            return Reply(302, b"", {"Location": location}, "text/plain")
        return self.file_body(repo_id, file_path)

    def file_body(self, repo_id: str, file_path: str) -> Reply:
        quirks = self.datasets.get(repo_id, {}).get("files", {}).get(file_path, {})
        not_found = json_reply({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
        if repo_id not in self.datasets or quirks.get("missing"):
            return not_found
        headers = {"X-Repo-Commit": hashlib.sha1(repo_id.encode()).hexdigest()}
        if quirks.get("generated_bytes"):
            size = quirks["generated_bytes"]
            return Reply(200, headers=headers, content_type="text/csv",
                         chunks=_generated_csv_chunks(size), length=size)
        if quirks.get("parquet_from"):
            body = self._parquet(repo_id, quirks["parquet_from"])
            content_type = "application/octet-stream"
        else:
            node = self._repo_dir(repo_id).joinpath(*PurePosixPath(file_path).parts)
            if not node.is_file():
                return not_found
            body = node.read_bytes()
            content_type = "text/plain; charset=utf-8"
        headers["ETag"] = '"' + hashlib.sha1(body).hexdigest() + '"'
        return Reply(200, body, headers, content_type)

    def _parquet(self, repo_id: str, rows_path: str) -> bytes:
        import pyarrow
        import pyarrow.parquet

        rows_file = self._repo_dir(repo_id).joinpath(*PurePosixPath(rows_path).parts)
        table = pyarrow.Table.from_pylist(json.loads(rows_file.read_text("utf-8")))
        buffer = io.BytesIO()
        pyarrow.parquet.write_table(table, buffer)
        return buffer.getvalue()


def split_query(url_path: str) -> tuple[str, dict]:
    parts = urlsplit(url_path)
    return parts.path, parse_qs(parts.query)
