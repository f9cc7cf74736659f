"""What one crawl does with each link it finds, and why: follows it, tries it for its
content, or skips it. Pure: the stored and failing pages are given, and the crawl's spider and
``eventwatch sources explain`` both plan with :class:`LinkBook`, so they cannot disagree."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from crawlers.crawling.links import ARTICLE, NEXT_PAGE, SECTION, SKIP, TRY, LinkDecision
from crawlers.urls import normalize_url

# Links whose past a listing's plan reads: stored already, or failing and waiting for their
# next try (a failing section or next page waits as a failing article does).
LOOKED_UP = frozenset({ARTICLE, TRY, SECTION, NEXT_PAGE})


def looked_up(decisions: Iterable[LinkDecision]) -> list[str]:
    """The URLs of ``decisions`` whose past the plan needs (:data:`LOOKED_UP`)."""
    return [decision.url for decision in decisions if decision.action in LOOKED_UP]


# Links that only the URL guess turned away, tried for what the page holds: a few per
# listing page and per crawl, so that a site of galleries does not spend the page budget.
TRIES_PER_LISTING = 3
TRIES_PER_CRAWL = 6

ALREADY_STORED = "already stored"
ASKED_ALREADY = "asked for already in this crawl"
BACKING_OFF = "failed before: tried again later (back-off)"
BACKING_OFF_LONG = "failed three times or more: tried again later (back-off)"
NO_ARTICLE_BEFORE = "tried before: no article there (tried again in a month)"
# Why the store holds a page back (storage.pagefailures.held_back), as a rule
HELD_BACK_RULES = {
    "failed": BACKING_OFF,
    "failed often": BACKING_OFF_LONG,
    "no article": NO_ARTICLE_BEFORE,
}
OVER_BUDGET = "over the page budget (max_pages)"
NO_TRIES_LEFT = "not tried: the tries of this crawl or page are spent"


@dataclass(frozen=True, slots=True)
class LinkVerdict:
    url: str
    follow: bool
    action: str  # as LinkDecision.action
    rule: str

    @property
    def outcome(self) -> str:
        return "followed" if self.follow else "skipped"


@dataclass(frozen=True, slots=True)
class ListingState:
    """What a listing page's plan depends on besides its links."""

    stored: Collection[str] = ()  # normalised URLs of stored articles
    held: Mapping[str, str] = field(default_factory=dict)  # normalised URL -> why held back
    depth: int = 1  # 1 for an entry page, then 2 for its next page, and so on
    max_depth: int = 1
    start: bool = False  # an entry page: its news sections are followed
    # A page whose articles are all known ends the walk down its next pages, unless the last
    # crawl stopped before the end of its walk: the pages it did not reach may hold new ones.
    trust_stale: bool = True


@dataclass
class LinkBook:
    """The links of one crawl: its page budget, the articles it asked for, and each link's
    verdict (the first one given), counted by rule for the crawl run."""

    budget: int
    tries_left: int = TRIES_PER_CRAWL
    requested: set[str] = field(default_factory=set)
    verdicts: dict[str, str] = field(default_factory=dict)  # normalised URL -> "followed: rule"
    tried: set[str] = field(default_factory=set)
    kept: int = 0  # tried links that were articles
    budget_exhausted: bool = False

    def plan_listing(
        self, decisions: Sequence[LinkDecision], state: ListingState
    ) -> list[LinkVerdict]:
        """Each link of a listing page with its verdict, in the page's order. Its next pages
        are followed up to ``max_depth``, and only while the page has articles not known."""
        verdicts: dict[int, LinkVerdict] = {}
        tries_here = [TRIES_PER_LISTING]
        for index, decision in enumerate(decisions):
            if decision.action != NEXT_PAGE:
                verdicts[index] = self._judge(decision, state, tries_here)
        articles = [d for d in decisions if d.action == ARTICLE]
        known = set(state.stored) | set(state.held)
        stale = state.trust_stale and bool(articles)
        stale = stale and all(normalize_url(d.url) in known for d in articles)
        for index, decision in enumerate(decisions):
            if decision.action == NEXT_PAGE:
                verdicts[index] = self._next_page(decision, state, stale)
        planned = [verdicts[index] for index in range(len(decisions))]
        for verdict in planned:
            self._count(verdict)
        return planned

    def plan_entries(
        self, decisions: Sequence[LinkDecision], state: ListingState
    ) -> list[LinkVerdict]:
        """The URLs a feed or sitemap lists, in its order."""
        planned = [self._judge(decision, state, [0]) for decision in decisions]
        for verdict in planned:
            self._count(verdict)
        return planned

    def _judge(
        self, decision: LinkDecision, state: ListingState, tries_here: list[int]
    ) -> LinkVerdict:
        url, action, rule = decision.url, decision.action, decision.rule
        if action == SKIP:
            return LinkVerdict(url, False, action, rule)
        if action == SECTION:
            if not state.start:
                return LinkVerdict(url, False, action, f"{rule}, followed from an entry page only")
            return _held_back(decision, state) or LinkVerdict(url, True, action, rule)
        return self._admit(decision, state, tries_here)

    def _admit(
        self, decision: LinkDecision, state: ListingState, tries_here: list[int]
    ) -> LinkVerdict:
        """An article or a link to try: the first link to it spends the budget."""
        url, action = decision.url, decision.action
        key = normalize_url(url)
        refused = (
            (key in self.requested and ASKED_ALREADY)
            or (key in state.stored and ALREADY_STORED)
            or (key in state.held and HELD_BACK_RULES.get(state.held[key], BACKING_OFF))
            or (action == TRY and min(self.tries_left, tries_here[0]) <= 0 and NO_TRIES_LEFT)
            or (self.budget <= 0 and OVER_BUDGET)
        )
        if refused:
            self.budget_exhausted |= refused == OVER_BUDGET
            return LinkVerdict(url, False, action, refused)
        self.budget -= 1
        self.requested.add(key)
        if action == TRY:
            self.tries_left -= 1
            tries_here[0] -= 1
            self.tried.add(key)
        return LinkVerdict(url, True, action, decision.rule)

    def _next_page(self, decision: LinkDecision, state: ListingState, stale: bool) -> LinkVerdict:
        if held := _held_back(decision, state):
            return held
        if stale:
            rule = "no new article on this page: the older pages hold none either"
            return LinkVerdict(decision.url, False, NEXT_PAGE, rule)
        if state.depth >= state.max_depth:
            rule = "past the listing pages to read (max_listing_pages)"
            return LinkVerdict(decision.url, False, NEXT_PAGE, rule)
        return LinkVerdict(decision.url, True, NEXT_PAGE, decision.rule)

    def _count(self, verdict: LinkVerdict) -> None:
        self.verdicts.setdefault(normalize_url(verdict.url), f"{verdict.outcome}: {verdict.rule}")

    def skipped_after_all(self, url: str, rule: str) -> None:
        """A link followed, then refused before its page was fetched (robots.txt)."""
        self.verdicts[normalize_url(url)] = f"skipped: {rule}"

    def was_tried(self, url: str) -> bool:
        return normalize_url(url) in self.tried

    def counts(self) -> dict[str, Any]:
        """Links seen, followed and skipped, by rule: what the crawl run records."""
        rules = Counter(self.verdicts.values())
        followed = sum(n for rule, n in rules.items() if rule.startswith("followed: "))
        return {
            "seen": len(self.verdicts),
            "followed": followed,
            "skipped": len(self.verdicts) - followed,
            "tried": len(self.tried),
            "kept": self.kept,
            "rules": dict(rules.most_common()),
            "budget_exhausted": self.budget_exhausted,
        }


def _held_back(decision: LinkDecision, state: ListingState) -> LinkVerdict | None:
    """A section or next page that failed and waits for its next try, as an article does:
    fetched on every crawl, a dead section link counted an error on each and kept its
    listing from a 304."""
    why = state.held.get(normalize_url(decision.url))
    if why is None:
        return None
    return LinkVerdict(decision.url, False, decision.action, HELD_BACK_RULES.get(why, BACKING_OFF))
