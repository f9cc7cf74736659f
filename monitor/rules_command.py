"""``eventwatch rules test``: which stored events a rule or an ad-hoc query matches."""

from __future__ import annotations

import argparse
import sys
from itertools import islice

from monitor import opening
from monitor.config import load_config
from monitor.eventsearch import event_hits
from monitor.rule_checks import operator_warnings, unknown_names, unknown_rule
from monitor.rules import Hit, RuleSet, RuleSpec, RuleSyntaxError
from monitor.usage import UsageError
from storage.eventpages import report_texts
from storage.events import EventView, list_events

# Every event since --since is scanned: --limit bounds what is shown, never what is searched.
EVERY_EVENT = 1_000_000_000
CHUNK = 500  # events whose reports are read in one query: each report can match


def rules_test(args: argparse.Namespace) -> int:
    ctx = opening.for_reading(load_config(args.config)[1])
    config = ctx.config
    rule = next((r for r in config.rules if r.name == args.query), None)
    if rule is None and (mistyped := unknown_rule(args.query, [r.name for r in config.rules])):
        raise UsageError(f"rules test: {mistyped}")
    spec = rule.spec() if rule else RuleSpec("query", args.query)
    try:
        ruleset = RuleSet.compile([spec])
    except RuleSyntaxError as exc:
        raise UsageError(str(exc)) from None
    for warning in operator_warnings(spec.name, spec.query) + unknown_names(
        spec.name, spec.query, config.own_gazetteer
    ):
        print(f"eventwatch: warning: {warning}", file=sys.stderr)
    found = 0
    listed = iter(list_events(ctx.db, since=args.since, limit=EVERY_EVENT))
    while events := list(islice(listed, CHUNK)):
        reports = report_texts(ctx.db, [event.event_id for event in events])
        for event in events:
            names = (event.places, event.organisations)
            hits = event_hits(ruleset, reports.get(event.event_id, []), names, config.own_gazetteer)
            for hit in hits:
                found += 1
                if found <= args.limit:
                    _show(event, hit)
    shown = f" (first {args.limit} shown)" if found > args.limit else ""
    print(f"{found} matching events{shown}")
    return 0


def _show(event: EventView, hit: Hit) -> None:
    print(f"{event.event_id:>6}  {event.title}\n        {event.url}\n"
          f"        terms: {', '.join(hit.terms)}")  # fmt: skip
    for snippet in hit.snippets:
        print(f"        {snippet}")
