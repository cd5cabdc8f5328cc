"""Bounded loopback load against a real server: req/s, p50, p99, errors, and no lost writes.

Starts `uvicorn --factory audiences.main:build_app` as a subprocess on 127.0.0.1 with the
embedded backend (SQLite) in a temporary data directory, seeds `--seed` contacts and two
segments, then for each concurrency level (`--concurrency`, default 1,8,32) runs that many
clients for `--duration` seconds (default 20, at most 60). Each client loops over a mix:

    contacts:batch (--batch new contacts)   20 %     estimate-reach            20 %
    events:batch   (--batch new events)     20 %     segment list              20 %
                                                     contact get (a known id)  20 %

Every response that is not 2xx, and every transport error, counts as an error. At the
end every acknowledged write is read back: each contact id with `GET`, the contact count
with estimate-reach over the run's marker field, and each acknowledged event by sending
it again (all must come back as duplicates).

    python benchmarks/load.py                                  # 1, 8, 32 clients, 20 s each
    python benchmarks/load.py --concurrency 32 --duration 30
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from audiences.auth import mint_token
from audiences.config import Settings

MAX_DURATION_S = 60
ORG = "load"
RUN = secrets.token_hex(4)
COUNTRIES = ["US", "DE", "FR", "GB", "ES", "IT", "NL", "SE"]
TIERS = ["free", "pro", "enterprise"]
EVENT_NAMES = ["page_viewed", "checkout_started", "purchase", "email_opened"]


@dataclass
class Phase:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    error_samples: list[str] = field(default_factory=list)


@dataclass
class Written:
    """What the server acknowledged, to read back at the end."""

    contacts: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)


class Load:
    def __init__(self, client: httpx.AsyncClient, *, batch: int, rnd: random.Random) -> None:
        self.client = client
        self.batch = batch
        self.rnd = rnd
        self.written = Written()
        self.segment_id = ""
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def contact(self, cid: str) -> dict[str, Any]:
        return {
            "id": cid,
            "email": f"{cid}@example.com",
            "country": self.rnd.choice(COUNTRIES),
            "tier": self.rnd.choice(TIERS),
            "score": self.rnd.randint(0, 1000),
            "loadRun": RUN,
            "lastSeenAt": (
                dt.datetime(2026, 4, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=self._serial)
            ).isoformat(),
        }

    async def write_contacts(self, size: int | None = None) -> httpx.Response:
        ids = [f"c{RUN}-{self._next()}" for _ in range(size or self.batch)]
        r = await self.client.post(
            "/api/crm/contacts:batch", json={"contacts": [self.contact(i) for i in ids]}
        )
        if r.status_code == 200:
            refused = {x["index"] for x in r.json()["rejected"]}
            self.written.contacts.extend(i for n, i in enumerate(ids) if n not in refused)
        return r

    async def write_events(self) -> httpx.Response:
        known = self.written.contacts or ["nobody"]
        rows = [
            {
                "eventId": f"e{RUN}-{self._next()}",
                "userId": self.rnd.choice(known),
                "name": self.rnd.choice(EVENT_NAMES),
                "ts": "2026-04-20T10:00:00Z",
                "properties": {"value": self.rnd.randint(1, 500)},
            }
            for _ in range(self.batch)
        ]
        r = await self.client.post("/api/events:batch", json={"events": rows})
        if r.status_code == 200:
            refused = {x["index"] for x in r.json()["rejected"]}
            self.written.events.extend(row for n, row in enumerate(rows) if n not in refused)
        return r

    async def estimate_reach(self) -> httpx.Response:
        where = {"country": self.rnd.choice(COUNTRIES), "tier": {"$in": ["pro", "enterprise"]}}
        return await self.client.post(
            "/api/crm/audiences/estimate-reach", json={"filter": {"datatype": "contact", "where": where}}
        )

    async def list_segments(self) -> httpx.Response:
        return await self.client.get("/api/crm/audiences/segments")

    async def get_contact(self) -> httpx.Response:
        cid = self.rnd.choice(self.written.contacts)
        return await self.client.get(f"/api/crm/contacts/{cid}")

    def mix(self) -> list[tuple[str, Callable[[], Awaitable[httpx.Response]]]]:
        return [
            ("contacts:batch", self.write_contacts),
            ("events:batch", self.write_events),
            ("estimate-reach", self.estimate_reach),
            ("segment list", self.list_segments),
            ("contact get", self.get_contact),
        ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, secret: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "AUDIENCES_DATA_DIR": str(data_dir),
        "AUDIENCES_JWT_SECRET": secret,
        "AUDIENCES_LOG_LEVEL": "WARNING",
        "AUDIENCES_SWEEP_INTERVAL_S": "0",
    }
    env.pop("AUDIENCES_MONGODB_URI", None)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "audiences.main:build_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(data_dir / "server.log", "wb")
    )


async def wait_ready(client: httpx.AsyncClient, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("the server did not become ready in 60 s")


async def run_phase(load: Load, *, concurrency: int, duration: float) -> tuple[Phase, float]:
    phase = Phase()
    mix = load.mix()
    deadline = time.monotonic() + duration

    async def worker() -> None:
        while time.monotonic() < deadline:
            name, call = load.rnd.choice(mix)
            started = time.perf_counter()
            try:
                r = await call()
                ok = 200 <= r.status_code < 300
                detail = f"{name}: {r.status_code} {r.text[:160]}"
            except httpx.HTTPError as exc:
                ok, detail = False, f"{name}: {type(exc).__name__} {exc}"
            phase.latencies[name].append(time.perf_counter() - started)
            if not ok:
                phase.errors[name] += 1
                if len(phase.error_samples) < 5:
                    phase.error_samples.append(detail)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return phase, time.perf_counter() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(concurrency: int, phase: Phase, elapsed: float) -> None:
    every = [v for vs in phase.latencies.values() for v in vs]
    errors = sum(phase.errors.values())
    print(
        f"\nconcurrency {concurrency}: {len(every):,} requests in {elapsed:.1f} s = "
        f"{len(every) / elapsed:,.1f} req/s, p50 {percentile(every, 0.5) * 1000:,.1f} ms, "
        f"p99 {percentile(every, 0.99) * 1000:,.1f} ms, errors {errors}"
    )
    print(f"  {'operation':<16}{'requests':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, values in sorted(phase.latencies.items()):
        print(
            f"  {name:<16}{len(values):>10,}{statistics.median(values) * 1000:>10,.1f}"
            f"{percentile(values, 0.99) * 1000:>10,.1f}{phase.errors.get(name, 0):>8}"
        )
    for sample in phase.error_samples:
        print(f"  error: {sample}")


async def verify(load: Load, *, concurrency: int) -> int:
    """Lost writes: acknowledged contacts or events the server cannot give back."""
    gate = asyncio.Semaphore(concurrency)
    missing: list[str] = []

    async def check(cid: str) -> None:
        async with gate:
            r = await load.client.get(f"/api/crm/contacts/{cid}")
            if r.status_code != 200 or r.json().get("loadRun") != RUN:
                missing.append(cid)

    await asyncio.gather(*(check(c) for c in load.written.contacts))
    reach = await load.client.post(
        "/api/crm/audiences/estimate-reach",
        json={"filter": {"datatype": "contact", "where": {"loadRun": RUN}}},
    )
    counted = reach.json()["count"]
    lost_events = 0
    events = load.written.events
    for start in range(0, len(events), 1000):
        chunk = events[start : start + 1000]
        r = await load.client.post("/api/events:batch", json={"events": chunk})
        body = r.json()
        lost_events += len(chunk) - int(body["duplicates"])
    print(
        f"\nread back: {len(load.written.contacts):,} acknowledged contacts, {len(missing)} missing by GET, "
        f"estimate-reach counts {counted:,}; {len(events):,} acknowledged events, {lost_events} not stored"
    )
    return len(missing) + abs(counted - len(load.written.contacts)) + lost_events


async def main(args: argparse.Namespace) -> int:
    secret = secrets.token_urlsafe(48)
    port = args.port or _free_port()
    with tempfile.TemporaryDirectory(prefix="audiences-load-") as tmp:
        data_dir = Path(tmp)
        proc = start_server(data_dir, secret, port)
        token = mint_token(
            Settings(jwt_secret=secret, data_dir=data_dir), orgs=[ORG], ttl=dt.timedelta(hours=2)
        )
        headers = {"Authorization": f"Bearer {token}", "orgid": ORG}
        limits = httpx.Limits(max_connections=max(args.concurrency) + 4)
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120, limits=limits
            ) as client:
                await wait_ready(client, proc)
                load = Load(client, batch=args.batch, rnd=random.Random(args.seed_value))
                for start in range(0, args.seed, 500):
                    (await load.write_contacts(min(500, args.seed - start))).raise_for_status()
                for name, where in (("Pro", {"tier": "pro"}), ("Germany", {"country": "DE"})):
                    r = await client.post(
                        "/api/crm/audiences/segments",
                        json={"name": name, "filter": {"datatype": "contact", "where": where}},
                    )
                    r.raise_for_status()
                print(
                    f"server pid {proc.pid} on 127.0.0.1:{port}, embedded SQLite in {data_dir}; "
                    f"seeded {len(load.written.contacts):,} contacts; run {RUN}; "
                    f"{args.duration:.0f} s per level, batches of {args.batch}"
                )
                errors = 0
                for concurrency in args.concurrency:
                    phase, elapsed = await run_phase(load, concurrency=concurrency, duration=args.duration)
                    report(concurrency, phase, elapsed)
                    errors += sum(phase.errors.values())
                lost = await verify(load, concurrency=max(args.concurrency))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(f"\ntotal errors {errors}, lost writes {lost}")
    return 0 if errors == 0 and lost == 0 else 1


def _levels(text: str) -> list[int]:
    levels = [int(x) for x in text.split(",") if x.strip()]
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive integers")
    return levels


def _duration(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_DURATION_S:
        raise argparse.ArgumentTypeError(f"between 0 and {MAX_DURATION_S} seconds")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=_levels, default=[1, 8, 32], help="levels, e.g. 1,8,32")
    parser.add_argument("--duration", type=_duration, default=20.0, help="seconds per level (≤ 60)")
    parser.add_argument("--batch", type=int, default=20, help="rows per contacts:batch / events:batch")
    parser.add_argument("--seed", type=int, default=2000, help="contacts stored before the first level")
    parser.add_argument("--seed-value", type=int, default=13, help="random seed of the request mix")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    sys.exit(asyncio.run(main(parser.parse_args())))
