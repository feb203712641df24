"""``scrapy crawl``, exiting non-zero when the crawl closed for a reason in CRAWL_FAILURE_REASONS.

Scrapy's own command exits 1 only when the crawl could not start: a crawl that closed because its
source was down (``source_unavailable``) would exit 0, and a scheduler could not tell it from a
good run. This command runs Scrapy's, then reads the finish reason from the crawl's stats.
"""

from __future__ import annotations

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

# What `scrapy crawl` exits with when the crawl closed for a failure reason; 1 stays Scrapy's
# "could not start".
FAILED_CRAWL_EXIT_CODE = 3


class Command(ScrapyCrawlCommand):
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
            print(f"scrapy crawl: the crawl stopped early ({reason}); see the log for why",
                  file=sys.stderr)
            self.exitcode = FAILED_CRAWL_EXIT_CODE
