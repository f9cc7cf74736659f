"""The validators (ETag, Last-Modified, content hash) a crawl pool knows, found by site.

A crawl starts with those of its own site's pages: a few among every source's. Looking them
up by host keeps each start's cost to its own site's pages; scanning every known URL made
each start cost more the more sources there were, and a daemon of a few thousand sources
spent most of its time there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from crawlers.urls import domain_host, host_of, on_site
from storage.fetchstate import Validators


class KnownValidators:
    """URL → validators, indexed by every label suffix of the URL's host, so that a domain
    finds its own host and its subdomains' (``news.example.org`` under ``example.org``)."""

    def __init__(self, states: Mapping[str, Validators]) -> None:
        self._by_host: dict[str, dict[str, Validators]] = {}
        self._hosts_under: dict[str, set[str]] = {}
        self.update(states)

    def update(self, states: Mapping[str, Validators]) -> None:
        for url, validators in states.items():
            try:
                host = host_of(url)
            except ValueError:  # a malformed address is on no site: never asked for
                continue
            pages = self._by_host.get(host)
            if pages is None:
                pages = self._by_host[host] = {}
                labels = host.split(".")
                for start in range(len(labels)):
                    self._hosts_under.setdefault(".".join(labels[start:]), set()).add(host)
            pages[url] = validators

    def of(self, domains: Sequence[str]) -> dict[str, Validators]:
        """The validators of the pages that are on one of ``domains`` (:func:`on_site`)."""
        hosts: set[str] = set()
        for domain in domains:
            try:
                name = domain_host(domain)
            except ValueError:  # a domain no URL can be on
                continue
            hosts |= self._hosts_under.get(name, set())
        return {
            url: validators
            for host in hosts
            for url, validators in self._by_host[host].items()
            if on_site(url, domains)
        }
