"""Ads export: an audience as an ad platform's hashed customer-list file."""
