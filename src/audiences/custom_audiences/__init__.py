"""Custom audiences: uploaded lists, customer match, lookalikes and retargeting-pixel audiences.

Each one is usable wherever a segment id is: the service registers an `AudienceSource`
with `audiences.segments.resolve` when it is imported (the router imports it).
"""
