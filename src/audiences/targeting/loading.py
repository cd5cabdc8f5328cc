"""Reference data is built on first use, once per process, and then kept in memory."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable


class Lazy[T]:
    """A value built by `build` on the first `get()`; concurrent first callers wait for the
    one build (routes run in a thread pool)."""

    def __init__(self, build: Callable[[], T], *, bulk: bool = False) -> None:
        self._build = build
        self._bulk = bulk
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value
                if value is None:
                    value = _bulk_build(self._build) if self._bulk else self._build()
                    self._value = value
        return value


def _bulk_build[T](build: Callable[[], T]) -> T:
    """Run `build` (which creates millions of small objects) with the cycle collector paused,
    then move what it made to the collector's permanent generation. Without this, every
    later full collection walks the whole catalogue and stalls a request for ~0.5 s."""
    gc.disable()
    try:
        built = build()
    finally:
        gc.enable()
    gc.collect()
    gc.freeze()
    return built
