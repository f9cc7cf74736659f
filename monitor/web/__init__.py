"""The web UI and JSON API: pages, actions, API, feeds and charts over the database."""
