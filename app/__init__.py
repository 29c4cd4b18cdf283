"""Followthrough: postmortems as the record of truth, action items that get done."""
