"""An HTTP server on 127.0.0.1 that serves the mock sources and logs every request it gets.

The CDN host for LFS redirects is the same server reached as ``localhost``: a different host name,
so tests can check that a token sent to the Hub host never follows a redirect elsewhere. The GitHub
API answers on 127.0.0.2 and GitHub's raw file host on 127.0.0.3, for the same reason.
"""

from __future__ import annotations

import gzip
import hashlib
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from importlib import resources

from .faults import HOP_PARAMETER, Faults
from .github import MockGitHub
from .hub import MockHub, Reply, split_query

FIXTURES = resources.files(__package__).joinpath("fixtures")
# Plain web pages of the sources: the AI Energy Score methodology site and the leaderboard app.
PAGES = {"/aienergyscore/": "aienergyscore_methodology.html",
         "/leaderboard-app/": "leaderboard_app.html"}


@dataclass(frozen=True)
class LoggedRequest:
    host: str
    path: str
    authorization: str | None
    status: int


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's listen backlog is 5: a client opening 32 connections at once (a crawler at
    # full concurrency) saw the rest dropped and retried a second later. The kernel caps it anyway.
    request_queue_size = socket.SOMAXCONN

    def handle_error(self, request, client_address):
        """A client that hangs up (the crawler cancelling an oversized download) is not an error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)


class MockSite:
    """Start with ``start()``; ``hub_url`` is the HF_ENDPOINT to crawl; ``stop()`` when done."""

    def __init__(self, port: int = 0, latency: float = 0.0, page_size: int | None = None,
                 generated_models: int = 0, generated_mlperf_systems: int = 0):
        self.latency = latency  # seconds added to every response, to make a crawl take time
        self.hub = MockHub(page_size=page_size, generated_models=generated_models)
        self.github = MockGitHub(generated_mlperf_systems=generated_mlperf_systems)
        self.requests: list[LoggedRequest] = []
        self.faults = Faults()
        self._server = _QuietServer(("127.0.0.1", port), self._handler_class())
        # The GitHub API answers on a host of its own, so tests can tell where each token went.
        self._github_server = _QuietServer(("127.0.0.2", 0), self._handler_class())
        self._github_raw_server = _QuietServer(("127.0.0.3", 0), self._handler_class())
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def cdn_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def github_url(self) -> str:
        return f"http://127.0.0.2:{self._github_server.server_address[1]}"

    @property
    def github_raw_url(self) -> str:
        return f"http://127.0.0.3:{self._github_raw_server.server_address[1]}"

    @property
    def methodology_url(self) -> str:
        return f"{self.hub_url}/aienergyscore/"

    @property
    def leaderboard_app_url(self) -> str:
        return f"{self.hub_url}/leaderboard-app/"

    @property
    def hosts(self) -> tuple[str, ...]:
        return ("127.0.0.1", "localhost", "127.0.0.2", "127.0.0.3")

    @property
    def _servers(self) -> tuple[_QuietServer, ...]:
        return (self._server, self._github_server, self._github_raw_server)

    def start(self) -> "MockSite":
        for server in self._servers:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def route(self, raw_path: str, authorization: str | None, host: str) -> Reply:
        path, query = split_query(raw_path)
        if host == "127.0.0.2":
            return self.github.handle(path, query, self.github_url) or Reply(404, b'{"message": "Not Found"}')
        if host == "127.0.0.3":
            return self.github.results_repos.handle_raw(path)
        if path == "/robots.txt":
            return Reply(200, b"User-agent: *\nDisallow:\n", content_type="text/plain")
        page = PAGES.get(path)
        if page is not None:
            return Reply(200, FIXTURES.joinpath("pages", page).read_bytes(),
                         content_type="text/html; charset=utf-8")
        reply = self.hub.handle(path, query, self.hub_url, self.cdn_url, authorization)
        return reply or Reply(404, b'{"error": "Not found"}')

    def faulty_reply(self, fault: str | None, raw_path: str) -> Reply | None:
        """The answer a fault gives instead of the real one (None: the real one, maybe mangled later)."""
        if fault == "unavailable":
            return Reply(503, b'{"error": "Service Unavailable"}')
        if fault == "html_page":
            return Reply(200, b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>",
                         content_type="text/html")
        if fault == "empty_body":
            return Reply(200, b"")
        if fault == "redirect_loop":
            hop = ("&" if "?" in raw_path else "?") + HOP_PARAMETER
            location = raw_path.replace(hop, "") if hop in raw_path else raw_path + hop
            return Reply(302, b"", {"Location": f"{self.hub_url}{location}"}, "text/plain")
        return None

    def _handler_class(self):
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes: with Nagle's algorithm the body waits for the
            # client's delayed ACK of the headers (40 ms on Linux) on every kept-alive connection.
            disable_nagle_algorithm = True

            def do_HEAD(self):  # noqa: N802 (http.server's naming); huggingface_hub asks HEAD first
                self.do_GET(send_body=False)

            def do_GET(self, send_body=True):  # noqa: N802 (http.server's naming)
                host = (self.headers.get("Host") or "").split(":")[0]
                if site.latency:
                    time.sleep(site.latency)
                fault = site.faults.take(self.path)
                if fault == "dropped":
                    site.requests.append(LoggedRequest(host, self.path, self.headers.get("Authorization"), 0))
                    self.close_connection = True
                    return
                reply = site.faulty_reply(fault, self.path) or site.route(
                    self.path, authorization=self.headers.get("Authorization"), host=host)
                headers = dict(reply.headers or {})
                status, body = reply.status, reply.body
                if status == 200 and reply.chunks is None:
                    # Conditional requests, as the Hub and GitHub answer them: an unchanged
                    # resource is a 304 without a body.
                    headers.setdefault("ETag", '"' + hashlib.sha1(body).hexdigest() + '"')
                    if self.headers.get("If-None-Match") == headers["ETag"]:
                        status, body = 304, b""
                length = reply.length if reply.chunks is not None else len(body)
                if fault == "broken_gzip":
                    compressed = gzip.compress(body)
                    body = compressed[:10] + bytes(byte ^ 0xFF for byte in compressed[10:])  # header, then garble
                    length = len(body)
                    headers["Content-Encoding"] = "gzip"
                elif fault == "short_body":
                    length += 1000
                    self.close_connection = True  # the rest never comes: the client sees the connection end
                site.requests.append(LoggedRequest(
                    host=host,
                    path=self.path,
                    authorization=self.headers.get("Authorization"),
                    status=status,
                ))
                self.send_response(status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(length))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if not send_body:
                    return
                try:
                    if reply.chunks is not None:
                        for chunk in reply.chunks:
                            self.wfile.write(chunk)
                    else:
                        self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def do_POST(self):  # noqa: N802 (http.server's naming): the Hub's upload API
                host = (self.headers.get("Host") or "").split(":")[0]
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path, _ = split_query(self.path)
                reply = (site.hub.handle_post(path, body, site.hub_url, bool(self.headers.get("Authorization")))
                         if host != "127.0.0.2" else None) or Reply(404, b'{"error": "Not found"}')
                site.requests.append(LoggedRequest(host, self.path, self.headers.get("Authorization"), reply.status))
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                for name, value in (reply.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
                pass

        return Handler
