"""Resuming a job (``-s JOBDIR=...``) after a hard kill: SIGKILL, an out-of-memory kill, a lost machine.

Scrapy keeps a job's request queue, its seen-request filter (``requests.seen``) and the spider's
state in the job folder, but writes the queue's index and the state only when the crawl stops
cleanly, and ``requests.seen`` through a buffer. After a hard kill the folder holds part of the
seen requests and a queue it cannot read: a run that trusted them would filter out the start
requests and never make the requests the killed run had queued. So, with JOBDIR:

* ``HardKillRecovery`` marks the folder while a crawl runs (``crawl.running``) and clears the mark
  once the crawl has stopped cleanly. A crawl that finds the mark of a killed one discards the
  queue, the seen requests and the spider state, and starts again from the start requests (the
  HTTP cache makes what has not changed cheap to read again).
* ``DurableFileFeedStorage`` hands each record to the operating system as it is exported (no
  buffer for a kill to lose) and names the feed file in the job folder (``feeds.txt``). A feed
  that ends empty is removed.
* ``SkipWrittenRecordsPipeline`` drops a record whose id is in one of those files: what a killed
  run wrote is not written again (``resume/already_written``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy import signals
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.extensions.feedexport import FileFeedStorage
from scrapy.utils.job import job_dir

logger = logging.getLogger(__name__)

RUNNING_MARK = "crawl.running"
FEED_LIST = "feeds.txt"
# What Scrapy keeps in the job folder and reads back when a crawl starts (scheduler, SpiderState).
SCRAPY_JOB_STATE = ("requests.queue", "requests.seen", "spider.state")


class HardKillRecovery:
    """Extension: a crawl that finds the job folder of a killed crawl starts it over, cleanly."""

    def __init__(self, crawler, jobdir: Path):
        self.crawler = crawler
        self.jobdir = jobdir

    @classmethod
    def from_crawler(cls, crawler):
        path = job_dir(crawler.settings)
        if not path:
            raise NotConfigured
        extension = cls(crawler, Path(path))
        # Now, while extensions are built: the scheduler and SpiderState read the folder later,
        # when the spider opens.
        extension.recover()
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def recover(self) -> None:
        mark = self.jobdir / RUNNING_MARK
        if mark.exists():
            for name in SCRAPY_JOB_STATE:
                path = self.jobdir / name
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink(missing_ok=True)
            self.crawler.stats.set_value("resume/after_hard_kill", 1)
            logger.warning(
                "The last crawl in %s was killed before it could save its queue: starting again from "
                "the start requests; the records it wrote are not written again", self.jobdir)
        mark.write_text(f"{os.getpid()}\n", "utf-8")

    def engine_stopped(self) -> None:
        # Sent after the spider has closed: the scheduler has saved its queue, SpiderState the state.
        (self.jobdir / RUNNING_MARK).unlink(missing_ok=True)


class DurableFileFeedStorage(FileFeedStorage):
    """Scrapy's local feed file, unbuffered: each record reaches the operating system as it is
    exported, so a killed crawl loses none it exported. With JOBDIR, a file opened for appending
    is named in the job folder's feeds.txt, for SkipWrittenRecordsPipeline. (A file opened with
    ``-O`` starts empty: what an earlier run wrote there is gone, so it is not named.)"""

    def __init__(self, uri: str, *, feed_options: dict | None = None, jobdir: str | None = None):
        super().__init__(uri, feed_options=feed_options)
        self.jobdir = jobdir

    @classmethod
    def from_crawler(cls, crawler, uri: str, *, feed_options: dict | None = None):
        return cls(uri, feed_options=feed_options, jobdir=job_dir(crawler.settings))

    def open(self, spider):
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A file that stands there already and is appended to (-o) is the user's, whatever it holds.
        self.removable_if_empty = self.write_mode != "ab" or not path.exists()
        if self.jobdir and self.write_mode == "ab":
            with (Path(self.jobdir) / FEED_LIST).open("a", encoding="utf-8") as feeds:
                feeds.write(f"{path.resolve()}\n")
        return path.open(self.write_mode, buffering=0)

    def store(self, file) -> None:
        # Scrapy opens a feed and closes it empty when a crawl exports nothing (FEED_STORE_EMPTY,
        # and `scrapy parse`); a 0-byte .jsonl or .parquet is refused by pyarrow and polars, so
        # it is removed (with -O, the file an earlier run wrote there is gone, as it would be); a
        # file that was there before and was only appended to is left as it stands.
        file.close()
        path = Path(self.path)
        if self.removable_if_empty and path.is_file() and path.stat().st_size == 0:
            path.unlink()


def ids_written(jobdir: Path) -> set[str]:
    """The ids of the records in the feed files the job's runs wrote. A line a kill cut short is
    not a record, and is passed over."""
    listed = jobdir / FEED_LIST
    paths = dict.fromkeys(listed.read_text("utf-8").splitlines()) if listed.exists() else {}
    found = set()
    for path in map(Path, paths):
        if not path.is_file():
            continue
        with path.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("id"), str):
                    found.add(record["id"])
    return found


class SkipWrittenRecordsPipeline:
    """With JOBDIR: drops a record an earlier run of the job already wrote (``resume/already_written``).

    Runs after the stable id is set. The ids are read when the crawl starts, before this run writes
    anything (feed files open once the spider is open)."""

    def __init__(self, stats, written: set[str]):
        self.stats = stats
        self.written = written

    @classmethod
    def from_crawler(cls, crawler):
        path = job_dir(crawler.settings)
        if not path:
            raise NotConfigured
        return cls(crawler.stats, ids_written(Path(path)))

    def process_item(self, item):
        record_id = ItemAdapter(item).get("id")
        if record_id in self.written:
            self.stats.inc_value("resume/already_written")
            raise DropItem(f"already written by an earlier run of this job: {record_id}", log_level="DEBUG")
        return item
