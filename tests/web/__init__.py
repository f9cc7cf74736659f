"""Tests against one real daemon serving the web UI (tests.webworld), started once for
this package."""
