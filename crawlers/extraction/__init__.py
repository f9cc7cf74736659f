"""A page's HTML to its article: main text, title, date, authors, languages.

Functions of the page alone: no Scrapy, no Twisted, no storage (import-linter contracts).
"""
