"""The `audiences` command: serve, token, demo, sweep."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import shlex
from typing import Annotated

import typer
import uvicorn
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from audiences.auth import SCOPES, mint_token
from audiences.config import get_settings
from audiences.db import open_database
from audiences.db.indexes import ensure_indexes
from audiences.tenancy import ORG_ID_PATTERN, is_valid_org_id

app = typer.Typer(
    help="Audiences: saved audience definitions answered live from MongoDB.", no_args_is_help=True
)
console = Console(stderr=True)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Run the HTTP API (embedded database unless AUDIENCES_MONGODB_URI is set)."""
    settings = get_settings()
    settings.resolved_jwt_secret()  # fail fast on a missing secret with a real MongoDB
    uvicorn.run(
        "audiences.main:build_app", factory=True, host=host, port=port, reload=reload, log_config=None
    )


_TTL = re.compile(r"^(\d+)([smhd])$")


def _parse_ttl(text: str) -> dt.timedelta:
    match = _TTL.match(text.strip())
    if not match:
        raise typer.BadParameter("use a number and a unit: 30m, 1h, 7d")
    n, unit = int(match.group(1)), match.group(2)
    return dt.timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


@app.command()
def token(
    org: Annotated[list[str], typer.Option("--org", help="Org id the token may act for (repeatable).")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help=f"Scope to grant (repeatable): {', '.join(SCOPES)}.")
    ] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime, e.g. 30m, 1h, 7d.")] = "1h",
    sub: Annotated[str, typer.Option(help="The token's subject.")] = "dev",
) -> None:
    """Print a signed development JWT (HS256 with AUDIENCES_JWT_SECRET or the embedded secret)."""
    scopes = [s for item in scope or [] for s in item.split()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise typer.BadParameter(f"unknown scope(s): {', '.join(unknown)}", param_hint="--scope")
    invalid = [o for o in org if not is_valid_org_id(o)]
    if invalid:
        raise typer.BadParameter(
            f"org ids match {ORG_ID_PATTERN.pattern}; not {', '.join(invalid)}", param_hint="--org"
        )
    typer.echo(mint_token(get_settings(), orgs=org, scopes=scopes or None, ttl=_parse_ttl(ttl), subject=sub))


@app.command()
def demo(
    org: Annotated[str, typer.Option(help="Org id to load the demo tenant into.")] = "demo",
    contacts: Annotated[int, typer.Option(min=1, help="How many contacts.")] = 5_000,
    events_per_contact: Annotated[int, typer.Option(min=0, help="Mean events per contact (90 days).")] = 8,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same tenant).")] = 7,
) -> None:
    """Load a realistic demo tenant: people, places, tiers, tags and 90 days of events."""
    from audiences.demo.loader import load_demo
    from audiences.demo.people import DemoShape

    settings = get_settings()
    shape = DemoShape(contacts=contacts, events_per_contact=events_per_contact, seed=seed)

    async def run() -> None:
        db = open_database(settings)
        try:
            await db.connect()
            await ensure_indexes(db)
            columns = (
                TextColumn("{task.description:<9}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            )
            with Progress(*columns, console=console) as progress:
                tasks = {
                    "contacts": progress.add_task("contacts", total=contacts),
                    "events": progress.add_task("events", total=contacts * events_per_contact),
                }

                def advance(kind: str, n: int) -> None:
                    task = tasks[kind]
                    done = progress.tasks[task].completed + n
                    total = progress.tasks[task].total or 0
                    # The event count is random; keep the bar honest when it passes the estimate.
                    progress.update(task, completed=done, total=max(total, done))

                report = await load_demo(db=db, org_id=org, shape=shape, on_progress=advance)
                progress.update(tasks["events"], total=report.events, completed=report.events)
        finally:
            await db.close()
        console.print(
            f"Loaded {report.contacts:,} contacts and {report.events:,} events into org "
            f"[bold]{org}[/] ({db.description}) in {report.seconds:.1f} s "
            f"= {report.docs_per_second:,.0f} documents/s."
        )
        jwt = mint_token(settings, orgs=[org], ttl=dt.timedelta(hours=12))
        body = json.dumps(
            {"filter": {"datatype": "contact", "where": {"country": "US", "tags": {"$in": ["lead", "mql"]}}}}
        )
        console.print("Try it (with `audiences serve` running):")
        typer.echo(
            "curl -s -X POST http://127.0.0.1:8000/api/crm/audiences/estimate-reach "
            f"-H {shlex.quote('Authorization: Bearer ' + jwt)} -H 'orgid: {org}' "
            f"-H 'content-type: application/json' -d {shlex.quote(body)}"
        )

    asyncio.run(run())


@app.command()
def sweep(
    org: Annotated[str | None, typer.Option(help="Sweep only this org (default: every org).")] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Re-check at this ISO-8601 instant (default: now).")
    ] = None,
) -> None:
    """Re-check time-dependent audiences (`last_n_days`, `$now` dates) and log who left or entered."""
    import audiences.main  # noqa: F401  (every feature registers its audience kind on import)
    from audiences.clock import format_instant, parse_instant
    from audiences.membership.sweep import sweep as run_sweep

    try:
        at = parse_instant(as_of) if as_of is not None else dt.datetime.now(dt.UTC)
    except ValueError as exc:
        raise typer.BadParameter(
            "use an ISO-8601 instant, e.g. 2026-04-24T12:00:00Z", param_hint="--as-of"
        ) from exc
    settings = get_settings()

    async def run() -> None:
        db = open_database(settings)
        try:
            await db.connect()
            await ensure_indexes(db)
            result = await run_sweep(db=db, as_of=at, timeout_ms=settings.query_timeout_ms, org_id=org)
        finally:
            await db.close()
        typer.echo(
            json.dumps(
                {
                    "asOf": format_instant(at),
                    "audiences": result.audiences,
                    "entered": result.entered,
                    "left": result.left,
                    "failed": result.failed,
                    "tookMs": result.took_ms,
                }
            )
        )

    asyncio.run(run())


if __name__ == "__main__":  # pragma: no cover
    app()
