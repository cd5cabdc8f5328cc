"""Big CSV uploads: an exact report, and a working set that does not grow with the file.

The files are generated into a temporary directory. The embedded test database lives in
the same heap and keeps every stored (hashed) row, so the heap grows with what is stored;
what must stay flat is the pipeline's own working set. The file handed to the upload
measures `tracemalloc` between its 64 KiB reads: the peak reached within a window on top of
the level at its start is what the pipeline allocated for that slice of the file. A
pipeline that read the file whole would show it in one window; one that kept rows would
still hold them after the audience, and so every stored row, is deleted.

Tracing every allocation makes Python ~5 times slower, so the 200,000-row test traces every
10th window (evenly spread over the file) and the full trace with the leak check runs on a
30,000-row file. Run with `-s` to see the measured figures.
"""

from __future__ import annotations

import time
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any, BinaryIO

from audiences.contacts.service import upsert_contacts
from audiences.custom_audiences import service
from audiences.db import Database
from audiences.tenancy import TenantScope, system_scope
from tests.conftest import AS_OF

NOTES = "Met at the 2026 trade show; asked about the enterprise plan and SSO; follow up in May."
READ_SIZE = 64 * 1024
TRACE_EVERY = 10


def _row(i: int) -> tuple[str, str]:
    """(kind, CSV line) of data row i; the kind says what the report must count it as."""
    j = i // 2000
    if i % 2000 == 0:  # a known contact's e-mail, oddly cased and padded
        return "matched", f"  C{j}@Example.com ,,Ann,Lee,DE,10115,{NOTES}\n"
    if i % 2000 == 1000 and j < 50:  # a known contact's phone, in German local format
        return "matched", f",030 555{100 + j:04d},Bo,Kim,DE,10117,{NOTES}\n"
    if i % 997 == 3:
        return "invalid_email", f"not-an-email,,Cy,Ray,DE,10119,{NOTES}\n"
    if i % 1000 == 501 and _row(i - 1)[0] == "unmatched":  # the row before, once more
        return "duplicate", _row(i - 1)[1]
    phone = f"+33 1 40 {i % 100:02d} {i // 100 % 100:02d} {i // 10000:02d}" if i % 20 == 0 else ""
    return "unmatched", f"person{i}@example.org,{phone},Ed,Gil,FR,75002,{NOTES}\n"


def write_csv(path: Path, rows: int) -> Counter[str]:
    kinds: Counter[str] = Counter()
    with path.open("w", encoding="utf-8") as out:
        out.write("Email,Phone Number,First Name,Last Name,Country,Zip Code,Notes\n")
        for i in range(rows):
            kind, line = _row(i)
            kinds[kind] += 1
            out.write(line)
    return kinds


class WindowedTrace:
    """A binary file that traces the heap between reads: every read window, or every
    `every`-th one (tracing starts fresh for that window, so its peak is what the window
    allocated)."""

    def __init__(self, raw: BinaryIO, *, every: int = 1) -> None:
        self._raw = raw
        self._every = every
        self._reads = 0
        self._window_start = 0
        self.growth: list[int] = []

    def read(self, size: int = -1) -> bytes:
        if tracemalloc.is_tracing():
            current, peak = tracemalloc.get_traced_memory()
            self.growth.append(peak - self._window_start)
            if self._every == 1:
                tracemalloc.reset_peak()
                self._window_start = current
            else:
                tracemalloc.stop()
        self._reads += 1
        if self._every > 1 and self._reads % self._every == 0:
            tracemalloc.start()
            self._window_start = 0
        return self._raw.read(size)


async def _audience_with_known_contacts(db: Database, scope: TenantScope) -> str:
    contacts: list[dict[str, Any]] = [
        {"id": f"k{j}", "email": f"c{j}@example.com", "country": "DE"} for j in range(100)
    ]
    contacts += [{"id": f"k{100 + j}", "phone": f"+4930555{100 + j:04d}", "country": "DE"} for j in range(50)]
    assert (await upsert_contacts(db=db, scope=scope, rows=contacts, max_batch=1000)).rejected == []
    audience = await service.create_audience(
        db=db, scope=scope, body={"type": "file_upload", "name": "Trade show"}, now=AS_OF, timeout_ms=60_000
    )
    return str(audience["id"])


async def _upload(
    db: Database, scope: TenantScope, audience_id: str, source: WindowedTrace
) -> dict[str, Any]:
    return await service.upload_csv(
        db=db,
        scope=scope,
        audience_id=audience_id,
        source=source,
        default_region=None,
        now=AS_OF,
        timeout_ms=60_000,
    )


class TestLargeUploads:
    async def test_200k_rows_give_an_exact_report_with_a_working_set_far_below_the_file(
        self, db: Database, tmp_path: Path
    ) -> None:
        rows = 200_000
        scope = system_scope("acme")
        audience_id = await _audience_with_known_contacts(db, scope)
        path = tmp_path / "people.csv"
        kinds = write_csv(path, rows)
        size = path.stat().st_size

        started = time.perf_counter()
        try:
            with path.open("rb") as raw:
                traced = WindowedTrace(raw, every=TRACE_EVERY)
                result = await _upload(db, scope, audience_id, traced)
        finally:
            tracemalloc.stop()
        elapsed = time.perf_counter() - started

        print(
            f"\n{rows} rows, {size / 1e6:.1f} MB uploaded in {elapsed:.1f} s; largest of "
            f"{len(traced.growth)} traced windows: {max(traced.growth) / 1e6:.2f} MB"
        )
        assert result["rows"] == rows
        assert result["matched"] == kinds["matched"] == 150
        assert result["unmatched"] == kinds["unmatched"]
        assert result["duplicates"] == kinds["duplicate"] > 0
        assert result["invalidCount"] == kinds["invalid_email"] > 0
        assert {r["code"] for r in result["invalid"]} == {"invalid_email"}
        assert result["memberCount"] == 150
        assert len(traced.growth) >= size // READ_SIZE // TRACE_EVERY - 1  # traced all along the file
        assert max(traced.growth) < size / 10

    async def test_the_pipeline_keeps_nothing_once_the_stored_rows_are_gone(
        self, db: Database, tmp_path: Path
    ) -> None:
        rows = 30_000
        scope = system_scope("acme")
        audience_id = await _audience_with_known_contacts(db, scope)
        path = tmp_path / "people.csv"
        kinds = write_csv(path, rows)
        size = path.stat().st_size

        tracemalloc.start()
        try:
            baseline = tracemalloc.get_traced_memory()[0]
            with path.open("rb") as raw:
                traced = WindowedTrace(raw)
                result = await _upload(db, scope, audience_id, traced)
            stored = tracemalloc.get_traced_memory()[0] - baseline
            await service.delete_audience(db=db, scope=scope, audience_id=audience_id)
            left = tracemalloc.get_traced_memory()[0] - baseline
        finally:
            tracemalloc.stop()

        print(
            f"\n{rows} rows, {size / 1e6:.1f} MB: largest window {max(traced.growth) / 1e6:.2f} MB; "
            f"stored rows held {stored / 1e6:.1f} MB; {left / 1e6:.2f} MB left once deleted"
        )
        assert result["unmatched"] == kinds["unmatched"]
        assert max(traced.growth) < 2_000_000
        assert left < 1_000_000
