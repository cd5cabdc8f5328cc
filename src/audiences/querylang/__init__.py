"""DynamicQuery: the MongoDB-style filter language of CRM segments (CONTRACT §7).

A pipeline of small stages: `validate.parse_where` (JSON → typed AST, every problem
reported with its path) → `compile.compile_query` (AST → MongoDB filter for the configured
backend) and `evaluate.matches` (AST → yes/no for one contact in memory, MongoDB's meaning).
`analysis` tells which fields a query reads and whether it depends on time.
"""

from audiences.querylang.analysis import fields_used, uses_now
from audiences.querylang.compile import compile_query
from audiences.querylang.errors import QueryInvalid, QueryNotSupported
from audiences.querylang.evaluate import matcher, matches
from audiences.querylang.model import MATCH_ALL, FieldQuery, Membership, Query
from audiences.querylang.validate import parse_filter, parse_where

__all__ = [
    "MATCH_ALL",
    "FieldQuery",
    "Membership",
    "Query",
    "QueryInvalid",
    "QueryNotSupported",
    "compile_query",
    "fields_used",
    "matcher",
    "matches",
    "parse_filter",
    "parse_where",
    "uses_now",
]
