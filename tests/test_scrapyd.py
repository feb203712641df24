"""The Scrapyd path for real: build the egg, start a local scrapyd, deploy, schedule, read the JSONL."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from demosite.server import MockSite
from tests.conftest import ROOT, assert_valid_record


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, fields=None, files=None) -> dict:
    if files:
        boundary = "----crawler-test-boundary"
        body = b""
        for name, value in fields.items():
            body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
        for name, (filename, content) in files.items():
            body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"
        body += f"--{boundary}--\r\n".encode()
        request = urllib.request.Request(url, body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    elif fields is not None:
        request = urllib.request.Request(url, urllib.parse.urlencode(fields, doseq=True).encode())
    else:
        request = urllib.request.Request(url)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path):
    port = free_port()
    run = tmp_path / "scrapyd"
    run.mkdir()
    (run / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {run}/eggs\n"
        f"logs_dir = {run}/logs\nitems_dir =\ndbs_dir = {run}/dbs\nmax_proc = 1\npoll_interval = 0.5\n")
    process = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=run, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            call(f"{url}/daemonstatus.json")
            break
        except OSError:
            time.sleep(0.2)
    yield url, run
    process.terminate()
    process.wait(timeout=30)


def test_deploy_and_schedule_through_scrapyd(tmp_path, scrapyd):
    url, run = scrapyd
    source = tmp_path / "src"
    source.mkdir()
    for name in ("crawler", "postprocess", "demosite"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "scrapy.cfg", "README.md"):
        shutil.copy(ROOT / name, source / name)
    egg = tmp_path / "crawler.egg"
    built = subprocess.run([sys.executable, "-m", "scrapyd_client.deploy", "--build-egg", str(egg)], cwd=source,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    deployed = call(f"{url}/addversion.json", {"project": "crawler", "version": "1"},
                    {"egg": ("crawler.egg", egg.read_bytes())})
    assert deployed["status"] == "ok" and deployed["spiders"] == 5
    with MockSite() as site:
        job = call(f"{url}/schedule.json", [
            ("project", "crawler"), ("spider", "hub_datasets"),
            ("setting", f"HF_ENDPOINT={site.hub_url}"), ("setting", "ALLOWED_HOSTS=127.0.0.1,localhost"),
            ("setting", "HUB_MAX_FILE_BYTES=4000000"), ("setting", "AUTOTHROTTLE_START_DELAY=0.01"),
            ("setting", "HTTPCACHE_ENABLED=False")])
        assert job["status"] == "ok"
        for _ in range(240):
            jobs = call(f"{url}/listjobs.json?project=crawler")
            if any(entry["id"] == job["jobid"] for entry in jobs["finished"]):
                break
            time.sleep(0.5)
        else:
            pytest.fail("the scrapyd job did not finish in 2 minutes")
    feeds = list((run / "output" / "hub_datasets").glob("*.jsonl"))
    records = [json.loads(line) for feed in feeds for line in feed.read_text().splitlines()]
    assert len(records) == 26
    for record in records:
        assert_valid_record(record)
    log = next((run / "logs" / "crawler" / "hub_datasets").glob("*.log")).read_text()
    assert "'finish_reason': 'finished'" in log
