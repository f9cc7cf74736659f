"""Scrapy settings: polite by default, bounded in size and time."""

from __future__ import annotations

BOT_NAME = "eventwatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = "eventwatch/0.1 (+https://github.com/eventwatch/eventwatch; news monitor)"
ROBOTSTXT_OBEY = True

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 0.5
RANDOMIZE_DOWNLOAD_DELAY = True
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
REDIRECT_MAX_TIMES = 10
METAREFRESH_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
CLOSESPIDER_TIMEOUT = 900
MEMUSAGE_ENABLED = True
MEMUSAGE_LIMIT_MB = 1024

REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

DOWNLOADER_MIDDLEWARES = {
    "crawlers.middlewares.ConditionalGetMiddleware": 580,
}
ITEM_PIPELINES = {
    "crawlers.pipelines.ExtractPipeline": 100,
    "crawlers.pipelines.StorePipeline": 200,
}
EXTENSIONS = {
    "crawlers.extensions.CrawlRunRecorder": 100,
}

# Set per crawl by crawlers.crawl: the database URL, the crawl run id, --refresh.
EVENTWATCH_DATABASE = None
EVENTWATCH_RUN_ID = None
EVENTWATCH_REFRESH = False
