"""Fake jira server (being written)."""
