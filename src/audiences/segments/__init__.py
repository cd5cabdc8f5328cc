"""CRM segments: DynamicQuery filters, CRUD, live reach, members and snapshots."""
