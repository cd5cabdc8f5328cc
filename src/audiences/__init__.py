"""Audiences: saved audience definitions answered live from MongoDB."""

__version__ = "0.1.0"
