"""DuckDB tables of the embedded contact/event store.

Contacts are free-form documents, so they are kept twice: whole (`contacts.doc`, BSON,
so dates and 64-bit integers round-trip exactly) and shredded into typed rows
(`contact_values`, one row per value a MongoDB path reaches — see `flatten.py`), which
is what compiled filters scan. New fields need no migration: they are new `path` values.
Events have a fixed shape and get typed columns.
"""

from __future__ import annotations

# MongoDB's comparison brackets (BSON type order), stored in `contact_values.kind`.
KIND_NULL = 1
KIND_NUMBER = 2
KIND_STRING = 3
KIND_OBJECT = 4
KIND_ARRAY = 5
KIND_BOOL = 8
KIND_DATE = 9
KIND_OTHER = 10  # ObjectId, bytes and other values no operator compares by order

SCHEMA_VERSION = 1

DDL: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS store_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS contacts (
        org_id VARCHAR NOT NULL,
        id VARCHAR NOT NULL,
        doc BLOB NOT NULL,              -- the stored document, BSON
        PRIMARY KEY (org_id, id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS contact_values (
        org_id VARCHAR NOT NULL,
        contact_id VARCHAR NOT NULL,
        path VARCHAR NOT NULL,          -- dotted path, array positions dropped: 'items.sku'
        loc VARCHAR NOT NULL,           -- concrete location: 'items[3].sku' (parent of a row
                                        -- is its loc minus the last '.key' or '[i]')
        in_array BOOLEAN NOT NULL,      -- an element of an array stored at `path`
        kind TINYINT NOT NULL,          -- KIND_* above
        num DOUBLE,                     -- KIND_NUMBER
        str VARCHAR,                    -- KIND_STRING
        bool BOOLEAN,                   -- KIND_BOOL
        ts TIMESTAMP,                   -- KIND_DATE, UTC, microseconds
        json VARCHAR,                   -- KIND_OBJECT / KIND_ARRAY: canonical form for equality
        size INTEGER                    -- KIND_ARRAY: number of elements
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS events (
        org_id VARCHAR NOT NULL,
        id VARCHAR NOT NULL,            -- the caller's eventId, or a generated ObjectId hex
        user_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        ts TIMESTAMP NOT NULL,          -- UTC
        properties JSON,                -- as sent (dates as ISO strings)
        received_at TIMESTAMP,
        PRIMARY KEY (org_id, id)
    )
    """,
)
