"""Imports with batch preparation in worker processes (``crawlers.pipeline``): the stored result is
the same as preparing in the importing process, and a worker that dies does not stop the import."""

from __future__ import annotations

import csv
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from analysis.assess import Assessor
from config.settings import get_settings
from config.wiring import build_assessor
from crawlers.importers import ensure_source, import_file, posts_spec
from crawlers.pipeline import auto_workers, prepared_batches
from ledger.db import make_engine
from ledger.migrate import upgrade
from ledger.models.core import Post
from ledger.models.events import Event
from ledger.posts import events as ledger_events
from ledger.posts.intake import RawPost, prepare_batch
from tests.conftest import shared_data

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def stream_sample(path: Path, rows: int) -> Path:
    """The first ``rows`` rows of a real Weibo stream file (repeats and near-copies included)."""
    with shared_data("weibo_stream/2020-02-01.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        kept = [r for _, r in zip(range(rows), reader, strict=False)]
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        w.writerows(kept)
    return path


def run_import(tmp_path: Path, name: str, src: Path, assessor: Assessor, workers: int, url: str | None = None):
    url = url or f"sqlite:///{tmp_path / name}"
    upgrade(url)
    engine = make_engine(url)
    ledger_events.forget_state()
    sid, _ = ensure_source(engine, name="文件导入:sample", kind="file", config={}, actor="test", now=NOW)
    rep = import_file(engine, src, posts_spec(text_col="text", author_col="userid", now=NOW), source_id=sid,
                      assessor=assessor, now=NOW, batch_size=150, workers=workers, min_rows_for_workers=0)
    return engine, rep


def snapshot(engine) -> tuple[list[tuple], list[tuple]]:
    """Every stored post's content, assessment, duplicate link and event (as the ordinal of the
    post that opened it), and every event's totals."""
    with Session(engine) as s:
        posts = s.execute(select(Post).order_by(Post.id)).scalars().all()
        ordinal = {p.id: i for i, p in enumerate(posts)}
        events = s.execute(select(Event).order_by(Event.id)).scalars().all()
        opener = {e.id: ordinal.get(e.rep_post_id) for e in events}
        post_rows = [
            (p.external_id, p.text, p.author, p.content_hash, p.simhash, p.sentiment, round(p.sentiment_score, 6),
             p.categories, p.topics, p.severity, p.sensitivity, p.jurisdiction, p.responsible_unit,
             p.disposal_type, p.rumour, p.pii, p.assessment, ordinal.get(p.dup_of_id), opener.get(p.event_id))
            for p in posts
        ]
        event_rows = [(opener[e.id], e.title, e.posts, e.likes, e.merged_into_id is None) for e in events]
    return post_rows, event_rows


def test_worker_prepared_import_stores_the_same_as_in_process(tmp_path):
    src = stream_sample(tmp_path / "sample.csv", 1_500)
    assessor = build_assessor(get_settings())
    eng0, rep0 = run_import(tmp_path, "inproc.db", src, assessor, workers=0)
    eng1, rep1 = run_import(tmp_path, "workers.db", src, assessor, workers=2)
    assert rep0.rows == rep1.rows == 1_500
    assert rep1.inserted == rep0.inserted > 1_400
    posts0, events0 = snapshot(eng0)
    posts1, events1 = snapshot(eng1)
    assert posts1 == posts0
    assert events1 == events0
    # byte for byte the same rows (JSON texts, stored times) as SQLAlchemy writes them
    raw = [sqlite3.connect(tmp_path / n).execute("SELECT * FROM post ORDER BY id").fetchall()
           for n in ("inproc.db", "workers.db")]
    assert raw[0] == raw[1] and len(raw[0]) == rep0.inserted
    assert any(row[-2] is not None for row in posts0)  # the sample does hold duplicates
    assert len(events0) < len(posts0)  # and posts grouped into events


@pytest.mark.postgres
def test_worker_prepared_import_into_postgresql_matches_sqlite(tmp_path, pg_url):
    """On PostgreSQL the worker's serialised JSON columns are decoded for SQLAlchemy's JSON type:
    the same posts, assessments and events as an in-process import."""
    src = stream_sample(tmp_path / "sample.csv", 800)
    assessor = build_assessor(get_settings())
    pg, rep_pg = run_import(tmp_path, "", src, assessor, workers=1, url=pg_url)
    lite, rep_lite = run_import(tmp_path, "inproc.db", src, assessor, workers=0)
    try:
        assert rep_pg.inserted == rep_lite.inserted > 700
        assert snapshot(pg) == snapshot(lite)
    finally:
        pg.dispose()


def test_batches_come_back_prepared_in_order_by_another_process():
    assessor = build_assessor(get_settings())
    batches = [[RawPost(external_id=f"{b}-{i}", text=f"第{b}批第{i}条 武汉发热门诊排队 #口罩#", likes=i)
                for i in range(20)] for b in range(6)]
    out = list(prepared_batches(iter(batches), assessor, workers=1))
    assert [b for b, _ in out] == batches
    for batch, prepared in out:
        assert prepared is not None and len(prepared) == len(batch)
        local = prepare_batch(batch, assessor)
        for got, want in zip(prepared, local, strict=True):
            assert (got.title, got.text, got.digest, got.fingerprint) == (want.title, want.text, want.digest,
                                                                           want.fingerprint)
            assert got.all_values() == want.all_values()
            assert got.values["sentiment"] in ("positive", "neutral", "negative") and "categories" in got.json
            assert dict(got.features.terms) == dict(want.features.terms)
            assert got.features.tag_words == want.features.tag_words == {"#口罩#": ()}


class _DiesInWorker(Assessor):
    """An assessor that kills the process it runs in unless that is the test's own process."""

    parent = os.getpid()

    def assess_batch(self, texts, heats=None):
        if os.getpid() != self.parent:
            os._exit(13)
        return super().assess_batch(texts, heats)


def test_import_goes_on_when_the_worker_dies(tmp_path):
    src = stream_sample(tmp_path / "sample.csv", 600)
    cfg = get_settings()
    base = build_assessor(cfg)
    dying = _DiesInWorker(sentiment=base.sentiment, rules=base.config, units=base.gazetteer,
                          topic_model=base.topic_model, topic_units=base.topic_units)
    engine, rep = run_import(tmp_path, "dies.db", src, dying, workers=1)
    ref_engine, ref = run_import(tmp_path, "ref.db", src, base, workers=0)
    assert rep.rows == ref.rows == 600
    assert rep.inserted == ref.inserted > 550
    # prepared here instead, fully: the same posts, assessments and events as an in-process import
    assert snapshot(engine) == snapshot(ref_engine)


def test_auto_workers_follow_the_cores():
    assert auto_workers(0) == 0 and auto_workers(3) == 3
    cores = len(os.sched_getaffinity(0))
    assert auto_workers(-1) == (0 if cores < 2 else min(4, cores))


def test_batches_ramp_up_then_keep_the_requested_size():
    from itertools import islice

    from crawlers.pipeline import ramped

    assert list(islice(ramped(2000), 6)) == [250, 500, 1000, 2000, 2000, 2000]
    assert list(islice(ramped(100), 3)) == [100, 100, 100]
    assert max(islice(ramped(300), 20)) == 300


def _split(src: Path, parts: list[Path]) -> list[Path]:
    """``src``'s rows dealt out into consecutive files with the same header."""
    with src.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        head = next(reader)
        rows = list(reader)
    size = -(-len(rows) // len(parts))
    for n, path in enumerate(parts):
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(head)
            w.writerows(rows[n * size : (n + 1) * size])
    return parts


def test_several_files_through_one_pipeline_store_each_file_into_its_source(tmp_path):
    """``import_files`` with workers: one pool for all files, batches never mixing two files;
    per file the same posts (in its own source), report and audit entry as one file at a time
    prepared in-process, and the events the same as well."""
    from crawlers.importers import FileJob, import_files
    from ledger.models.core import AuditLog

    files = _split(stream_sample(tmp_path / "all.csv", 1_200), [tmp_path / f"part{n}.csv" for n in range(3)])
    assessor = build_assessor(get_settings())
    spec = posts_spec(text_col="text", author_col="userid", now=NOW)

    def run(name: str, workers: int):
        url = f"sqlite:///{tmp_path / name}"
        upgrade(url)
        engine = make_engine(url)
        ledger_events.forget_state()
        jobs = [FileJob(p, ensure_source(engine, name=f"文件导入:{p.name}", kind="file", config={}, actor="t",
                                         now=NOW)[0]) for p in files]
        done: list[str] = []
        if workers:
            reports = import_files(engine, jobs, spec, assessor=assessor, now=NOW, batch_size=150,
                                   workers=workers, min_rows_for_workers=0,
                                   on_file=lambda rep: done.append(rep.source_name))
        else:
            reports = [import_file(engine, j.path, spec, source_id=j.source_id, assessor=assessor, now=NOW,
                                   batch_size=150) for j in jobs]
            done = [r.source_name for r in reports]
        with Session(engine) as s:
            per_source = {sid: s.execute(select(Post.external_id).where(Post.source_id == sid)
                                         .order_by(Post.id)).scalars().all() for sid in (j.source_id for j in jobs)}
            audits = s.execute(select(AuditLog.entity_id, AuditLog.after).where(AuditLog.action == "import.file")
                               .order_by(AuditLog.id)).all()
        return engine, reports, done, per_source, audits

    eng0, reps0, done0, src0, aud0 = run("one_by_one.db", 0)
    eng1, reps1, done1, src1, aud1 = run("pipeline.db", 2)
    assert done1 == done0 == [f"文件导入:{p.name}" for p in files]  # told as each file finished, in order
    assert [(r.rows, r.inserted, r.unchanged) for r in reps1] == [(r.rows, r.inserted, r.unchanged) for r in reps0]
    assert sum(r.rows for r in reps1) == 1_200 and all(r.inserted > 300 for r in reps1)
    assert src1 == src0 and all(len(v) == r.inserted for v, r in zip(src1.values(), reps1, strict=True))
    assert aud1 == aud0 and [a[1]["file"] for a in aud1] == [p.name for p in files]
    assert snapshot(eng1) == snapshot(eng0)


def test_a_file_unreadable_after_its_check_stops_the_import_after_storing_what_came_before(tmp_path):
    """Read-ahead must not lose rows: when the second file turns out unreadable part-way (it changed
    after it was checked), the first file is stored and audited in full, the second file's batches
    before the bad row are stored, and the error names the file."""
    from crawlers.importers import FileJob, ImportFileError, import_files, validate
    from ledger.models.core import AuditLog

    first, second = _split(stream_sample(tmp_path / "all.csv", 900), [tmp_path / "a.csv", tmp_path / "b.csv"])
    spec = posts_spec(text_col="text", author_col="userid", now=NOW)
    checked = [validate(p, spec, rename={}, encoding=None) for p in (first, second)]
    bad_at = 300  # changed after the check: a row with more fields than the header, mid-file
    lines = second.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(bad_at, "789,多出一列,的行\n")
    second.write_text("".join(lines), encoding="utf-8")

    url = f"sqlite:///{tmp_path / 'stop.db'}"
    upgrade(url)
    engine = make_engine(url)
    ledger_events.forget_state()
    jobs = [FileJob(p, ensure_source(engine, name=p.name, kind="file", config={}, actor="t", now=NOW)[0], n)
            for p, n in zip((first, second), checked, strict=True)]
    finished: list[str] = []
    with pytest.raises(ImportFileError, match=r"^b\.csv: "):
        import_files(engine, jobs, spec, assessor=build_assessor(get_settings()), now=NOW, batch_size=100,
                     workers=2, min_rows_for_workers=0, on_file=lambda rep: finished.append(rep.source_name))
    assert finished == ["a.csv"]
    with Session(engine) as s:
        stored = {sid: s.execute(select(Post.external_id).where(Post.source_id == sid)).scalars().all()
                  for sid in (j.source_id for j in jobs)}
        audited = s.execute(select(AuditLog.entity_id).where(AuditLog.action == "import.file")).scalars().all()
    assert audited == [str(jobs[0].source_id)]
    assert len(stored[jobs[0].source_id]) > 400  # the whole first file
    # the second file's batches read before the bad row (data row 300: two whole batches of 100;
    # the stream repeats a few rows), as an import without read-ahead leaves it
    assert 190 <= len(stored[jobs[1].source_id]) <= 200
