"""The mock Hugging Face Hub: model and dataset listings, repo API, resolve URLs, an LFS CDN host, and the
upload API (create a repo, preupload, commit) that huggingface_hub uses."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import PurePosixPath
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import yaml

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


def _generated_chunks(size: int, file_path: str):
    """Exactly ``size`` bytes of a valid-looking CSV or Markdown file, made as it is sent."""
    if file_path.endswith(".md"):
        header = b"---\nlicense: mit\n---\n# A very long card\n"
        block = b"The model draws 250 W on an H100 PCIe in this endless table of notes.\n" * 1000
    else:
        header = b"model,gpu,batch_size,avg_power_w\n"
        block = b"meta-llama/Llama-2-7b-hf,NVIDIA H100 PCIe,1,250.0\n" * 1000
    yield header[:size]
    left = size - len(header)
    while left > 0:
        yield block[:left]
        left -= len(block)


REPO_TYPES = ("datasets", "models", "spaces")
# The token whose owner the mock has granted access to the gated repos marked
# "granted_to_demo_token" (a made-up value: the mock knows no real token).
DEMO_HF_TOKEN = "hf_demo_granted_access"
_REVISION_SHA_RE = re.compile(r"(/(?:resolve|tree|revision|paths-info)/)[0-9a-f]{40}(?=/|$)")
# libyaml's safe loader where PyYAML was built with it: ten times the pure-Python one's speed.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(.*?\n)?---[ \t]*\n", re.DOTALL)


GENERATED_ORG = "bench"


def generated_card(number: int) -> str:
    """The README of generated model number N: carbon metadata and one prose power figure."""
    return (f"---\nlicense: mit\nco2_eq_emissions:\n  emissions: {number + 1}\n  source: CodeCarbon\n---\n"
            f"# Generated model {number}\n\nA model card written for load tests. "
            + "It answers questions about the weather. " * 20
            + f"\n\nDuring inference it draws {100 + number % 200} W on an RTX 4090 at batch size 1.\n")


class MockHub:
    def __init__(self, page_size: int | None = None, generated_models: int = 0):
        catalogue = json.loads(FIXTURES.joinpath("catalogue.json").read_text("utf-8"))
        self.page_size = page_size or catalogue["page_size"]
        self.repos = {kind: {entry["id"]: entry for entry in catalogue[kind]} for kind in REPO_TYPES}
        # Load tests: N more models "bench/model-00000"..., each with a card in generated_card's shape.
        for number in range(generated_models):
            repo_id = f"{GENERATED_ORG}/model-{number:05d}"
            self.repos["models"][repo_id] = {"id": repo_id, "downloads": generated_models - number, "likes": 0,
                                             "tags": [], "generated": number, "files": {"README.md": {}}}
        self.served_counts: dict[str, int] = {}
        # (kind, repo id, path) -> new content, for tests of what a repeated crawl picks up
        self.changed_files: dict[tuple[str, str, str], bytes] = {}
        # repo id -> fields that replace the API's, for tests of entries of unexpected shapes
        self.entry_overrides: dict[str, dict] = {}
        # kind -> repo id -> path -> bytes: repos made and files committed through the upload API
        self.uploads: dict[str, dict[str, dict[str, bytes]]] = {}
        self.lock = threading.Lock()
        self._card_data: dict[str, dict | None] = {}

    # --- repo contents -----------------------------------------------------------------------
    def _repo_dir(self, kind: str, repo_id: str):
        return FIXTURES.joinpath(kind, *repo_id.split("/"))

    def readme_text(self, repo_id: str) -> str | None:
        entry = self.repos["models"].get(repo_id, {})
        if "generated" in entry:
            return generated_card(entry["generated"])
        readme = self._repo_dir("models", repo_id).joinpath("README.md")
        return readme.read_text("utf-8", errors="replace") if readme.is_file() else None

    def card_data(self, repo_id: str) -> dict | None:
        """The README's YAML metadata, as the Hub computes cardData; None when absent or broken.

        Read once per repo (a README never changes while the site serves): a listing page asks for
        it twice per entry, and parsing it at every request made a page take a third of a second."""
        if repo_id not in self._card_data:
            self._card_data[repo_id] = self._parsed_card_data(repo_id)
        return self._card_data[repo_id]

    def _parsed_card_data(self, repo_id: str) -> dict | None:
        text = self.readme_text(repo_id)
        if text is None:
            return None
        match = _FRONT_MATTER_RE.match(text)
        if not match:
            return None
        try:
            data = yaml.load(match.group(1) or "", Loader=_YAML_LOADER)
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    def _disk_files(self, kind: str, repo_id: str) -> list[str]:
        found = []

        def walk(node, prefix):
            for child in node.iterdir():
                path = f"{prefix}{child.name}"
                if child.is_dir():
                    walk(child, path + "/")
                elif not child.name.endswith(HELPER_SUFFIX):
                    found.append(path)

        directory = self._repo_dir(kind, repo_id)
        if directory.is_dir():
            walk(directory, "")
        return found

    def siblings(self, kind: str, repo_id: str) -> list[str]:
        extra = self.repos[kind][repo_id].get("files", {})
        return sorted(set(self._disk_files(kind, repo_id)) | set(extra))

    def tags(self, kind: str, repo_id: str) -> list[str]:
        tags = list(self.repos[kind][repo_id].get("tags", []))
        card_data = self.card_data(repo_id) if kind == "models" else None
        if card_data and "co2_eq_emissions" in card_data:
            tags.append("co2_eq_emissions")  # the Hub tags models that carry carbon metadata
        return tags

    def api_entry(self, kind: str, repo_id: str, full: bool, card_data: bool) -> dict:
        entry = self.repos[kind][repo_id]
        sha = hashlib.sha1(repo_id.encode()).hexdigest()
        item = {
            "_id": sha[:24], "id": repo_id, "author": repo_id.split("/")[0], "sha": sha,
            "lastModified": "2025-06-01T10:00:00.000Z", "createdAt": "2025-01-01T00:00:00.000Z",
            "private": False, "gated": entry.get("gated", False), "disabled": False,
            "downloads": entry["downloads"], "likes": entry.get("likes", 0),
            "tags": self.tags(kind, repo_id),
        }
        if kind == "models":
            item.update({"modelId": repo_id, "pipeline_tag": entry.get("pipeline_tag"),
                         "library_name": entry.get("library_name", "transformers")})
            data = self.card_data(repo_id)
            if card_data and data is not None:
                item["cardData"] = data
        if full:
            item["siblings"] = [{"rfilename": path} for path in self.siblings(kind, repo_id)]
        item.update(self.entry_overrides.get(repo_id, {}))
        return item

    # --- routes ------------------------------------------------------------------------------
    def handle(self, path: str, query: dict, base_url: str, cdn_url: str,
               authorization: str | None) -> Reply | None:
        # A repo has one revision, main, whose sha api_entry gives: huggingface_hub resolves main to
        # it and then asks for that sha by name (the datasets library's reads of a pushed dataset).
        path = _REVISION_SHA_RE.sub(r"\1main", path)
        for kind in REPO_TYPES:
            if path == f"/api/{kind}":
                return self.listing(kind, query, base_url)
            if path.startswith(f"/api/{kind}/") and path.endswith("/revision/main"):
                repo_id = path[len(f"/api/{kind}/"):-len("/revision/main")]
                if repo_id in self.repos[kind]:
                    return json_reply(self.api_entry(kind, repo_id, full=True, card_data=True))
            if path.startswith(f"/api/{kind}/") and "/tree/main" in path:
                repo_id, _, folder = path[len(f"/api/{kind}/"):].partition("/tree/main")
                return self.tree(kind, repo_id, folder.strip("/"), query.get("recursive", ["false"])[0] == "true")
            if path.startswith(f"/api/{kind}/"):
                repo_id = path[len(f"/api/{kind}/"):]
                if repo_id not in self.repos[kind]:
                    return json_reply({"error": "Repository not found"}, 404,
                                      {"X-Error-Code": "RepoNotFound"})
                return json_reply(self.api_entry(kind, repo_id, full=True, card_data=True))
        if path.startswith("/cdn/"):
            kind, rest = path[len("/cdn/"):].split("/", 1)
            repo_id, file_path = rest.split("/main/", 1)
            return self.file_body(kind, repo_id, file_path)
        if "/resolve/main/" in path:
            repo_part, file_path = path.split("/resolve/main/", 1)
            kind = next((k for k in ("datasets", "spaces") if repo_part.startswith(f"/{k}/")), "models")
            repo_id = repo_part[1:] if kind == "models" else repo_part[len(kind) + 2:]
            return self.resolve(kind, repo_id, unquote(file_path), cdn_url, authorization)
        return None

    def tree(self, kind: str, repo_id: str, folder: str, recursive: bool = False) -> Reply:
        """The tree API: the files and folders directly inside ``folder`` (every file below it when
        ``recursive``)."""
        if repo_id not in self.repos.get(kind, {}):
            return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        prefix = f"{folder}/" if folder else ""
        entries, folders = [], set()
        for path in self.siblings(kind, repo_id):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix):]
            if "/" in rest and not recursive:
                folders.add(prefix + rest.split("/", 1)[0])
                continue
            node = self._repo_dir(kind, repo_id).joinpath(*PurePosixPath(path).parts)
            uploaded = self.uploaded(kind, repo_id, path)
            size = len(uploaded) if uploaded is not None else len(node.read_bytes()) if node.is_file() else 0
            entries.append({"type": "file", "oid": hashlib.sha1(path.encode()).hexdigest(),
                            "size": size, "path": path})
        entries += [{"type": "directory", "oid": hashlib.sha1(f.encode()).hexdigest(), "size": 0,
                     "path": f} for f in sorted(folders)]
        if not entries:
            return json_reply({"error": f"{folder} does not exist on main"}, 404,
                              {"X-Error-Code": "EntryNotFound"})
        return json_reply(entries)

    def listing(self, kind: str, query: dict, base_url: str) -> Reply:
        term = query.get("search", [""])[0].lower()
        tag = query.get("filter", [None])[0]
        limit = min(int(query.get("limit", [self.page_size])[0]), self.page_size)
        cursor = int(query.get("cursor", ["0"])[0])
        matches = sorted(
            (repo_id for repo_id in self.repos[kind]
             if term in repo_id.lower() and (tag is None or tag in self.tags(kind, repo_id))),
            key=lambda repo_id: -self.repos[kind][repo_id]["downloads"],
        )
        full = query.get("full", ["false"])[0] == "true"
        card_data = query.get("cardData", ["false"])[0] == "true"
        page = [self.api_entry(kind, repo_id, full, card_data)
                for repo_id in matches[cursor: cursor + limit]]
        headers = {}
        if cursor + limit < len(matches):
            following = {key: values[0] for key, values in query.items()}
            following["cursor"] = str(cursor + limit)
            headers["Link"] = f'<{base_url}/api/{kind}?{urlencode(following)}>; rel="next"'
        return json_reply(page, headers=headers)

    def resolve(self, kind: str, repo_id: str, file_path: str, cdn_url: str,
                authorization: str | None) -> Reply:
        if repo_id not in self.repos[kind]:
            return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        entry = self.repos[kind][repo_id]
        granted = entry.get("granted_to_demo_token") and authorization == f"Bearer {DEMO_HF_TOKEN}"
        if entry.get("gated") and not granted:
            # Gated repos: 401 without a token, 403 with one whose owner has not been granted access.
            status = 403 if authorization else 401
            return json_reply({"error": "Access to this repo is restricted"}, status,
                              {"X-Error-Code": "GatedRepo"})
        quirks = self.repos[kind][repo_id].get("files", {}).get(file_path, {})
        key = f"{kind}/{repo_id}/{file_path}"
        with self.lock:
            self.served_counts[key] = self.served_counts.get(key, 0) + 1
            served = self.served_counts[key]
        if quirks.get("throttle_once") and served == 1:
            return json_reply({"error": "Too many requests"}, 429,
                              {"Retry-After": str(quirks["throttle_once"])})
        if quirks.get("lfs"):
            location = f"{cdn_url}/cdn/{kind}/{repo_id}/main/{quote(file_path)}"
            return Reply(302, b"", {"Location": location}, "text/plain")
        return self.file_body(kind, repo_id, file_path)

    def file_body(self, kind: str, repo_id: str, file_path: str) -> Reply:
        quirks = self.repos[kind].get(repo_id, {}).get("files", {}).get(file_path, {})
        not_found = json_reply({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
        if repo_id not in self.repos[kind] or quirks.get("missing"):
            return not_found
        headers = {"X-Repo-Commit": hashlib.sha1(repo_id.encode()).hexdigest()}
        uploaded = self.uploaded(kind, repo_id, file_path)
        if uploaded is not None:
            return Reply(200, uploaded, {**headers, "ETag": '"' + hashlib.sha1(uploaded).hexdigest() + '"'},
                         "application/octet-stream")
        changed = self.changed_files.get((kind, repo_id, file_path))
        if changed is not None:
            return Reply(200, changed, headers, "text/plain; charset=utf-8")
        if "generated" in self.repos[kind][repo_id] and file_path == "README.md":
            return Reply(200, self.readme_text(repo_id).encode(), headers, "text/plain; charset=utf-8")
        if quirks.get("generated_bytes"):
            size = quirks["generated_bytes"]
            return Reply(200, headers=headers, content_type="text/plain",
                         chunks=_generated_chunks(size, file_path), length=size)
        if quirks.get("binary_bytes"):
            body = bytes(range(256)) * (quirks["binary_bytes"] // 256)
            content_type = "application/octet-stream"
        elif quirks.get("parquet_from"):
            body = self._parquet(kind, repo_id, quirks["parquet_from"])
            content_type = "application/octet-stream"
        else:
            node = self._repo_dir(kind, repo_id).joinpath(*PurePosixPath(file_path).parts)
            if not node.is_file():
                return not_found
            body = node.read_bytes()
            content_type = "text/plain; charset=utf-8"
        headers["ETag"] = '"' + hashlib.sha1(body).hexdigest() + '"'
        return Reply(200, body, headers, content_type)

    # --- uploads: what huggingface_hub's create_repo and create_commit (upload_folder) send -----
    def handle_post(self, path: str, body: bytes, base_url: str, authorized: bool) -> Reply | None:
        """POST routes: repo creation, card YAML validation, preupload, commit. Every one needs a token."""
        if not authorized:
            return json_reply({"error": "Invalid credentials in Authorization header"}, 401)
        if path == "/api/validate-yaml":
            return json_reply({"errors": [], "warnings": []})
        if path == "/api/repos/create":
            return self.create_repo(json.loads(body), base_url)
        match = re.fullmatch(r"/api/(datasets|models|spaces)/([^/]+/[^/]+)/(preupload|commit)/main", path)
        if match is None:
            return None
        kind, repo_id, action = match.groups()
        if repo_id not in self.uploads.get(kind, {}):
            return json_reply({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        if action == "preupload":
            # Every file as a regular git blob: no LFS or Xet transfer for the mock to implement.
            files = json.loads(body)["files"]
            return json_reply({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                         for f in files]})
        return self.commit(kind, repo_id, body, base_url)

    def create_repo(self, payload: dict, base_url: str) -> Reply:
        kind = f"{payload.get('type') or 'model'}s"
        repo_id = f"{payload['organization']}/{payload['name']}" if payload.get("organization") else payload["name"]
        with self.lock:
            if repo_id in self.repos[kind]:
                return json_reply({"error": "You already created this repo"}, 409)
            self.repos[kind][repo_id] = {"id": repo_id, "downloads": 0, "files": {}}
            self.uploads.setdefault(kind, {})[repo_id] = {}
        prefix = "" if kind == "models" else f"/{kind}"
        return json_reply({"url": f"{base_url}{prefix}/{repo_id}", "name": repo_id})

    def commit(self, kind: str, repo_id: str, body: bytes, base_url: str) -> Reply:
        """The NDJSON commit: a header line, then one line per file added (base64) or deleted."""
        files = self.uploads[kind][repo_id]
        with self.lock:
            for line in body.splitlines():
                operation = json.loads(line)
                key, value = operation["key"], operation["value"]
                if key == "file":
                    content = value["content"]
                    files[value["path"]] = (base64.b64decode(content) if value.get("encoding") == "base64"
                                            else content.encode())
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key != "header":
                    return json_reply({"error": f"{key} operations are not supported by the mock Hub"}, 400)
            self.repos[kind][repo_id]["files"] = {path: {} for path in files}
        oid = hashlib.sha1(repr(sorted(files.items())).encode()).hexdigest()
        prefix = "" if kind == "models" else f"/{kind}"
        return json_reply({"commitUrl": f"{base_url}{prefix}/{repo_id}/commit/{oid}", "commitOid": oid,
                           "pullRequestUrl": None})

    def uploaded(self, kind: str, repo_id: str, file_path: str) -> bytes | None:
        return self.uploads.get(kind, {}).get(repo_id, {}).get(file_path)

    def _parquet(self, kind: str, repo_id: str, rows_path: str) -> bytes:
        import pyarrow
        import pyarrow.parquet

        rows_file = self._repo_dir(kind, repo_id).joinpath(*PurePosixPath(rows_path).parts)
        table = pyarrow.Table.from_pylist(json.loads(rows_file.read_text("utf-8")))
        buffer = io.BytesIO()
        pyarrow.parquet.write_table(table, buffer)
        return buffer.getvalue()


def split_query(url_path: str) -> tuple[str, dict]:
    parts = urlsplit(url_path)
    return parts.path, parse_qs(parts.query)
