"""Extraction in worker processes forked from a fork server, fed by the crawl process."""
