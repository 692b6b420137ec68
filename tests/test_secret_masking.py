"""Issue #22.8: credentials in source URLs never appear in `source list` (text or JSON), nor in the
errors recorded on a source."""

from __future__ import annotations

import json

from ledger.redact import mask_text, mask_url
from tests.cli import run_cli


def test_source_list_masks_passwords_and_secret_query_parameters(tmp_path):
    db_url = f"sqlite:///{tmp_path / 's.db'}"
    url = "http://robot:Pa55w0rd@127.0.0.1:9/feed.xml?key=K3Y-SECRET&access_token=T0KEN&page=2"
    added = run_cli("source", "add", "--kind", "rss", "--name", "带密码的订阅源", "--url", url, db_url=db_url)
    assert added.code == 0, added.err
    crawl = run_cli("crawl", "--source", added.out.strip(), db_url=db_url)  # fails: nothing listens on :9
    assert crawl.code != 0
    for args in (("source", "list", "--json"), ("source", "list")):
        out = run_cli(*args, db_url=db_url)
        assert out.code == 0, out.err
        for secret in ("Pa55w0rd", "K3Y-SECRET", "T0KEN", "robot"):
            assert secret not in out.out, (args, out.out)
    listed = json.loads(run_cli("source", "list", "--json", db_url=db_url).out)
    assert listed[0]["url"] == "http://***@127.0.0.1:9/feed.xml?key=***&access_token=***&page=2"
    assert listed[0]["last_error"]  # the failure is still shown, without the credentials


def test_mask_helpers():
    assert mask_url("mailto://user:pw@smtp.example.gov.cn?to=a@b.cn") == "mailto://***@smtp.example.gov.cn?to=a%40b.cn"
    assert mask_url("json://127.0.0.1:8080/hook") == "json://127.0.0.1:8080/hook"
    assert mask_text("失败: https://x:y@h.cn/a?sign=abc 超时") == "失败: https://***@h.cn/a?sign=*** 超时"


def test_migration_replaces_stored_destination_urls_by_references(tmp_path):
    from datetime import UTC, datetime

    from sqlalchemy import text

    from ledger.alerts.outbox import deliver_due
    from ledger.db import make_engine
    from ledger.migrate import upgrade
    from tests.alert_sinks import WebhookSink

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0009_source_warning")
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with WebhookSink() as sink:
        secret = sink.url.replace("://", "://bot:S3CRET@")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO notification (idempotency_key, kind, recipient, destination, subject, body,"
                              " attachments, status, attempts, created_at, updated_at) VALUES ('old-1', 'alert', '',"
                              " :d, '旧通知', '正文', '[]', 'pending', 0, :t, :t)"), {"d": secret, "t": now})
        engine.dispose()
        upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT destination FROM notification")).scalar_one()
        assert stored.startswith("ref:") and "S3CRET" not in stored
        assert deliver_due(engine, now=now, destinations=[secret]).sent == 1
        assert sink.titles() == ["旧通知"]
        engine.dispose()
