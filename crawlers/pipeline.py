"""Prepare import batches in worker processes while earlier batches are being stored.

Storing a batch has two halves: work that needs no database (normalising, hashing, assessing,
event features and SimHash: ``ledger.posts.intake.prepare_batch``) and work that does (existence
check, insert, event clustering against the state in this process, commit). On a machine with
more than one core the first half of batch *k + 1* runs in a worker process while the second
half of batch *k* runs here, which nearly doubles the rate of a large import on two cores.

The workers are forked where the platform can (they start at once, with the assessor already
in memory; an import is a single-threaded command, so forking is safe, and a worker never
touches the database connections it inherits), else spawned with the assessor pickled. On Linux
a worker is killed when its parent dies (``PR_SET_PDEATHSIG``), so a killed import leaves no
orphans. Only a bounded number of batches is in flight, so memory does not grow with the file.
If a worker dies, the remaining batches are prepared here instead: the import goes on, slower.
"""

from __future__ import annotations

import gc
import importlib
import logging
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

from analysis.assess import Assessor
from analysis.eventtext import load_segmenter
from ledger.posts.intake import Prepared, RawPost, prepare_batch

log = logging.getLogger(__name__)

#: files with fewer rows than this are prepared in-process (a worker gains nothing on one batch)
MIN_ROWS_FOR_WORKERS = 3_000

#: how much lower the workers' scheduling priority is than the importing process's
WORKER_NICENESS = 5

#: The cyclic garbage collector's thresholds while an import runs (Python's defaults: 700, 10, 10).
#: A batch allocates hundreds of thousands of short-lived objects (rows, features, ORM states);
#: with the defaults they trigger a collection every 700 allocations and, as survivors pile up, a
#: full collection over everything the process holds (the clusterer's state included) about every
#: 2,500 posts: a fifth of the importing process's CPU time. Almost all of these objects are freed
#: by reference counting; the collector still runs, less often.
IMPORT_GC_THRESHOLDS = (50_000, 20, 10)

_ASSESSOR: Assessor | None = None


def _init_worker(assessor: Assessor) -> None:
    global _ASSESSOR
    _ASSESSOR = assessor
    _die_with_parent()
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)  # this process only ever prepares batches
    try:  # the importing process is the critical path: it goes first when the cores are busy
        os.nice(WORKER_NICENESS)
    except OSError:  # pragma: no cover - not permitted here
        pass


def _die_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when its parent exits (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc symbol
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _prepare_in_worker(items: list[RawPost]) -> list[Prepared]:
    assert _ASSESSOR is not None, "worker not initialised"
    return prepare_batch(items, _ASSESSOR)


@contextmanager
def import_gc() -> Iterator[None]:
    """Run the block with the collector's :data:`IMPORT_GC_THRESHOLDS`; the previous ones after."""
    old = gc.get_threshold()
    gc.set_threshold(*IMPORT_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*old)


def auto_workers(requested: int | None = None) -> int:
    """Worker processes to use: ``requested`` if ≥ 0, else as many as the usable cores (max 4; the
    workers run at lower priority, so the importing process still has a core), none on one core."""
    if requested is not None and requested >= 0:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return 0 if cores < 2 else min(4, cores)


def prepared_batches(
    batches: Iterable[list[Any]],
    assessor: Assessor,
    *,
    workers: int,
    posts_of=lambda batch: batch,
) -> Iterator[tuple[list[Any], Sequence[Prepared] | None]]:
    """Yield ``(batch, prepared)`` in order; ``prepared`` is None when the caller must prepare
    in-process (no workers asked for, or the pool broke) and for a batch without posts.
    ``posts_of(batch)`` gives the batch's :class:`RawPost` items (hotline batches hold
    post/message pairs). If reading ``batches`` raises, the batches read before are yielded
    first and the exception is raised after them, as it would be without read-ahead."""
    if workers <= 0:
        for batch in batches:
            yield batch, None
        return
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    forking = ctx.get_start_method() == "fork"
    if forking:
        # The workers' event features need the word segmenter: load it once here and let the
        # forked workers inherit it (each loading its own cost ~1 s of CPU per worker per file).
        # Then freeze what is in memory: the cyclic GC of this process and of the workers skips
        # those objects (the segmenter's dictionary alone is millions), and the workers' pages
        # stay shared. Unfrozen when the import ends.
        load_segmenter()
        importlib.import_module("scipy.sparse")  # SimHash's, imported lazily: once here too
        gc.freeze()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(assessor,))
    ahead: deque[tuple[list[Any], Future | None]] = deque()
    broken = False
    failure: list[Exception] = []  # reading the batches failed: raised once those read are yielded
    source = iter(batches)

    def submit() -> bool:
        nonlocal broken
        if failure:
            return False
        try:
            batch = next(source, None)
        except Exception as exc:  # noqa: BLE001 - re-raised below, after the batches read before it
            failure.append(exc)
            return False
        if batch is None:
            return False
        fut = None
        items = list(posts_of(batch))
        if not items:  # nothing to prepare (e.g. a marker between files)
            ahead.append((batch, None))
            return True
        if not broken:
            try:
                fut = pool.submit(_prepare_in_worker, items)
            except (BrokenProcessPool, RuntimeError) as exc:
                broken = True
                log.warning("import worker unavailable (%s); preparing batches in-process", exc)
        ahead.append((batch, fut))
        return True

    try:
        for _ in range(workers + 1):
            if not submit():
                break
        while ahead:
            batch, fut = ahead.popleft()
            submit()
            prepared = None
            if fut is not None:
                try:
                    prepared = fut.result()
                except BrokenProcessPool as exc:
                    if not broken:
                        log.warning("import worker died (%s); preparing batches in-process", exc)
                    broken = True
            yield batch, prepared
        if failure:
            raise failure[0]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        if forking:
            gc.unfreeze()


def ramped(size: int, start: int = 250) -> Iterator[int]:
    """Batch sizes for a pipelined import: small first batches (``start``, doubling) so that the
    importing process starts storing soon, then ``size`` (never more than ``size``)."""
    n = max(1, min(start, size))
    while n < size:
        yield n
        n *= 2
    while True:
        yield size


__all__ = ["IMPORT_GC_THRESHOLDS", "MIN_ROWS_FOR_WORKERS", "auto_workers", "import_gc", "prepared_batches",
           "ramped"]
