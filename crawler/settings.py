"""Scrapy settings for Sökhund. Per-site politeness (concurrency, delay, budgets) comes from the site
adapter and is applied by ``crawler.runner.site_settings``; these are the shared defaults."""

import os

BOT_NAME = "sokhund"
SPIDER_MODULES = ["crawler.spiders"]
NEWSPIDER_MODULE = "crawler.spiders"

# Markets have no robots.txt worth obeying and analysts crawl under a legal mandate; politeness is
# enforced by per-site concurrency, delays, AutoThrottle and page budgets instead.
ROBOTSTXT_OBEY = False
USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
COOKIES_ENABLED = True
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # no control server on a crawler that may touch hostile sites
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"

# Items go through one synchronous pipeline: Scrapy's parallel item processing (by default 100 asyncio
# tasks per response) buys nothing here and costs CPU on every page.
CONCURRENT_ITEMS = 1
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.05
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0

# Huge or endless pages: a hard cap on the download plus a timeout; bodies above the adapter's parse
# limit are kept as evidence but only their head is parsed.
DOWNLOAD_MAXSIZE = 64 * 1024 * 1024
DOWNLOAD_WARNSIZE = 16 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60
# One deadline per page, retries included (default: DOWNLOAD_TIMEOUT); the environment may set it too.
SOKHUND_PAGE_DEADLINE = float(os.environ["SOKHUND_PAGE_DEADLINE"]) if os.environ.get("SOKHUND_PAGE_DEADLINE") else None

RETRY_ENABLED = True
RETRY_TIMES = 3
# 429 is handled (with back-off) by the invalid-page middleware, not by blind retries.
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408]
HTTPERROR_ALLOW_ALL = True  # captures and detectors see 4xx/5xx pages too

DOWNLOADER_MIDDLEWARES = {
    # process_request runs in ascending order, process_response in descending order:
    # evidence (890) sees every raw response first; CookiesMiddleware (700) then stores Set-Cookie
    # (a DDoS gate's cookie); HttpCompression (680) decodes the body; only then does the invalid-page
    # middleware (660) decide to retry.
    "crawler.middlewares.deadline.PageDeadlineMiddleware": 560,  # after RetryMiddleware: sees every retry
    # Redirects (600, meta refresh 580) stay on the site's hosts; off-site ones are recorded, not fetched.
    # The cookie middleware reads the Public Suffix List from tldextract's bundled snapshot (never online).
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "crawler.middlewares.redirects.SiteMetaRefreshMiddleware": 580,
    "crawler.middlewares.redirects.SiteRedirectMiddleware": 600,
    "crawler.middlewares.session.SessionCookiesMiddleware": 640,
    "crawler.middlewares.cookies.OfflineCookiesMiddleware": 700,
    "crawler.middlewares.invalid_pages.InvalidPageMiddleware": 660,
    # The WARC keeps the body as served (gzip, br); detectors and the spider see it decoded, so
    # decompression runs between evidence and the invalid-page middleware (Scrapy's default is 590).
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 680,
    "crawler.middlewares.evidence.WarcCaptureMiddleware": 890,
}
SPIDER_MIDDLEWARES = {
    # Link depth is the spider's own (SOKHUND_MAX_DEPTH, pagination not counted; crawler/worker.py sets
    # DEPTH_LIMIT to 0): Scrapy's depth middleware would only tag and count every request and item.
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,
}
ITEM_PIPELINES = {
    "crawler.pipelines.index.IndexPipeline": 300,
}
EXTENSIONS = {
    "crawler.progress.ProgressReporter": 500,
    "crawler.diskguard.DiskGuard": 510,  # stops the crawl while the data directory still has room
}

DUPEFILTER_CLASS = "scrapy.dupefilters.RFPDupeFilter"
SCHEDULER_PRIORITY_QUEUE = "scrapy.pqueues.DownloaderAwarePriorityQueue"
# Scrapy's JOBDIR queue, naming callbacks without scanning the spider per request (crawler/frontier.py)
SCHEDULER_DISK_QUEUE = "crawler.frontier.RequestDiskQueue"
LOG_LEVEL = "INFO"

TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
# Every crawl, clearnet too, refuses to hand an .onion name to the system resolver (fail closed).
TWISTED_DNS_RESOLVER = "tor.scrapy_routing.OnionRefusingResolver"

# Sökhund's own settings (see crawler/runner.py)
SOKHUND_RUN_ID = "adhoc"
SOKHUND_AS_OF = None  # ISO time the observations are stamped with (the simulated day in the testbed)
SOKHUND_INDEX_URL = None  # default: the embedded SQLite index in $SOKHUND_HOME
SOKHUND_INDEX_BATCH = 500
SOKHUND_EXTRACT_BATCH = 64
# Texts extracted by an earlier crawl of the site are read from $SOKHUND_HOME/cache/extract/<site>.sqlite
# (extractors/cache.py); off with SOKHUND_EXTRACT_CACHE=0 in the environment or the setting.
SOKHUND_EXTRACT_CACHE = os.environ.get("SOKHUND_EXTRACT_CACHE", "1").strip().lower() not in ("0", "false", "no", "off")
SOKHUND_EXTRACT_CACHE_DAYS = 30  # rows unused this long are dropped
SOKHUND_PROGRESS_FILE = None
