"""The mock of MLCommons' MLPerf Inference results repositories: the organisation's repository
listing, the contents API, per-folder git trees (GitHub API host) and raw files (a host of its own).

The repositories are the folders under ``fixtures/mlperf/`` (the real layout, files written by
hand), plus, for the benchmark, a generated round of many systems (``generated_systems``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from importlib import resources
from pathlib import PurePosixPath
from urllib.parse import unquote, urlencode

from .hub import Reply

FIXTURES = resources.files(__package__).joinpath("fixtures/mlperf")
ORGANISATION = "mlcommons"
BRANCH = "main"
# Repositories of the organisation that are not result rounds, or rounds before v2.1 (listed, never read).
OTHER_REPOS = ("inference", "inference_results_v2.0", "training_results_v3.0")
GENERATED_ROUND = "inference_results_v9.9"
GENERATED_BENCHMARKS = ("resnet50", "retinanet", "bert-99", "3d-unet-99", "gptj-99", "llama2-70b-99")
GENERATED_SCENARIOS = ("Offline", "Server")
# One generated system in this many has power results (the others were submitted without).
GENERATED_POWER_EVERY = 4


def _sha(kind: str, repo: str, path: str) -> str:
    return hashlib.sha1(f"{kind}:{repo}:{path}".encode()).hexdigest()


def _generated_files(systems: int) -> dict[str, bytes]:
    """A round of ``systems`` systems x 6 benchmarks x 2 scenarios; one in GENERATED_POWER_EVERY with power.

    Every result shares the same few file bodies: the files are many, their contents few."""
    start = datetime(2030, 1, 1, 12, 0, 0)
    moment = "%m-%d-%Y %H:%M:%S.%f"
    watts = [700.0] * 10 + [2400.0 + (i % 7) * 10 for i in range(40)] + [700.0] * 10
    spl = "".join(f"Time,{(start + timedelta(seconds=i)).strftime(moment)[:-3]},Watts,{w:.1f},Volts,230.0,"
                  f"Amps,{w / 230:.3f},PF,0.99,Mark,generated\n" for i, w in enumerate(watts)).encode()

    def detail(scenario: str) -> bytes:
        lines = [{"key": "effective_scenario", "value": scenario},
                 {"key": "power_begin", "value": (start + timedelta(seconds=9.5)).strftime(moment)[:-3]},
                 {"key": "power_end", "value": (start + timedelta(seconds=49.5)).strftime(moment)[:-3]},
                 {"key": "result_query_count", "value": 240000}]
        return "".join(f":::MLLOG {json.dumps({**line, 'time_ms': 1.0, 'namespace': 'mlperf::logging'})}\n"
                       for line in lines).encode()

    bodies = {scenario: (f"MLPerf Results Summary\nScenario : {scenario}\nMode     : PerformanceOnly\n"
                         f"Samples per second: 6000\nResult is : VALID\n").encode() for scenario in GENERATED_SCENARIOS}
    details = {scenario: detail(scenario) for scenario in GENERATED_SCENARIOS}
    files: dict[str, bytes] = {}
    for number in range(systems):
        system = f"gen-system-{number:04d}"
        with_power = number % GENERATED_POWER_EVERY == 0
        files[f"closed/Generated/systems/{system}.json"] = json.dumps(
            {"system_name": system, "accelerator_model_name": "NVIDIA H100-SXM-80GB",
             "accelerators_per_node": "8", "number_of_nodes": 1}).encode()
        for benchmark in GENERATED_BENCHMARKS:
            for scenario in GENERATED_SCENARIOS:
                base = f"closed/Generated/results/{system}/{benchmark}/{scenario}"
                files[f"{base}/accuracy/accuracy.txt"] = b"ok\n"
                files[f"{base}/performance/run_1/mlperf_log_summary.txt"] = bodies[scenario]
                files[f"{base}/performance/run_1/mlperf_log_detail.txt"] = details[scenario]
                if with_power:
                    files[f"{base}/performance/run_1/spl.txt"] = spl
                    files[f"{base}/performance/power/server.json"] = b"{}\n"
    return files


class MockResultsRepos:
    def __init__(self, generated_systems: int = 0, page_size: int = 3):
        self.page_size = page_size  # of the organisation's repository listing (Link pagination)
        # Folders (by name) whose recursive tree GitHub cuts short: half the entries, "truncated": true.
        self.truncated_trees: set[str] = set()
        self.repos: dict[str, dict[str, bytes]] = {}
        for folder in FIXTURES.iterdir():
            files: dict[str, bytes] = {}
            stack = [(folder, "")]
            while stack:
                node, prefix = stack.pop()
                for child in node.iterdir():
                    path = f"{prefix}{child.name}"
                    if child.is_dir():
                        stack.append((child, path + "/"))
                    else:
                        files[path] = child.read_bytes()
            self.repos[folder.name] = files
        if generated_systems:
            self.repos[GENERATED_ROUND] = _generated_files(generated_systems)
        self.folders = {name: self._folders(files) for name, files in self.repos.items()}
        self.trees = {_sha("tree", name, folder): (name, folder)
                      for name, folders in self.folders.items() for folder in folders}

    @staticmethod
    def _folders(files: dict[str, bytes]) -> dict[str, list[str]]:
        """folder path ("" for the root) -> the names of what it holds (folders and files)."""
        folders: dict[str, set[str]] = {"": set()}
        for path in files:
            parts = PurePosixPath(path).parts
            for depth in range(len(parts)):
                parent = "/".join(parts[:depth])
                folders.setdefault(parent, set()).add(parts[depth])
        return {folder: sorted(names) for folder, names in folders.items()}

    # --- GitHub API -----------------------------------------------------------------------------
    def handle_api(self, path: str, query: dict, api_url: str, headers: dict) -> Reply | None:
        parts = path.strip("/").split("/")
        if parts[:1] == ["orgs"] and len(parts) == 3 and parts[2] == "repos":
            return self.repositories(parts[1], query, api_url, headers)
        if len(parts) >= 4 and parts[0] == "repos" and parts[1] == ORGANISATION and parts[2] in self.repos:
            repo = parts[2]
            if parts[3] == "contents":
                return self.contents(repo, unquote("/".join(parts[4:])), api_url, headers)
            if parts[3:5] == ["git", "trees"] and len(parts) == 6:
                return self.tree(repo, parts[5], query, api_url, headers)
        return None

    def repositories(self, organisation: str, query: dict, api_url: str, headers: dict) -> Reply:
        if organisation != ORGANISATION:
            return Reply(404, b'{"message": "Not Found"}', headers)
        names = sorted([*OTHER_REPOS, *self.repos])
        listing = [{"name": name, "full_name": f"{ORGANISATION}/{name}", "private": False,
                    "html_url": f"https://github.com/{ORGANISATION}/{name}", "default_branch": BRANCH,
                    "url": f"{api_url}/repos/{ORGANISATION}/{name}"} for name in names]
        page = int(query.get("page", ["1"])[0])
        chunk = listing[(page - 1) * self.page_size: page * self.page_size]
        if page * self.page_size < len(listing):
            following = {key: values[0] for key, values in query.items()}
            following["page"] = str(page + 1)
            headers = {**headers, "Link": f'<{api_url}/orgs/{organisation}/repos?{urlencode(following)}>; rel="next"'}
        return Reply(200, json.dumps(chunk).encode(), headers)

    def _entry(self, repo: str, path: str, api_url: str) -> dict:
        files = self.repos[repo]
        is_file = path in files
        return {"name": path.rsplit("/", 1)[-1], "path": path,
                "sha": _sha("blob" if is_file else "tree", repo, path),
                "size": len(files[path]) if is_file else 0, "type": "file" if is_file else "dir",
                "url": f"{api_url}/repos/{ORGANISATION}/{repo}/contents/{path}?ref={BRANCH}",
                "html_url": f"https://github.com/{ORGANISATION}/{repo}/{'blob' if is_file else 'tree'}/{BRANCH}/{path}",
                "download_url": (f"https://raw.githubusercontent.com/{ORGANISATION}/{repo}/{BRANCH}/{path}"
                                 if is_file else None)}

    def contents(self, repo: str, path: str, api_url: str, headers: dict) -> Reply:
        path = path.strip("/")
        names = self.folders[repo].get(path)
        if names is None:
            return Reply(404, b'{"message": "Not Found"}', headers)
        listing = [self._entry(repo, f"{path}/{name}" if path else name, api_url) for name in names]
        return Reply(200, json.dumps(listing).encode(), headers)

    def tree(self, repo: str, sha: str, query: dict, api_url: str, headers: dict) -> Reply:
        found = self.trees.get(sha)
        if found is None or found[0] != repo:
            return Reply(404, b'{"message": "Not Found"}', headers)
        folder = found[1]
        recursive = query.get("recursive", ["0"])[0] not in ("0", "false", "")
        entries, pending = [], [folder]
        while pending:
            current = pending.pop(0)
            for name in self.folders[repo][current]:
                path = f"{current}/{name}" if current else name
                relative = path[len(folder) + 1:] if folder else path
                if path in self.repos[repo]:
                    entries.append({"path": relative, "mode": "100644", "type": "blob",
                                    "sha": _sha("blob", repo, path), "size": len(self.repos[repo][path])})
                else:
                    entries.append({"path": relative, "mode": "040000", "type": "tree", "sha": _sha("tree", repo, path)})
                    if recursive:
                        pending.append(path)
        entries.sort(key=lambda entry: entry["path"])
        truncated = folder.rsplit("/", 1)[-1] in self.truncated_trees
        body = {"sha": sha, "url": f"{api_url}/repos/{ORGANISATION}/{repo}/git/trees/{sha}",
                "tree": entries[:len(entries) // 2] if truncated else entries, "truncated": truncated}
        return Reply(200, json.dumps(body).encode(), headers)

    # --- raw host --------------------------------------------------------------------------------
    def handle_raw(self, path: str) -> Reply:
        parts = unquote(path).strip("/").split("/", 3)
        if len(parts) == 4 and parts[0] == ORGANISATION and parts[2] == BRANCH:
            body = self.repos.get(parts[1], {}).get(parts[3])
            if body is not None:
                return Reply(200, body, content_type="text/plain; charset=utf-8")
        return Reply(404, b"404: Not Found", content_type="text/plain; charset=utf-8")
