"""Tracker connectors (GitHub, Jira, Linear). Never imports from `app`."""
