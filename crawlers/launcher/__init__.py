"""Crawl processes seen from outside: start them, give them sources, watch them, record runs.

Loaded by the daemon, the workers and the CLI, so it never imports Scrapy, Twisted or
extraction (an import-linter contract says so).
"""
