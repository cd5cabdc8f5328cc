"""CRM segments: DynamicQuery filters, CRUD, exact live reach, members and snapshots.

Importing the package registers segments with `segments.resolve`, so `resolve_audience`
answers segment ids wherever it is called from.
"""

from audiences.segments.resolve import register_audience_source
from audiences.segments.service import SegmentSource

register_audience_source(SegmentSource())
