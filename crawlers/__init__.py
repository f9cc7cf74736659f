"""From a source to stored articles, in three processes; one subpackage per job.

- :mod:`crawlers.launcher`: starts, feeds, watches and recycles crawl processes, and records
  their runs. It never imports Scrapy, Twisted or extraction: the daemon and the CLI load it.
- :mod:`crawlers.crawling`: the crawl process, Scrapy's spiders, middlewares and pipelines.
- :mod:`crawlers.workers`: the extraction workers the crawl process hands pages to.
- :mod:`crawlers.extraction`: a page's HTML to the article (text, title, date, languages);
  pure functions of the page, no Scrapy, no storage.
- :mod:`crawlers.enrichment`: places and organisations named in an article (the gazetteer).
- :mod:`crawlers.urls`: URL rules every part shares.
"""
