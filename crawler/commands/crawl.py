"""``scrapy crawl``, with errors a person can act on and an exit code a scheduler can read.

* Before the crawl starts, and before Scrapy logs anything, the spider's arguments are checked (the
  spider's own constructor is run once on them) and, with ``REDIS_URL`` set, Redis is asked to
  answer. A bad ``-a`` value, an unknown spider or an unreachable Redis ends with one line on
  stderr and exit code 2, as Scrapy's own usage errors do, instead of a traceback.
* Scrapy's own command exits 1 only when the crawl could not start: a crawl that closed because its
  source was down (``source_unavailable``), because no server answered at all
  (``network_unreachable``) or for another reason in ``CRAWL_FAILURE_REASONS`` would exit 0, and a
  scheduler could not tell it from a good run. This command runs Scrapy's, then reads the finish
  reason from the crawl's stats and exits 3 with one line saying why.
"""

from __future__ import annotations

import functools
import inspect
import sys
from pathlib import Path

# Imported here, with the command, for the crawl's downloader: its module's deprecated aliases
# call inspect.stack() as they load, only to name their caller's module, and inspect.stack() reads
# the source of every file on the stack for its context lines. Imported by the downloader, 40
# frames deep once the crawl's modules are loaded, that took ~0.3 s CPU of each crawl's start;
# here, ~0.1 s; with the stack read without context lines (the same frames), a few milliseconds.
_stack_with_source = inspect.stack
inspect.stack = functools.partial(_stack_with_source, context=0)
try:
    import scrapy.core.downloader.contextfactory  # noqa: F401
finally:
    inspect.stack = _stack_with_source
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.spiderloader import get_spider_loader

from crawler.distributed import RedisUnreachable, is_distributed, shared_redis

# What `scrapy crawl` exits with when the crawl closed for a failure reason; 1 stays Scrapy's
# "could not start", 2 its usage errors.
FAILED_CRAWL_EXIT_CODE = 3
USAGE_ERROR_EXIT_CODE = 2

# The last line of a failed crawl, where the finish reason alone does not say enough.
FAILURE_MESSAGES = {
    "network_unreachable": "network unreachable: no request got an answer from any server (refused, "
                           "no DNS, timed out); check the connection and the endpoint settings",
}


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts):
        try:
            super().process_options(args, opts)  # -a, -s and -o/-O values that cannot be parsed
            self.check_before_crawling(args, opts.spargs)
        except (UsageError, RedisUnreachable) as exc:
            if not str(exc):  # a UsageError that asks for the help text
                raise
            # One line, argparse's format without the usage text: nothing has been logged yet, so
            # it is the only line on stderr.
            print(f"scrapy crawl: error: {exc}", file=sys.stderr)
            sys.exit(USAGE_ERROR_EXIT_CODE)

    def check_before_crawling(self, args: list[str], spider_arguments: dict) -> None:
        loader = get_spider_loader(self.settings)
        known = f"(known: {', '.join(sorted(loader.list()))})"
        if len(args) != 1:
            raise UsageError(f"name one spider to run {known}")
        try:
            spidercls = loader.load(args[0])
        except KeyError:
            raise UsageError(f"no spider named {args[0]!r} {known}") from None
        # The constructor checks the -a arguments (crawler/spiders/arguments.py); Scrapy builds the
        # spider again for the crawl, the same way.
        spidercls(**spider_arguments)
        for uri, options in self.settings.getdict("FEEDS").items():
            path = Path(str(uri).removeprefix("file://"))
            if options.get("format") == "parquet" and not options.get("overwrite") and "://" not in str(path) \
                    and path.is_file() and path.stat().st_size > 0:
                raise UsageError(f"{path} holds data and a Parquet file cannot be appended to: use -O to replace it")
        if is_distributed(self.settings):
            shared_redis(self.settings).close()

    def _create_crawler(self, spidercls):
        # Where Scrapy's command (2.19) makes the one crawler it runs: kept for its stats.
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def run(self, args, opts):
        super().run(args, opts)
        if self.exitcode:  # the crawl could not start
            return
        reason = self.crawler.stats.get_value("finish_reason")
        if reason in self.crawler.settings.getlist("CRAWL_FAILURE_REASONS"):
            message = FAILURE_MESSAGES.get(reason, f"the crawl stopped early ({reason}); see the log for why")
            print(f"scrapy crawl: {message}", file=sys.stderr)
            self.exitcode = FAILED_CRAWL_EXIT_CODE
