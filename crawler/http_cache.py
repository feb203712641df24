"""Where the HTTP cache keeps responses: one SQLite file per spider, a row per request.

Scrapy's FilesystemCacheStorage writes six files and a folder per response (gzipped: a fifth of the
crawl's main thread went there); a row in a SQLite file in WAL mode costs a fraction of that.
Several crawls may share the file at once (scrapyd jobs, workers of a distributed crawl on one
machine): SQLite locks it for each write, and a writer waits its turn. Responses are kept in memory
and written together, in one short transaction, WRITE_AFTER_S after the first of them is stored;
a crawl reads its own responses from memory until then. A crawl killed outright loses at most that
long's responses (they are fetched again).

What is stored is what FilesystemCacheStorage stores: the response (status, URL, headers, body and
the rest of ``Response.to_dict()``) and the request's URL, method, headers and body, as they stand
at the cache: before HostTokenMiddleware adds a token. With ``HTTPCACHE_GZIP`` the response body is
compressed (zlib at its fastest level: the cache is for crawling less, not for archiving). Headers
and request bodies are stored as they are: a few hundred bytes, which zlib cannot shrink by much
and which cost it ~70 µs each to try (it sets up its window whatever the input's size), a third of
a response's storing.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import zlib
from pathlib import Path
from time import time

from scrapy.utils.asyncio import call_later
from scrapy.utils.project import data_path
from scrapy.utils.python import to_bytes
from scrapy.utils.response import response_from_dict
from w3lib.http import headers_dict_to_raw, headers_raw_to_dict

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    fingerprint TEXT PRIMARY KEY,
    stored_at REAL NOT NULL,
    url TEXT NOT NULL,
    method TEXT NOT NULL,
    request_headers BLOB NOT NULL,
    request_body BLOB NOT NULL,
    status INTEGER NOT NULL,
    response_url TEXT NOT NULL,
    response_headers BLOB NOT NULL,
    response_body BLOB NOT NULL,
    response_data BLOB NOT NULL,
    compressed INTEGER NOT NULL
)
"""
# What the `compressed` column says is zlib-compressed in a row. Earlier versions of this storage
# compressed headers and bodies alike; their rows are still read.
_NOTHING_COMPRESSED, _ALL_COMPRESSED, _RESPONSE_BODY_COMPRESSED = 0, 1, 2
# Response.to_dict() keys kept in columns of their own; the rest (class, flags, protocol...) is pickled.
_COLUMN_KEYS = {"url", "status", "headers", "body"}
# How long a crawl waits for another one's write before it gives up on the cache file.
_BUSY_TIMEOUT_S = 60.0
# How long stored responses wait in memory to be written together. A transaction per response (a
# write to the WAL, its locks) made up a third of the time a crawl spent storing responses: ~0.3 s
# of the 1,000-card benchmark crawl's main thread. Writing them in one transaction holds the file's
# lock for that write alone, so other crawls sharing the file wait no longer than before.
WRITE_AFTER_S = 0.5
_INSERT = "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


class SqliteCacheStorage:
    """An HTTPCACHE_STORAGE: ``<HTTPCACHE_DIR>/<spider>.sqlite``."""

    def __init__(self, settings, call_later=call_later):
        """``call_later(delay, function)``: how the write is scheduled (Scrapy's, on the crawl's
        event loop; a test passes its own clock)."""
        self.cachedir = Path(data_path(settings["HTTPCACHE_DIR"], createdir=True))
        self.expiration_secs = settings.getint("HTTPCACHE_EXPIRATION_SECS")
        self.compress = settings.getbool("HTTPCACHE_GZIP")
        self.db: sqlite3.Connection | None = None
        self._call_later = call_later
        # Rows stored since the last write, by fingerprint; the write scheduled for them.
        self._unwritten: dict[str, tuple] = {}
        self._scheduled_write = None

    def open_spider(self, spider) -> None:
        path = self.cachedir / f"{spider.name}.sqlite"
        # No implicit transactions: write_stored makes one per write.
        self.db = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL syncs at checkpoints, not at every commit: a power cut may lose
        # the last responses stored (they are fetched again), never corrupt the file.
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(_SCHEMA)
        self._fingerprinter = spider.crawler.request_fingerprinter
        logger.debug("Using the SQLite cache storage in %s", path, extra={"spider": spider})

    def close_spider(self, spider) -> None:
        if self.db is not None:
            if self._scheduled_write is not None:
                self._scheduled_write.cancel()
            self.write_stored()
            self.db.close()
            self.db = None

    def write_stored(self) -> None:
        """Write the responses stored since the last write, in one transaction."""
        self._scheduled_write = None
        rows, self._unwritten = list(self._unwritten.values()), {}
        if not rows or self.db is None:
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(_INSERT, rows)
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:  # a full disk, a file locked past the timeout: not cached
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            logger.error("Could not write %d responses to the HTTP cache: %s", len(rows), exc)

    def retrieve_response(self, spider, request):
        """The cached response to ``request``, or None when there is none or it has expired."""
        fingerprint = self._fingerprinter.fingerprint(request).hex()
        unwritten = self._unwritten.get(fingerprint)
        row = (unwritten[1], *unwritten[6:]) if unwritten else self.db.execute(
            "SELECT stored_at, status, response_url, response_headers, response_body, response_data, compressed"
            " FROM responses WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is None:
            return None
        stored_at, status, url, headers, body, extra, compressed = row
        if 0 < self.expiration_secs < time() - stored_at:
            return None
        if compressed == _ALL_COMPRESSED:
            headers = zlib.decompress(headers)
        if compressed in (_ALL_COMPRESSED, _RESPONSE_BODY_COMPRESSED):
            body = zlib.decompress(body)
        data = {**pickle.loads(extra), "url": url, "status": status,  # noqa: S301 (our own file, as Scrapy's)
                "headers": headers_raw_to_dict(headers), "body": body}
        request.meta["cache_timestamp"] = stored_at
        return response_from_dict(data)

    def store_response(self, spider, request, response) -> None:
        extra = {key: value for key, value in response.to_dict().items() if key not in _COLUMN_KEYS}
        fingerprint = self._fingerprinter.fingerprint(request).hex()
        # In the order of the table's columns (_SCHEMA).
        self._unwritten[fingerprint] = (
            fingerprint, time(), request.url, request.method,
            headers_dict_to_raw(request.headers), to_bytes(request.body),
            response.status, response.url, headers_dict_to_raw(response.headers),
            zlib.compress(response.body, 1) if self.compress else response.body,
            pickle.dumps(extra, protocol=4),
            _RESPONSE_BODY_COMPRESSED if self.compress else _NOTHING_COMPRESSED)
        if self._scheduled_write is None:  # the first response since the last write
            self._scheduled_write = self._call_later(WRITE_AFTER_S, self.write_stored)
