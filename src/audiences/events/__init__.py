"""Behavioural events (the facts journey predicates count)."""
