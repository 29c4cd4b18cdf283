"""Fake linear server (being written)."""
