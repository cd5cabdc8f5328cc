"""Journey audience predicates on the embedded backend: dry-run latency (API and raw
pipeline), the plans side by side, and the in-memory evaluator's throughput.

Data: `--contacts` subjects (default 20,000) with `--events` events (default 200,000)
over 60 days, loaded straight into the collections of an app running on mongoeco's
in-memory engine; cohorts `trial` (static, 10%), `suppressed` (static, 2%), `active`
and `churned` (dynamic). Predicates: the seed's three examples, a 10-leaf predicate and
a win-back predicate (`not` an event: the union plan).

    python benchmarks/predicates.py                              # full size, several minutes
    python benchmarks/predicates.py --contacts 2000 --events 20000   # quick

For each predicate: the plan chosen, the count, the dry-run through the HTTP API and the
raw count pipeline (median of `--repeat` runs) and their ratio; then every plan able to
answer it, timed on its own. Counts are checked against the in-memory evaluator run over
every subject at the same `asOf`. Finally the evaluator's subject evaluations per second
on the 10-leaf predicate, with and without explanations.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from audiences.auth import mint_token
from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database, open_database
from audiences.journeys.schemas import ACTIVE_NOT_CHURNED, PRO_OR_ADMIN, TRIAL_ACTIVE_NOT_CONVERTED
from audiences.journeys.service import ResolvedPredicate, check_predicate
from audiences.main import create_app
from audiences.predicates import (
    CompiledPredicate,
    PlanName,
    choose_plan,
    compile_predicate,
    evaluate_subject,
    predicate_dependencies,
)
from audiences.predicates.analysis import event_specs
from audiences.tenancy import TenantScope, system_scope

AS_OF = dt.datetime(2026, 4, 24, 12, 0, tzinfo=dt.UTC)
ORG = "bench"
EVENT_WEIGHTS = {
    "page_viewed": 40,
    "feature.used": 20,
    "email_opened": 15,
    "checkout_started": 10,
    "session_started": 8,
    "purchase": 4,
    "subscription.upgraded": 2,
    "email_unsubscribed": 1,
}

TEN_LEAVES: dict[str, Any] = {
    "kind": "and",
    "clauses": [
        {"kind": "attribute", "fieldPath": "country", "operator": "in", "value": "US, DE, FR"},
        {
            "kind": "or",
            "clauses": [
                {
                    "kind": "event_fired",
                    "eventName": "checkout_started",
                    "window": {"type": "last_n_days", "days": 7},
                    "atLeast": 2,
                },
                {
                    "kind": "event_fired",
                    "eventName": "purchase",
                    "window": {"type": "last_n_days", "days": 30},
                },
            ],
        },
        {
            "kind": "not",
            "clause": {
                "kind": "event_fired",
                "eventName": "subscription.upgraded",
                "window": {"type": "ever"},
            },
        },
        {"kind": "attribute", "fieldPath": "score", "operator": "greater_than", "value": 20},
        {"kind": "attribute", "fieldPath": "signupAt", "operator": "less_than", "value": "2026-04-01"},
        {"kind": "event_not_fired", "eventName": "email_unsubscribed", "window": {"type": "ever"}},
        {
            "kind": "or",
            "clauses": [
                {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
                {"kind": "in_cohort", "cohortId": "trial"},
            ],
        },
        {"kind": "attribute", "fieldPath": "tags", "operator": "exists"},
    ],
}
WIN_BACK: dict[str, Any] = {
    "kind": "and",
    "clauses": [
        {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"},
        {"kind": "event_not_fired", "eventName": "purchase", "window": {"type": "last_n_days", "days": 30}},
    ],
}
PREDICATES = {
    "seed 1: trial, active 7d, not upgraded": TRIAL_ACTIVE_NOT_CONVERTED,
    "seed 2: pro tier or admin": PRO_OR_ADMIN,
    "seed 3: active and not churned": ACTIVE_NOT_CHURNED,
    "10 leaves": TEN_LEAVES,
    "win-back: pro, no purchase 30d": WIN_BACK,
}


def make_data(contacts: int, events: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rnd = random.Random(seed)
    people = []
    for i in range(contacts):
        doc: dict[str, Any] = {
            "_id": f"{ORG}:u{i:06d}",
            "orgId": ORG,
            "id": f"u{i:06d}",
            "tier": rnd.choices(["free", "pro", "enterprise"], [70, 25, 5])[0],
            "is_admin": rnd.random() < 0.05,
            "country": rnd.choice(["US", "DE", "FR", "GB", "ES", "IT", "NL", "BR"]),
            "score": rnd.randint(0, 100),
            "signupAt": AS_OF - dt.timedelta(days=rnd.randint(1, 400)),
        }
        if rnd.random() < 0.6:
            doc["tags"] = rnd.sample(["vip", "newsletter", "beta", "mobile"], rnd.randint(0, 2))
        people.append(doc)
    names, weights = list(EVENT_WEIGHTS), list(EVENT_WEIGHTS.values())
    rows = [
        {
            "orgId": ORG,
            "userId": f"u{rnd.randrange(contacts):06d}",
            "name": rnd.choices(names, weights)[0],
            "ts": AS_OF - dt.timedelta(milliseconds=rnd.randrange(60 * 86_400_000)),
            "properties": {},
        }
        for _ in range(events)
    ]
    return people, rows


async def load(db: Database, contacts: list[dict[str, Any]], events: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for name, docs in (("contacts", contacts), ("events", events)):
        for start in range(0, len(docs), 5000):
            await db.collection(name).insert_many(docs[start : start + 5000])
            print(f"\r  loading {name}: {min(start + 5000, len(docs)):,}/{len(docs):,}", end="", flush=True)
        print()
    return time.perf_counter() - started


async def median_ms(repeat: int, run: Callable[..., Awaitable[Any]], *args: Any) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await run(*args)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


async def count_rows(db: Database, compiled: CompiledPredicate) -> list[dict[str, Any]]:
    return await db.collection(compiled.collection).aggregate_list(compiled.count_pipeline())


def independent_count(
    resolved: ResolvedPredicate,
    contacts: list[dict[str, Any]],
    events_by_user: dict[str, list[dict[str, Any]]],
) -> int:
    return sum(
        evaluate_subject(
            resolved.predicate,
            subject=c,
            events=events_by_user.get(c["id"], ()),
            cohorts=resolved.cohorts,
            as_of=AS_OF,
            explain=False,
        ).matched
        for c in contacts
    )


async def main(args: argparse.Namespace) -> None:
    settings = Settings(
        mongodb_uri=None,
        embedded_in_memory=True,
        database=f"bench{uuid.uuid4().hex[:6]}",
        jwt_secret="bench-secret-" + "x" * 40,
        sweep_interval_s=0,
    )
    db = open_database(settings)
    await db.connect()
    app = create_app(settings, database=db, clock=FixedClock(AS_OF))
    contacts, events = make_data(args.contacts, args.events, args.seed)
    async with app.router.lifespan_context(app):
        print(f"{args.contacts:,} contacts, {args.events:,} events (embedded, in memory)")
        seconds = await load(db, contacts, events)
        print(f"  loaded in {seconds:.1f} s ({(len(contacts) + len(events)) / seconds:,.0f} docs/s)")
        token = mint_token(settings, orgs=[ORG], ttl=dt.timedelta(hours=2))
        headers = {"Authorization": f"Bearer {token}", "orgid": ORG}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
            rnd = random.Random(args.seed + 1)
            ids = [c["id"] for c in contacts]
            cohorts = [
                {"id": "trial", "name": "Trial", "subjectIds": rnd.sample(ids, len(ids) // 10)},
                {"id": "suppressed", "name": "Suppressed", "subjectIds": rnd.sample(ids, len(ids) // 50)},
                {
                    "id": "active",
                    "name": "Active",
                    "predicate": {
                        "kind": "event_fired",
                        "eventName": "session_started",
                        "window": {"type": "last_n_days", "days": 14},
                    },
                },
                {
                    "id": "churned",
                    "name": "Churned",
                    "predicate": {
                        "kind": "event_not_fired",
                        "eventName": "page_viewed",
                        "window": {"type": "last_n_days", "days": 10},
                    },
                },
            ]
            for cohort in cohorts:
                r = await client.post("/api/cohorts", json=cohort)
                assert r.status_code == 201, r.text
            scope = system_scope(ORG)
            await report(client, db, scope, contacts, events, args.repeat)


async def report(
    client: httpx.AsyncClient,
    db: Database,
    scope: TenantScope,
    contacts: list[dict[str, Any]],
    events: list[dict[str, Any]],
    repeat: int,
) -> None:
    events_by_user: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        events_by_user[e["userId"]].append(e)
    timeout = 600_000
    print()
    print("| predicate | plan | count | evaluator agrees | API dry-run | raw pipeline | API / raw |")
    print("|---|---|---:|---|---:|---:|---:|")
    plan_rows = []
    for label, raw in PREDICATES.items():
        resolved = await check_predicate(db=db, scope=scope, raw=raw, timeout_ms=timeout)
        compiled = compile_predicate(resolved.predicate, scope=scope, cohorts=resolved.cohorts, as_of=AS_OF)

        async def api(raw: Any = raw) -> Any:
            r = await client.post(
                "/api/audiences/dry-run", json={"predicate": raw, "asOf": "2026-04-24T12:00:00Z"}
            )
            assert r.status_code == 200, r.text
            return r.json()

        api_ms, body = await median_ms(repeat, api)
        raw_ms, rows = await median_ms(repeat, count_rows, db, compiled)
        count = rows[0]["n"] if rows else 0
        agrees = body["count"] == count == independent_count(resolved, contacts, events_by_user)
        print(
            f"| {label} | {compiled.plan} | {count:,} | {'yes' if agrees else 'NO'} | "
            f"{api_ms:,.0f} ms | {raw_ms:,.0f} ms | {api_ms / raw_ms:.2f} |",
            flush=True,
        )
        if event_specs(resolved.predicate, resolved.cohorts):
            plans: list[PlanName] = ["union"]
            if choose_plan(resolved.predicate, resolved.cohorts) == "events_first":
                plans.append("events_first")
            for plan in plans:
                forced = compile_predicate(
                    resolved.predicate, scope=scope, cohorts=resolved.cohorts, as_of=AS_OF, plan=plan
                )
                ms, _ = await median_ms(repeat, count_rows, db, forced)
                plan_rows.append((label, plan, ms))
    print()
    print("| predicate | plan | raw pipeline |")
    print("|---|---|---:|")
    for label, plan, ms in plan_rows:
        print(f"| {label} | {plan} | {ms:,.0f} ms |")

    resolved = await check_predicate(db=db, scope=scope, raw=TEN_LEAVES, timeout_ms=timeout)
    names = predicate_dependencies(resolved.predicate, resolved.cohorts).event_names
    sample = contacts[:2000]
    histories = {c["id"]: [e for e in events_by_user.get(c["id"], ()) if e["name"] in names] for c in sample}
    print()
    for explain in (False, True):
        started = time.perf_counter()
        for c in sample:
            evaluate_subject(
                resolved.predicate,
                subject=c,
                events=histories[c["id"]],
                cohorts=resolved.cohorts,
                as_of=AS_OF,
                explain=explain,
            )
        rate = len(sample) / (time.perf_counter() - started)
        print(f"in-memory evaluator, 10 leaves, explain={explain}: {rate:,.0f} subject evaluations/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(main(parser.parse_args()))
