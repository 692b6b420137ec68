"""The acceptance check through the real ``yuqing`` command: YUQING_ALERT_URLS pointing at a JSON
webhook on 127.0.0.1, a 重大 case, ticks at +0, +2 h 30 min and +5 h 10 min, acknowledgement."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.alert_sinks import WebhookSink
from tests.cli import run_cli


@pytest.fixture
def sink():
    with WebhookSink() as s:
        yield s


def _calendar_for(tmp_path, now: datetime) -> str:
    """A config dir whose holidays.toml supplies this year and the next, so that the calendar
    reminder (raised from December when next year's notice is missing, and all year when the
    current year's is: tested in test_alerts.py) does not join this date-independent check."""
    conf = tmp_path / "conf"
    conf.mkdir()
    years = "".join(
        f'[years.{y}]\nsource = "test"\nholidays = ["{y}-01-01"]\n'
        for y in (now.year, now.year + 1)
    )
    (conf / "holidays.toml").write_text(years, encoding="utf-8")
    return str(conf)


def test_major_case_reports_warns_breaches_once_and_ack_silences(tmp_path, sink):
    t0 = datetime.now(UTC).replace(microsecond=0)  # `case open` records the case at the current time
    env = {
        "YUQING_ALERT_URLS": sink.url,
        "YUQING_DATA_DIR": str(tmp_path),
        "YUQING_CONFIG_DIR": _calendar_for(tmp_path, t0),
    }
    db = f"sqlite:///{tmp_path / 'y.db'}"

    def yq(*args: str):
        r = run_cli(*args, db_url=db, env=env)
        assert r.code == 0, r.err
        return r

    yq("case", "open", "--grade", "重大", "--title", "化工园区爆炸", "--discovered-at", t0.isoformat())

    def tick(delta: timedelta) -> list[str]:
        before = len(sink.bodies)
        yq("tick", "--now", (t0 + delta).isoformat())
        return sink.titles()[before:]

    assert tick(timedelta(0)) == ["【第一时间向领导报告】化工园区爆炸"]
    warning = tick(timedelta(hours=2, minutes=30))
    assert len(warning) == 1 and "时限预警" in warning[0]
    assert "发布权威信息(力争3小时)即将到期" in sink.bodies[-1]["message"]
    assert tick(timedelta(hours=2, minutes=30)) == []  # the same instant again: nothing
    breach = tick(timedelta(hours=5, minutes=10))
    assert len(breach) == 1 and "已超最迟时限" in breach[0]
    assert "未在目标时限内完成" not in sink.bodies[-1]["message"]  # the breach inhibits the missed target

    alerts = json.loads(yq("alerts", "list", "--json").out)
    assert alerts and all("id" in a for a in alerts)
    for a in alerts:
        yq("alerts", "ack", str(a["id"]), "--by", "值班员甲")
    assert tick(timedelta(hours=6, minutes=10)) == []
    after = json.loads(yq("alerts", "list", "--json").out)
    assert {a["state"] for a in after} == {"acknowledged"} and after[0]["acknowledged_by"] == "值班员甲"
    titles = sink.titles()  # each message went out exactly once in all
    assert len(titles) == len(set(titles)) == 3


def test_ack_errors_are_clear(tmp_path):
    db = f"sqlite:///{tmp_path / 'y.db'}"
    r = run_cli("alerts", "ack", "42", db_url=db, env={"YUQING_DATA_DIR": str(tmp_path)})
    assert r.code != 0 and "预警不存在" in r.err and "Traceback" not in r.err
    r = run_cli("alerts", "list", "--state", "weird", db_url=db, env={"YUQING_DATA_DIR": str(tmp_path)})
    assert r.code == 2 and "--state" in r.err


def test_deliver_command_reports_failures_and_retries(tmp_path):
    db = f"sqlite:///{tmp_path / 'y.db'}"
    with WebhookSink(status=500) as bad:
        env = {"YUQING_ALERT_URLS": bad.url, "YUQING_DATA_DIR": str(tmp_path)}
        t0 = datetime.now(UTC).replace(microsecond=0)
        assert run_cli("case", "open", "--grade", "较大", "--title", "停水", "--discovered-at", t0.isoformat(),
                       db_url=db, env=env).code == 0
        r = run_cli("alerts", "deliver", "--json", db_url=db, env=env)
        assert r.code == 0 and json.loads(r.out)["retrying"] == 1
        bad.status = 200
        later = (t0 + timedelta(minutes=5)).isoformat()
        r = run_cli("alerts", "deliver", "--json", "--now", later, db_url=db, env=env)
        assert json.loads(r.out)["sent"] == 1 and len(bad.bodies) == 1
        out = json.loads(run_cli("alerts", "outbox", "--json", db_url=db, env=env).out)
        assert out[0]["status"] == "sent" and out[0]["attempts"] == 2 and "127.0.0.1" in out[0]["destination"]
