"""A MongoDB wire-protocol server on loopback for the `mongodb` tests when no real server
is given (AUDIENCES_TEST_MONGODB_URI unset): mongoeco's proxy over an in-memory engine,
spoken to through the real `pymongo.AsyncMongoClient`, so the production driver path runs
on every commit.

`python -m tests.mongo_wire` prints the server's URI on its first line and serves until
its standard input closes (so it never outlives the test session that started it).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def serve() -> None:
    from mongoeco.engines import MemoryEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    async with AsyncMongoEcoProxyServer(engine=MemoryEngine(), host="127.0.0.1", port=0) as server:
        print(server.address.uri, flush=True)
        # Serve until the parent closes our stdin (or dies).
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


@contextmanager
def wire_server() -> Iterator[str]:
    """Start the server in a child process and yield its `mongodb://` URI."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.mongo_wire"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        uri = process.stdout.readline().strip()
        if not uri.startswith("mongodb://"):
            raise RuntimeError(f"the mongoeco wire server did not start (exit code {process.poll()})")
        yield uri
    finally:
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


if __name__ == "__main__":
    asyncio.run(serve())
