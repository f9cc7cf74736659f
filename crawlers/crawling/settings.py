"""Scrapy settings: polite by default, bounded in size and time."""

from __future__ import annotations

from scrapy.settings import default_settings as _scrapy

from crawlers.crawling import scrapy_internals
from crawlers.crawling.components import kept
from crawlers.urls import MAX_URL_LENGTH

BOT_NAME = "eventwatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "eventwatch/0.1 (+https://github.com/eventwatch/eventwatch; news monitor)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 16
# Scrapy starts this many asyncio tasks for every response's output, however small; an
# article page yields one item and a listing a few dozen requests, handled in microseconds,
# so Scrapy's default of 100 spends more on starting tasks than on the work.
CONCURRENT_ITEMS = 8
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
DOWNLOAD_DELAY_JITTER = 0.5  # each delay is 0.5 to 1.5 times DOWNLOAD_DELAY
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 30
DOWNLOAD_MAXSIZE = 10 * 1024 * 1024
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DNS_TIMEOUT = 15
RETRY_ENABLED = True
RETRY_TIMES = 2
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"  # a page that fails is recorded on the crawl run
# Scrapy's list less DownloadTimeoutError: a server that let a page time out (a tarpit, a
# drip) does so again, and three tries would hold a download slot three times as long.
RETRY_EXCEPTIONS = [
    "scrapy.exceptions.CannotResolveHostError",
    "scrapy.exceptions.DownloadConnectionRefusedError",
    "scrapy.exceptions.DownloadFailedError",
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectError",
    "twisted.internet.error.ConnectionLost",
    "builtins.OSError",
    "scrapy.core.downloader.handlers.http11.TunnelError",
]
REDIRECT_MAX_TIMES = 10
URLLENGTH_LIMIT = MAX_URL_LENGTH  # Scrapy's 2083 is longer than the database stores
METAREFRESH_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False  # Scrapy's code-execution console: never in a crawler of ours
CLOSESPIDER_TIMEOUT = 900
# Scrapy's memory check reads the process's peak size, which in a crawl process that lives
# for hundreds of crawls would close every later crawl; its starter watches the current size
# instead (crawlers.launcher.runner) and recycles or replaces the process.
MEMUSAGE_ENABLED = False
# Its byte counts serialise every request and response again; nothing of ours reads them.
DOWNLOADER_STATS = False

DOWNLOADER = scrapy_internals.DOWNLOADER  # holds CONCURRENT_REQUESTS_PER_DOMAIN
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
LOG_LEVEL = "INFO"
LOG_VERSIONS: list[str] = []  # Scrapy's versions line asks pip's metadata for ten packages
# A check for authors of spiders: it parses a callback's source with ast whenever its cache,
# weakly keyed by the request's bound method, has lost it. Our callbacks are tested.
WARN_ON_GENERATOR_RETURN_VALUE = False

# Web pages only: no file://, data:, ftp:// or s3:// handler exists to be tricked into use.
# http(s): Scrapy's own handler, which starts no download past the crawl's lease
# (crawlers.crawling.leases)
# (crawlers.crawling.components: a source's settings cannot change these)
DOWNLOAD_HANDLERS = kept("DOWNLOAD_HANDLERS")
# Scrapy's own lists less what is switched off above. Disabling a part with None in
# EXTENSIONS still imports it (Scrapy normalises every key), and the remote console alone
# pulls in aiohttp: leaving them out shortens every re-crawl, whose time is mostly start-up.
_UNUSED = {
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
    "scrapy.extensions.remote_control.RemoteControl",
    "scrapy.extensions.telnet.TelnetConsole",
    "scrapy.extensions.feedexport.FeedExporter",
    "scrapy.extensions.memdebug.MemoryDebugger",
    "scrapy.extensions.spiderstate.SpiderState",
}
DOWNLOADER_MIDDLEWARES_BASE = {
    k: v for k, v in _scrapy.DOWNLOADER_MIDDLEWARES_BASE.items() if k not in _UNUSED
}
EXTENSIONS_BASE = {k: v for k, v in _scrapy.EXTENSIONS_BASE.items() if k not in _UNUSED}
DOWNLOADER_MIDDLEWARES = {
    # the lease's check (10), then the site bounds (40), before robots.txt is asked for
    **kept("DOWNLOADER_MIDDLEWARES"),
    # sees a 429/503 before RetryMiddleware
    "crawlers.crawling.middlewares.RetryAfterMiddleware": 560,
    "crawlers.crawling.middlewares.ConditionalGetMiddleware": 580,
}
# Retry-After up to this many seconds is waited for; a server asking for longer is not
# retried in this crawl (the failure is recorded and the next scheduled run tries again).
EVENTWATCH_RETRY_AFTER_MAX = 30.0
ITEM_PIPELINES = kept("ITEM_PIPELINES")
EXTENSIONS = kept("EXTENSIONS")

# Set per crawl by crawlers.crawling.crawl: the database URL, the crawl run id, --refresh.
EVENTWATCH_DATABASE = None
EVENTWATCH_RUN_ID = None
EVENTWATCH_REFRESH = False
EVENTWATCH_PROGRESS = False  # crawlers.crawling.progress: tell the starter how each run goes
EVENTWATCH_EXTRACT_WORKERS = 0  # crawlers.workers.server: 0 extracts in the crawl process
