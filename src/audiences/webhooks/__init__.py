"""Signed webhooks for membership changes: registrations, the delivery queue (stored
before the first try, retried with backoff for 24 h) and the worker that sends it."""
