"""The crawl process: one Scrapy reactor running many crawls, each a crawler of its own."""
