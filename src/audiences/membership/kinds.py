"""The audience kinds membership tracking knows: importing this module registers their
adapters (and their existence checks for the membership routes)."""

from audiences.membership import kinds_journey, kinds_segment

__all__ = ["kinds_journey", "kinds_segment"]
