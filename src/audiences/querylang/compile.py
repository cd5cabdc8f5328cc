"""DynamicQuery AST → MongoDB filter over contacts (without `orgId`: the repository adds it).

`$now` is resolved against the evaluation instant, and ISO-8601 strings compared with date
fields are already dates (validate.py). On MongoDB the filter is the query as written
(`render.py`); on the embedded backend it is rewritten where mongoeco's meaning differs from
MongoDB's (`embedded.py`, docs/semantics.md), so both backends give MongoDB's answer.
"""

from __future__ import annotations

import datetime as dt

from audiences.db.collection import Backend
from audiences.querylang import embedded
from audiences.querylang.model import Query, bind_now
from audiences.querylang.render import MongoFilter, render_query


def compile_query(query: Query, *, as_of: dt.datetime, backend: Backend) -> MongoFilter:
    """The contacts filter for `query` at `as_of` on `backend` ("pymongo" or "mongoeco").

    Raises `QueryNotSupported` for the rare filters the embedded backend cannot run exactly.
    """
    bound = bind_now(query, as_of)
    if backend == "mongoeco":
        return embedded.lower_query(bound)
    return render_query(bound)
