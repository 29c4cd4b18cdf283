"""Fake github server (being written)."""
