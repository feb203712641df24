"""Faults the tests switch on in the mock site: an outage, and broken answers to chosen requests.

None is on by default, so the demo site answers as the real sources do. A test sets them on
``MockSite.faults`` while the site serves; the server asks ``take`` before answering each request.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

# Broken answers a request can be given (see MockSite's handler for what each sends):
#   html_page      200 with an HTML error page, as a proxy in front of an API sends one
#   empty_body     200 with no body
#   broken_gzip    the answer gzipped with its compressed data garbled, as Content-Encoding: gzip
#   short_body     the answer with a Content-Length 1,000 bytes longer than what is sent
#   redirect_loop  302 to the same URL plus "loop_hop=1", which redirects back to the URL
BROKEN_ANSWERS = ("html_page", "empty_body", "broken_gzip", "short_body", "redirect_loop")
# What every request gets during an outage: a 503, or a connection closed without an answer.
OUTAGE_ANSWERS = ("unavailable", "dropped")

HOP_PARAMETER = "loop_hop=1"


@dataclass
class PlannedFault:
    answer: str
    path_fragment: str
    times: int | None  # None: every matching request, for as long as the site serves


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.outage_seconds = 0.0
        self.outage_until: float | None = None  # set by the first request the outage meets
        self.outage_answer = "unavailable"
        self.planned: list[PlannedFault] = []

    def outage(self, seconds: float, answer: str = "unavailable") -> None:
        """Every request fails for ``seconds`` from the next one the site gets (so however long a
        crawl takes to start, it meets the whole outage); ``float("inf")``: until the site stops."""
        if answer not in OUTAGE_ANSWERS:
            raise ValueError(f"outage answer {answer!r} is not one of {OUTAGE_ANSWERS}")
        with self.lock:
            self.outage_seconds, self.outage_until, self.outage_answer = seconds, None, answer

    def add(self, answer: str, path_fragment: str, times: int | None = 1) -> None:
        """The next ``times`` requests whose path and query hold ``path_fragment`` get ``answer``."""
        if answer not in BROKEN_ANSWERS:
            raise ValueError(f"broken answer {answer!r} is not one of {BROKEN_ANSWERS}")
        with self.lock:
            self.planned.append(PlannedFault(answer, path_fragment, times))

    def take(self, path: str) -> str | None:
        """The fault this request gets, if any; a planned fault is used up by the request."""
        with self.lock:
            if self.outage_seconds and self.outage_until is None:
                self.outage_until = time.monotonic() + self.outage_seconds
            if self.outage_until is not None and time.monotonic() < self.outage_until:
                return self.outage_answer
            for fault in self.planned:
                if fault.path_fragment in path and fault.times != 0:
                    if fault.times is not None:
                        fault.times -= 1
                    return fault.answer
        return None
