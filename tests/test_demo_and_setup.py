"""What a person sees around a crawl: `python -m demosite --serve` gives every line a crawl by hand
needs, and the set-up says what it is doing."""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

# The settings a crawl by hand must point at the demo site: every endpoint (an environment variable
# whose default in crawler/settings.py is a URL), the hosts a crawl may reach, and the size bound
# that keeps the demo's 8 MB file from being read.
ENDPOINT_VARIABLES = set(re.findall(r'os\.environ\.get\(\s*"(\w+)",\s*"https?://',
                                    (ROOT / "crawler" / "settings.py").read_text("utf-8")))
NEEDED = ENDPOINT_VARIABLES | {"CRAWLER_ALLOWED_HOSTS", "HUB_MAX_FILE_BYTES"}


def served_lines(server: subprocess.Popen) -> list[str]:
    lines = []
    while not lines or not lines[-1].startswith("scrapy crawl "):
        line = server.stdout.readline()
        assert line, f"the server stopped: {lines}"
        lines.append(line.rstrip("\n"))
    return lines


def test_serve_prints_every_export_line_a_crawl_by_hand_needs(tmp_path):
    assert ENDPOINT_VARIABLES >= {"HF_ENDPOINT", "GITHUB_API_URL", "AIENERGYSCORE_SITE_URL",
                                  "AIENERGYSCORE_LEADERBOARD_URL"}
    # The user's shell points at a distributed crawl's Redis, and at nothing of the demo.
    user_env = {name: value for name, value in os.environ.items() if name not in NEEDED}
    user_env["REDIS_URL"] = f"unix://{tmp_path / 'no-redis.sock'}"
    user_env["GITHUB_TOKEN"] = "ghp_the_users_real_token"  # for GitHub, not for the mock
    user_env.pop("HF_TOKEN", None)
    server = subprocess.Popen([sys.executable, "-m", "demosite", "--serve"], cwd=ROOT, env=user_env,
                              stdout=subprocess.PIPE, text=True)
    try:
        lines = served_lines(server)
        exported = dict(re.fullmatch(r"export (\w+)=(\S+)", line).groups()
                        for line in lines if line.startswith("export "))
        assert set(exported) == NEEDED
        assert exported["HUB_MAX_FILE_BYTES"] == str(4 * 1024 * 1024)
        assert "unset REDIS_URL GITHUB_TOKEN" in lines
        # The lines as printed, pasted into a shell, then a crawl by hand of each spider that
        # needs an endpoint of its own.
        pasted = "\n".join(lines[1:-1])
        hand_env = {**user_env, "CRAWLER_OUTPUT_DIR": str(tmp_path / "output"),
                    "CRAWLER_STATS_JSON": str(tmp_path / "stats" / "%(name)s.json"),
                    "CRAWLER_HTTPCACHE_DIR": str(tmp_path / "httpcache")}
        for spider in ("hub_datasets", "ai_energy_score", "github_issues"):
            command = f"{pasted}\nexec {shlex.quote(sys.executable)} -m scrapy crawl {spider} --nolog"
            crawl = subprocess.run(["bash", "-c", command],
                                   cwd=ROOT, env=hand_env, capture_output=True, text=True, timeout=300)
            stats = json.loads((tmp_path / "stats" / f"{spider}.json").read_text())
            assert crawl.returncode == 0 and stats["finish_reason"] == "finished", (spider, crawl.stderr[-2000:])
            assert stats.get("measurement/valid", 0) > 0, spider
        # The 8 MB file (160,018 records if read) is cancelled at the demo's bound and counted.
        datasets = json.loads((tmp_path / "stats" / "hub_datasets.json").read_text())
        assert datasets["extract/error/oversized"] >= 1 and datasets["measurement/valid"] < 1000
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0


def fake_project(tmp_path: Path) -> Path:
    """A copy of scripts/setup.sh in a project whose venv exists and whose python only records
    what it was asked to do: the set-up's own output, without installing anything."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$*" >> {tmp_path / "pip-calls"}\n')
    python.chmod(0o755)
    return tmp_path


def compiling(project: Path) -> list[str]:
    """The calls that byte-compile the project's own modules (read where PYTHONDONTWRITEBYTECODE
    would otherwise have every crawl compile them again) and build the extractors with mypyc
    (the script itself does nothing while its build matches the sources)."""
    return [f"-m compileall -q {project}/crawler {project}/postprocess {project}/demosite",
            f"{project}/scripts/build_native.py"]


def test_setup_in_a_log_prints_a_line_per_stage_and_keeps_pip_quiet(tmp_path):
    project = fake_project(tmp_path)
    completed = subprocess.run(["bash", "-c", f"source {project}/scripts/setup.sh"], capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[:2] == [f"Installing into {project}/.venv (1/2): the latest pip",
                         f"Installing into {project}/.venv (2/2): the project and its dependencies "
                         "(about 80 s on a fresh machine)"]
    assert re.fullmatch(r"Installed in \d+ s", lines[2]) and len(lines) == 3
    assert (project / "pip-calls").read_text().splitlines() == [
        "-m pip install --quiet --upgrade pip", f"-m pip install --quiet -e {project}[test,native]", *compiling(project)]
    # Installed: the next set-up installs nothing, and compiles what changed since.
    again = subprocess.run(["bash", "-c", f"source {project}/scripts/setup.sh"], capture_output=True, text=True,
                           timeout=60)
    assert again.returncode == 0 and again.stdout == ""
    assert (project / "pip-calls").read_text().splitlines()[4:] == compiling(project)


def test_setup_on_a_terminal_shows_pips_own_progress(tmp_path):
    project = fake_project(tmp_path)
    controller, terminal = pty.openpty()
    completed = subprocess.run(["bash", "-c", f"source {project}/scripts/setup.sh"], stdout=terminal,
                               stderr=terminal, timeout=60)
    os.close(terminal)
    assert completed.returncode == 0
    assert (project / "pip-calls").read_text().splitlines() == [
        "-m pip install --progress-bar on --upgrade pip", f"-m pip install --progress-bar on -e {project}[test,native]",
        *compiling(project)]
    os.close(controller)
