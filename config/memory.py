"""Memory of the long-running service: where its resident memory goes, and the allocator settings.

- :func:`memory_report` breaks the process's memory into the parts a slow rise can hide in:
  resident set (``rss``), glibc malloc's bytes in use and free-but-held (``mallinfo2``), SQLite's
  own heap (``sqlite3_memory_used``, all connections of the process), the blocks Python's
  allocator holds, SQLAlchemy's compiled-statement cache. The service writes it into its status
  file every heartbeat; ``yuqing status`` prints it and the soak bench samples it.
- :func:`trim_heap` and :func:`limit_malloc_arenas` are the glibc calls the service makes so that
  freed memory is given back and threads do not scatter it over many arenas.

Everything here is a no-op or reports ``None`` on a platform without glibc or without a shared
SQLite library: the figures are for diagnosis, never needed to run.
"""

from __future__ import annotations

import ctypes
import functools
import os
import sys
from typing import Any

MB = 2**20


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]


@functools.lru_cache(maxsize=1)
def _glibc():
    """glibc with ``malloc_trim``, ``mallopt`` and ``mallinfo2``, or None (opened once)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("malloc_trim", "mallopt")):
        return None
    if hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
    return libc


@functools.lru_cache(maxsize=1)
def _libsqlite():
    """The SQLite library Python's ``sqlite3`` module is linked against, or None when it is
    linked statically (then ``ctypes`` would load a second copy whose counters stay zero)."""
    import sqlite3  # noqa: F401 - maps the shared library first, so dlopen returns that copy

    try:
        with open(f"/proc/{os.getpid()}/maps", encoding="utf-8", errors="replace") as fh:
            if "libsqlite3.so" not in fh.read():
                return None
        lib = ctypes.CDLL("libsqlite3.so.0")
    except OSError:
        return None
    lib.sqlite3_memory_used.restype = ctypes.c_int64
    lib.sqlite3_memory_highwater.restype = ctypes.c_int64
    lib.sqlite3_memory_highwater.argtypes = [ctypes.c_int]
    lib.sqlite3_soft_heap_limit64.restype = ctypes.c_int64
    lib.sqlite3_soft_heap_limit64.argtypes = [ctypes.c_int64]
    return lib


def trim_heap() -> None:
    """Give freed heap memory back to the system (glibc ``malloc_trim``; a no-op elsewhere).

    A tick allocates and frees a few MB in whichever scheduler thread runs it; without this,
    glibc keeps the freed pages of every thread's arena and the process's RSS only ever rises."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


# glibc's mallopt parameter number of M_ARENA_MAX (malloc.h)
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at ``MALLOC_ARENAS`` before the service starts its threads
    (``mallopt(M_ARENA_MAX)``; a no-op elsewhere, and when the operator set ``MALLOC_ARENA_MAX``).

    By default glibc gives threads up to eight arenas per core; the scheduler's and crawls'
    threads each allocate in their own and free memory there in scattered pages that are seldom
    returned, so a long-running service's RSS creeps up. In the two-hour soak two arenas halved
    that creep (3.55 against 6.33 MB an hour; docs/BENCHMARKS.md, Soak) with tick and crawl
    times unchanged."""
    libc = _glibc()
    if libc is not None and not os.environ.get("MALLOC_ARENA_MAX"):
        libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


def sqlite_memory_bytes() -> int | None:
    """Bytes SQLite holds in this process, over all its connections (None when unknown)."""
    lib = _libsqlite()
    return int(lib.sqlite3_memory_used()) if lib is not None else None


def _rss_parts() -> dict[str, float | None]:
    """The resident set split into anonymous memory (heaps, stacks, Python's arenas) and pages of
    mapped files (libraries, the model files), from /proc; None elsewhere."""
    parts: dict[str, float | None] = {"rss_anon": None, "rss_file": None}
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssFile"):
                    parts["rss_anon" if key == "RssAnon" else "rss_file"] = round(int(value.split()[0]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return parts


def memory_report(engine: Any = None, *, rss_bytes: int | None = None) -> dict[str, Any]:
    """Where this process's memory is, in MB (``None`` where this platform cannot say).

    ``rss``: resident set, ``rss_anon`` / ``rss_file`` its anonymous and file-backed parts;
    ``malloc_used`` / ``malloc_free``: glibc heap bytes in use / freed but
    still held (including memory-mapped chunks in use); ``sqlite``: SQLite's heap, part of
    ``malloc_used``; ``python_blocks``: thousands of blocks Python's allocator has handed out;
    ``compiled_cache``: entries in ``engine``'s compiled-statement cache. ``rss_bytes``: the
    resident set when the caller has just measured it."""
    if rss_bytes is None:
        import psutil

        rss_bytes = psutil.Process().memory_info().rss
    report: dict[str, Any] = {"rss": round(rss_bytes / MB, 1), **_rss_parts(),
                              "malloc_used": None, "malloc_free": None}
    libc = _glibc()
    if libc is not None and hasattr(libc, "mallinfo2"):
        info = libc.mallinfo2()
        report["malloc_used"] = round((info.uordblks + info.hblkhd) / MB, 1)
        report["malloc_free"] = round(info.fordblks / MB, 1)
    sqlite_bytes = sqlite_memory_bytes()
    report["sqlite"] = round(sqlite_bytes / MB, 1) if sqlite_bytes is not None else None
    report["python_blocks"] = round(sys.getallocatedblocks() / 1000, 1)
    cache = getattr(engine, "_compiled_cache", None)
    report["compiled_cache"] = len(cache) if cache is not None else None
    return report
