"""Followthrough: postmortems as the record of truth, action items that get done."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("followthrough")
except PackageNotFoundError:  # run from a checkout that was never installed
    __version__ = "0+unknown"
