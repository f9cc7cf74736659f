"""What a crawl process reports on its stdout, as its starter reads it back."""

from __future__ import annotations

import json

from crawlers.launcher import report

VERDICT = {"status": "ok", "error": None, "counts": {"pages": 4, "new_articles": 1}}


def _line(run_id: int, **fields: object) -> str:
    return report.MARK + json.dumps({"run": run_id, **fields})


def test_each_run_gets_its_own_verdict_counts_and_validators() -> None:
    output = "\n".join(
        [
            _line(7, validators={"http://a.example/news": ["e1", None, "h1"]}),
            _line(7, **VERDICT),
            _line(8, status="failed", error="nothing fetched (finished)", counts={}),
        ]
    )
    reports = report.read(output)
    assert reports[7].status == "ok" and reports[7].counts == {"pages": 4, "new_articles": 1}
    assert reports[7].validators == {"http://a.example/news": ("e1", None, "h1")}
    assert (reports[8].status, reports[8].error, reports[8].validators) == (
        "failed",
        "nothing fetched (finished)",
        {},
    )


def test_unmarked_lines_and_a_line_cut_short_by_a_kill_are_not_reports() -> None:
    output = "\n".join(
        [
            json.dumps({"run": 7, **VERDICT}),  # printed by something else: no mark
            _line(8, **VERDICT)[:-12],  # the process was killed while writing it
            "",
        ]
    )
    assert report.read(output) == {}
    assert report.read(None) == {}


def test_validators_reported_without_a_verdict_leave_the_run_open() -> None:
    [(run_id, reported)] = report.read(_line(3, validators={"u": [None, "x", "h"]})).items()
    assert run_id == 3 and reported.status is None
    assert reported.validators == {"u": (None, "x", "h")}


def test_a_report_with_malformed_fields_is_ignored_whole() -> None:
    output = "\n".join(
        [
            _line(5, status="ok", error=None, counts={"pages": "many"}),
            _line(6, validators={"u": ["only one"]}),
            report.MARK + "[1, 2]",
        ]
    )
    assert report.read(output) == {}


def test_a_run_s_pages_come_back_with_it_for_its_starter_to_record() -> None:
    pages = {"failures": [["http://a.example/x", "fetch", 503, "HTTP 503"]], "had": ["u"]}
    reports = report.read("\n".join([_line(7, ledger=pages), _line(7, **VERDICT)]))
    assert reports[7].ledger == pages
    assert report.read(_line(8, **VERDICT))[8].ledger is None  # an old process sends none
