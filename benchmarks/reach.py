"""Estimate-reach on the embedded backend: API latency against the raw backend count, and
the in-memory evaluator's throughput, for five representative DynamicQuery filters.

Data: `--contacts` contacts (default 100,000) of one org, loaded straight into the
`contacts` collection of an app running on mongoeco's in-memory engine, with the indexes
the app creates at startup (`{orgId, id}`, `{orgId, email}`) and one added the way a user
would (`POST /api/collection/index` on `country`).

    python benchmarks/reach.py                     # 100,000 contacts, a few minutes
    python benchmarks/reach.py --contacts 10000    # quick

For each filter: the count (checked against the in-memory evaluator over every contact),
the median of `--repeat` runs of `POST /api/crm/audiences/estimate-reach` through the ASGI
app in-process (count + sample profile + index hint), the median of the raw backend count
of the same compiled filter, their ratio, and the evaluator's contacts per second.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from audiences.auth import mint_token
from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database, open_database
from audiences.main import create_app
from audiences.querylang import compile_query, matcher, parse_where
from audiences.tenancy import system_scope

AS_OF = dt.datetime(2026, 4, 24, 12, 0, tzinfo=dt.UTC)
ORG = "bench"
COUNTRIES = ["US"] * 40 + ["GB"] * 15 + ["DE"] * 12 + ["FR"] * 10 + ["CA"] * 8 + ["ES"] * 8 + ["JP"] * 7
TAGS = ["newsletter", "lead", "mql", "customer", "vip", "churn-risk", "beta"]
TAG_WEIGHTS = [30, 20, 10, 15, 5, 8, 4]
TIERS = ["free", "free", "free", "pro", "pro", "enterprise"]

FILTERS: dict[str, dict[str, Any]] = {
    "equality": {"country": "US"},
    "$in on tags": {"tags": {"$in": ["lead", "mql"]}},
    "date range": {"lastEmailOpenedAt": {"$gte": {"$now": "-P30D"}, "$lt": {"$now": "-P7D"}}},
    "$or of three": {"$or": [{"country": "DE"}, {"tier": "enterprise"}, {"tags": "vip"}]},
    "$ne": {"tier": {"$ne": "free"}},
}


def make_contacts(count: int, seed: int = 11) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        contact_id = f"c{i:07d}"
        row: dict[str, Any] = {
            "_id": f"{ORG}:{contact_id}",
            "orgId": ORG,
            "id": contact_id,
            "email": f"{contact_id}@example.com",
            "country": rnd.choice(COUNTRIES),
            "tags": sorted(set(rnd.choices(TAGS, TAG_WEIGHTS, k=rnd.randint(0, 3)))),
            "createdAt": AS_OF - dt.timedelta(days=rnd.randint(30, 900)),
        }
        if rnd.random() < 0.75:
            row["lastEmailOpenedAt"] = AS_OF - dt.timedelta(minutes=rnd.randint(0, 120 * 24 * 60))
        if rnd.random() < 0.85:
            row["tier"] = rnd.choice(TIERS)
        rows.append(row)
    return rows


async def median_ms(run: Callable[[], Awaitable[object]], repeat: int) -> float:
    await run()  # warm-up: compiled plans, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def load(db: Database, rows: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    contacts = db.collection("contacts")
    for start in range(0, len(rows), 5000):
        await contacts.insert_many(rows[start : start + 5000])
    return time.perf_counter() - started


async def main(contacts: int, repeat: int) -> None:
    settings = Settings(
        mongodb_uri=None,
        embedded_in_memory=True,
        database=f"bench{uuid.uuid4().hex[:6]}",
        jwt_secret="benchmark-secret-" + "x" * 32,
        sweep_interval_s=0,
        query_timeout_ms=120_000,
    )
    db = open_database(settings)
    await db.connect()
    app = create_app(settings, database=db, clock=FixedClock(AS_OF))
    rows = make_contacts(contacts)
    # Bulk load first; the app builds its indexes over the loaded data at startup.
    seconds = await load(db, rows)
    print(f"loaded {contacts:,} contacts in {seconds:.1f} s ({contacts / seconds:,.0f}/s)")
    async with app.router.lifespan_context(app):
        token = mint_token(settings, orgs=[ORG], ttl=dt.timedelta(hours=2))
        headers = {"Authorization": f"Bearer {token}", "orgid": ORG}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            r = await client.post(
                "/api/collection/index", json={"collection": "contacts", "fields": ["country"]}
            )
            r.raise_for_status()
            stored = await db.collection("contacts").find_list({"orgId": ORG})
            scope = system_scope(ORG)
            print()
            print("| filter | count | API median ms | raw median ms | ratio | evaluator contacts/s |")
            print("|---|---:|---:|---:|---:|---:|")
            for name, where in FILTERS.items():
                query = parse_where(where)
                compiled = compile_query(query, as_of=AS_OF, backend=db.backend)
                body = {"filter": {"datatype": "contact", "where": where}}

                async def api(body: dict[str, Any] = body) -> object:
                    response = await client.post("/api/crm/audiences/estimate-reach", json=body)
                    response.raise_for_status()
                    return response.json()

                async def raw(compiled: dict[str, Any] = compiled) -> object:
                    return await db.collection("contacts").count(scope.filter(compiled), timeout_ms=120_000)

                api_ms = await median_ms(api, repeat)
                raw_ms = await median_ms(raw, repeat)
                count = await api()
                assert isinstance(count, dict)
                test = matcher(query, as_of=AS_OF)
                started = time.perf_counter()
                expected = sum(1 for doc in stored if test(doc))
                per_second = len(stored) / (time.perf_counter() - started)
                if expected != count["count"]:
                    raise SystemExit(f"{name}: API counted {count['count']}, the evaluator {expected}")
                print(
                    f"| {name} | {count['count']:,} | {api_ms:,.1f} | {raw_ms:,.1f} | "
                    f"{api_ms / raw_ms:.2f} | {per_second:,.0f} |"
                )
    await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts to load (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement (default 5)")
    args = parser.parse_args()
    asyncio.run(main(args.contacts, args.repeat))
