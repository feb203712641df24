"""Scrapy settings: polite defaults, endpoints, pipeline order.

Every network base URL is a setting with an environment override, so the same spider runs against
the real site or a local mock. Tokens are NOT settings (Scrapy logs overridden settings at start):
middlewares read HF_TOKEN / GITHUB_TOKEN from the environment.
"""

import os

from scrapy.settings import default_settings as scrapy_defaults

BOT_NAME = "crawler"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# --- Endpoints (DESIGN.md) --------------------------------------------------------------------
HF_ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
GITHUB_API_URL = os.environ.get("GITHUB_API_URL", "https://api.github.com")
# Raw file contents of GitHub repositories (mlperf_power's result files): no size limit, unlike the
# contents API's 1 MB. GITHUB_TOKEN is never sent here (it goes to GITHUB_API_URL's host only).
GITHUB_RAW_URL = os.environ.get("GITHUB_RAW_URL", "https://raw.githubusercontent.com")
AIENERGYSCORE_SITE_URL = os.environ.get(
    "AIENERGYSCORE_SITE_URL", "https://huggingface.github.io/AIEnergyScore/"
)
# The leaderboard Space (task files under data/energy/) and its app, whose table is built by
# JavaScript (read through scrapy-playwright only with -a render=1 or when the files can't be listed).
AIENERGYSCORE_SPACE = os.environ.get("AIENERGYSCORE_SPACE", "AIEnergyScore/Leaderboard")
AIENERGYSCORE_LEADERBOARD_URL = os.environ.get(
    "AIENERGYSCORE_LEADERBOARD_URL", "https://aienergyscore-leaderboard.hf.space/"
)

# Hosts a crawl may reach, comma-separated; empty means any. Tests and the offline demo set it to
# the loopback mock so an accidental live request fails loudly instead of leaving the machine.
ALLOWED_HOSTS = [h for h in os.environ.get("CRAWLER_ALLOWED_HOSTS", "").split(",") if h]

# --- Politeness ---------------------------------------------------------------------------------
USER_AGENT = "gpu-power-crawler/0.1 (+https://github.com/gpu-power-crawler; research crawler)"
ROBOTSTXT_OBEY = True  # API and file requests opt out per request: robots.txt governs HTML pages
# Up to 8 requests in flight per host: what huggingface_hub's own snapshot_download uses (8
# workers). AutoThrottle spaces requests by the host's latency: it sends one every latency / target
# seconds, and a slow answer raises that delay at once (it comes down by halves); 429s are waited
# out (Retry-After). github_issues asks the GitHub API one request at a time, as GitHub's REST
# guidelines ask.
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 8
AUTOTHROTTLE_ENABLED = True
# No start delay: the first 8 requests go at once, as snapshot_download's 8 workers do (a start
# delay of 1 s took some 2 s to come down to a healthy host's pace).
AUTOTHROTTLE_START_DELAY = 0.0
AUTOTHROTTLE_MAX_DELAY = 60.0
# Twice the 8 in flight: a healthy host gets its 8 requests in flight, held by the concurrency bound.
# With a target of 8 the delay, which follows the slowest recent answers, stood in for the bound
# and held a 50 ms host at about half of what 8 in flight allow. A host that slows down still gets
# fewer requests a second (8 in flight take longer each) and longer delays after slow answers.
AUTOTHROTTLE_TARGET_CONCURRENCY = 16.0

# --- Retries: 429, 5xx, network errors and broken answers, with Retry-After honoured, else -------
# exponential backoff (crawler.middlewares.RetryAfterMiddleware). 8 retries waiting 2, 4, 8, 16,
# 32, 60, 60 and 60 s try a request for about four minutes: a source down for longer than that
# stops the crawl (finish reason source_unavailable, a non-zero exit).
RETRY_ENABLED = True
RETRY_TIMES = 8
RETRY_HTTP_CODES = [429, 500, 502, 503, 504, 522, 524, 408]
RETRY_BACKOFF_BASE = 2.0  # seconds before the first retry; doubles each time
RETRY_BACKOFF_MAX = 60.0
RETRY_AFTER_MAX = 300.0  # a Retry-After longer than this gives up instead of stalling the crawl
# Finish reasons after which `scrapy crawl` exits 3 (crawler/commands/crawl.py): the crawl stopped
# before reading its source (down, every request failed at the network level, a refused live
# request, GitHub's rate limit spent). `python -m crawler.schedule` fails these runs too.
CRAWL_FAILURE_REASONS = ["source_unavailable", "network_unreachable", "live_request_blocked",
                         "github_rate_limited"]
COMMANDS_MODULE = "crawler.commands"

# --- Sizes: a huge file is cancelled and counted, never loaded ---------------------------------
DOWNLOAD_MAXSIZE = 200 * 1024 * 1024
DOWNLOAD_WARNSIZE = 50 * 1024 * 1024
HUB_MAX_FILE_BYTES = int(os.environ.get("HUB_MAX_FILE_BYTES", 100 * 1024 * 1024))
# Model cards are text; a README past this is not a card worth reading (counted as oversized).
HUB_MAX_CARD_BYTES = int(os.environ.get("HUB_MAX_CARD_BYTES", 2 * 1024 * 1024))
DOWNLOAD_TIMEOUT = 120

# --- Incremental crawls: an HTTP cache with the RFC 2616 policy ----------------------------------
# A repeated crawl revalidates what it fetched before (If-None-Match / If-Modified-Since): unchanged
# API pages and files come back as 304 and are read from the cache. GitHub does not count 304s
# against the rate limit. Stored under .scrapy/httpcache; tokens are never stored (see
# HostTokenMiddleware).
HTTPCACHE_ENABLED = True
# RFC 2616, except that the retry of a broken answer does not revalidate it (crawler/cache_policy.py).
HTTPCACHE_POLICY = "crawler.cache_policy.RetryAwareRFC2616Policy"
# One SQLite file per spider (crawler/http_cache.py): a stored response costs a row, not six files.
HTTPCACHE_STORAGE = "crawler.http_cache.SqliteCacheStorage"
HTTPCACHE_DIR = os.environ.get("CRAWLER_HTTPCACHE_DIR", "httpcache")
HTTPCACHE_GZIP = True

DOWNLOADER_MIDDLEWARES = {
    "crawler.middlewares.OfflineGuardMiddleware": 50,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middlewares.RetryAfterMiddleware": 550,
    # Scrapy's own, except that an undecodable body is retried instead of failing at once.
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "crawler.middlewares.TolerantHttpCompressionMiddleware": 590,
    # Sees redirects before RedirectMiddleware (600) does, to count loops.
    "crawler.middlewares.RedirectLoopMiddleware": 610,
    # Sees GitHub's 403/429 before the retry middleware does (process_response runs high to low).
    "crawler.middlewares.GitHubRateLimitMiddleware": 560,
    # Scrapy's place for it, named here because the token middleware's safety depends on it.
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": 900,
    # After the HTTP cache (900) so a token never lands in cached request headers.
    "crawler.middlewares.HostTokenMiddleware": 950,
}
# Scrapy imports every component its settings name, even one set to None (to find duplicates), so
# the components this project does without are left out of Scrapy's own lists (*_BASE) instead:
# * no cookies: the APIs and files read need no session. Scrapy's cookie jar cost CPU at every
#   request and response, and its import (tldextract, requests) ~0.1 s at each crawl's start.
DOWNLOADER_MIDDLEWARES_BASE = {path: order for path, order in scrapy_defaults.DOWNLOADER_MIDDLEWARES_BASE.items()
                               if path != "scrapy.downloadermiddlewares.cookies.CookiesMiddleware"}

# --- Items -------------------------------------------------------------------------------------
# Items of one response are processed one after another: every pipeline here is synchronous, so
# Scrapy's default of 100 at a time overlapped nothing and cost 100 asyncio tasks per response.
CONCURRENT_ITEMS = 1
ITEM_PIPELINES = {
    # Refuse records without url, excerpt and extractor: a figure without evidence is useless.
    "crawler.pipelines.require_evidence.RequireEvidencePipeline": 100,
    # Figures as written -> canonical units, GPU, model size; every field present.
    "crawler.pipelines.normalise.NormalisePipeline": 200,
    # Above-TDP power, zeros that mean "not measured", non-positive energy: flagged and counted.
    "crawler.pipelines.flag_implausible.FlagImplausiblePipeline": 300,
    # Stable id from source + document + figure.
    "crawler.pipelines.stable_id.StableIdPipeline": 400,
    "crawler.pipelines.deduplicate.DeduplicatePipeline": 500,
    # With JOBDIR: what an earlier, killed run of the job wrote is not written again.
    "crawler.resume.SkipWrittenRecordsPipeline": 550,
    # Last: what leaves the crawler matches the JSON Schema.
    "crawler.pipelines.validate_schema.ValidateSchemaPipeline": 600,
}

# The default feed, output/<spider>/<time>.jsonl. It is not in FEEDS here because Scrapy merges
# FEEDS from the command line into the project's: the spiders' base class adds it only when the
# command line names no feed, so `scrapy crawl x -O file.jsonl` writes that file alone, as usual.
OUTPUT_DIR = os.environ.get("CRAWLER_OUTPUT_DIR", "output")
DEFAULT_FEED = {
    f"{OUTPUT_DIR}/%(name)s/%(time)s%(worker)s.jsonl": {
        "format": "jsonlines",
        "encoding": "utf8",
        "item_classes": ["crawler.items.Measurement"],
    },
}
# github_issues also writes one Discussion per issue, to a file of its own.
DEFAULT_DISCUSSION_FEED = {
    f"{OUTPUT_DIR}/%(name)s/%(time)s%(worker)s.discussions.jsonl": {
        "format": "jsonlines",
        "encoding": "utf8",
        "item_classes": ["crawler.items.Discussion"],
    },
}
FEED_EXPORT_ENCODING = "utf-8"
# -O x.parquet: the records with their Arrow schema (from the JSON Schema); -O x.csv: every field
# of the record as a column, lists and objects as JSON text; JSON never holds NaN (crawler/exporters.py).
FEED_EXPORTERS = {"parquet": "crawler.exporters.ParquetItemExporter",
                  "csv": "crawler.exporters.SchemaCsvItemExporter",
                  "jsonlines": "crawler.exporters.StrictJsonLinesItemExporter",
                  "jsonl": "crawler.exporters.StrictJsonLinesItemExporter",
                  "json": "crawler.exporters.StrictJsonItemExporter"}
# Local feed files are written unbuffered, and with JOBDIR named in the job folder (crawler/resume.py).
FEED_STORAGES = {"": "crawler.resume.DurableFileFeedStorage", "file": "crawler.resume.DurableFileFeedStorage"}
# %(worker)s: empty, or ".<host>-<pid>" for a worker of a distributed crawl (see below).
FEED_URI_PARAMS = "crawler.distributed.feed_uri_params"

# GitHub's rate limit: when the budget is spent, wait for the reset if it comes within this many
# seconds, else stop the crawl cleanly (what was extracted is kept) and say when to retry.
GITHUB_RATE_LIMIT_MAX_WAIT = float(os.environ.get("GITHUB_RATE_LIMIT_MAX_WAIT", 900))

# No remote control, as no telnet console: Scrapy 2.19's RemoteControl is an HTTP server on
# localhost that runs any Python code sent with the token it writes to the user's profile. Left
# out of Scrapy's list (see DOWNLOADER_MIDDLEWARES_BASE), as its import (aiohttp, which makes SSL
# contexts as it loads) and the server's start took ~0.3 s CPU of each crawl's start.
EXTENSIONS_BASE = {path: order for path, order in scrapy_defaults.EXTENSIONS_BASE.items()
                   if path != "scrapy.extensions.remote_control.RemoteControl"}
EXTENSIONS = {
    "crawler.extensions.StatsJsonDump": 500,
    # With JOBDIR: a crawl killed outright (SIGKILL) is started over cleanly by the next one.
    "crawler.resume.HardKillRecovery": 0,
}
# Scrapy's in-memory stats, without the per-read deprecation shim of Scrapy 2.13+ (crawler/stats.py).
STATS_CLASS = "crawler.stats.CrawlStatsCollector"
# Where StatsJsonDump writes the crawl stats as JSON at close ("" = nowhere). %(name)s and
# %(time)s (and %(worker)s) are filled in as in FEEDS.
STATS_JSON_PATH = os.environ.get("CRAWLER_STATS_JSON", "")

# --- Distributed crawling (scrapy-redis), off unless REDIS_URL is set ----------------------------
# With REDIS_URL (environment, or -s REDIS_URL=redis://host:6379/0), every worker started with it
# shares one request queue, duplicate filter and set of models seen (crawler/distributed.py).
# The Redis server must be reachable by the workers only: the queue holds pickled requests.
REDIS_URL = os.environ.get("REDIS_URL", "")
ADDONS = {"crawler.distributed.DistributedCrawl": 0}
# A worker with work in hand says so in Redis for this long (refreshed every third of it): a worker
# killed mid-crawl holds the others open no longer than this.
DISTRIBUTED_WORKER_TTL = 30.0
# An idle worker closes once the shared queue has been empty and every worker idle this long.
DISTRIBUTED_IDLE_GRACE = 3.0

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Scrapy parses the source of a callback it calls to warn of a generator that returns a value; its
# cache holds callbacks weakly and a bound method lives as long as its request, so that was a parse
# per response (3.5% of a crawl's main thread). None of our callbacks returns a value.
WARN_ON_GENERATOR_RETURN_VALUE = False

# --- Rendering (scrapy-playwright), for pages whose tables are built by JavaScript -------------
# Debian's chromium: Playwright's own browser downloads are not used. The browser starts only
# when a request asks for rendering; spiders that never render never start it.
PLAYWRIGHT_BROWSER_TYPE = "chromium"
PLAYWRIGHT_LAUNCH_OPTIONS = {
    "executable_path": os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
    "headless": True,
    "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
}
PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT = 60_000
PLAYWRIGHT_ABORT_REQUEST = "crawler.middlewares.browser_request_not_allowed"
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
# Scrapy's log lines; the DEBUG line of each response and item is made only when LOG_LEVEL shows it.
LOG_FORMATTER = "crawler.logformatter.VisibleLinesLogFormatter"
# Scrapy's LogStats line (pages crawled, items scraped, each with its rate per minute) once a
# minute, at INFO: shown by a crawl by hand, and by python -m crawler.schedule and the demo, which
# log each crawl to a file and show its progress lines and warnings as it runs.
LOGSTATS_INTERVAL = 60.0
