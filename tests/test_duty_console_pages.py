"""The duty console pages through AppTest on a real SQLite file (issue 21: fresh state after actions,
forms that keep what was typed, unit confirmation, Chinese words, alerts that say what and which case,
long titles)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.db import session_scope
from ledger.models.cases import Case
from tests.test_dashboard import _principal, demo_db  # noqa: F401  (fixture)


def _page(page: str, principal) -> AppTest:
    def script(page_name, user):
        import importlib

        importlib.import_module(f"dashboard.pages.{page_name}").render(user)

    at = AppTest.from_function(script, args=(page, principal), default_timeout=90)
    at.session_state["auth"] = {"principal": principal, "last_seen": datetime.now(UTC), "issued": None}
    return at.run()


def test_a_refused_case_form_keeps_what_was_typed_and_a_success_empties_it(demo_db):  # noqa: F811
    at = _page("cases", _principal(demo_db, "zhiban"))
    {t.label: t for t in at.text_area}["摘要"].input("群众反映停水三天")
    next(b for b in at.button if b.label == "立案").click().run()
    assert any("请填写标题" in e.value for e in at.error), (at.exception, [e.value for e in at.error], [b.label for b in at.button])
    assert {t.label: t.value for t in at.text_area}["摘要"] == "群众反映停水三天"  # not wiped
    at.text_input[0].input("x" * 201)
    next(b for b in at.button if b.label == "立案").click().run()
    assert any("标题过长：201 字，最多 200 字" in e.value for e in at.error), [e.value for e in at.error]
    assert {t.label: t.value for t in at.text_area}["摘要"] == "群众反映停水三天"
    with session_scope(demo_db) as s:
        before = s.exec(select(func.count()).select_from(Case)).one()[0]
    at.text_input[0].input("青山区长乐路停水")
    next(b for b in at.button if b.label == "立案").click().run()
    assert not at.exception and any("立案成功" in m.value for m in at.success)
    with session_scope(demo_db) as s:
        assert s.exec(select(func.count()).select_from(Case)).one()[0] == before + 1
    assert {t.label: t.value for t in at.text_area}["摘要"] == ""  # the form starts empty again
    assert "青山区长乐路停水" in set(at.dataframe[0].value["标题"])  # the list shows the new case at once


def test_a_new_unit_needs_an_explicit_confirmation(demo_db):  # noqa: F811
    at = _page("cases", _principal(demo_db, "zhiban"))
    at.text_input[0].input("管理局门口聚集")
    at.text_input(key="oc_unit__new").input("管理局")
    next(b for b in at.button if b.label == "立案").click().run()
    assert any("新单位「管理局」尚未确认" in e.value for e in at.error)
    with session_scope(demo_db) as s:
        assert s.exec(select(Case).where(Case.title == "管理局门口聚集")).first() is None
    at.text_input(key="oc_unit__new").input("示例市青山区城市管理局")
    at.checkbox(key="oc_unit__confirm").check()
    next(b for b in at.button if b.label == "立案").click().run()
    with session_scope(demo_db) as s:
        case = s.exec(select(Case).where(Case.title == "管理局门口聚集")).scalars().one()
        assert case.responsible_unit == "示例市青山区城市管理局"
    options = at.selectbox(key="oc_unit").options  # county level of the gazetteer is offered too
    assert any("青山区" in o for o in options) and any(o.startswith("示例市") for o in options)


def test_timeline_and_clock_words_are_chinese(demo_db):  # noqa: F811
    from ledger.cases.workflow import open_case

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        case = open_case(s, title="超时案件", grade="较大", discovered_at=now - timedelta(hours=50), now=now, actor="t",
                         env=load_case_env(get_settings()), responsible_unit="示例市生态环境局")
        from ledger.audit import record

        record(s, actor="system", action="clock.missed", entity="case", entity_id=case.id, now=now)
        case_id = case.id
    from dashboard.pages.cases import ACTION_ZH

    assert ACTION_ZH["clock.missed"] == "未达目标时限" and ACTION_ZH["clock.warning"] == "时钟到达预警点"
    at = _page("cases", _principal(demo_db, "zhiban"))
    at.session_state["case_pick"] = case_id
    at.run()
    words = " ".join(str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel())
    for english in ("clock.", "negative", "positive", "running", "missed"):
        assert english not in words


def test_week_labels_carry_their_dates():
    from dashboard.pages.export import week_label

    assert week_label("2026-W49") == "2026-W49 · 11月30日–12月6日"
    assert week_label("2027-W01") == "2027-W01 · 1月4日–1月10日"


def test_duty_alerts_show_trigger_case_number_and_time(demo_db):  # noqa: F811
    from ledger.models.alerts import Alert

    now = datetime.now(UTC)
    with session_scope(demo_db) as s:
        case = s.exec(select(Case).where(Case.title == "滨江区化工园区企业爆炸事故舆情")).scalars().one()
        s.add(Alert(group_key="test:1", trigger="clock_breached", grade="重大", state="open", title="[点我](http://x.example)",
                    subject="case", subject_id=case.id, chain="c", step=0, opened_at=now, updated_at=now))
        number = case.number
    at = _page("onduty", _principal(demo_db, "zhiban"))
    lines = [m.value for m in at.markdown]
    assert any("已超时限" in v and f"案件 {number}".replace("-", "\\-") in v and "月" in v and "日" in v for v in lines), lines
    assert "[点我](http://x.example)" in [t.value for t in at.text]  # the title as plain text


def test_long_titles_are_refused_and_cut_in_tables(demo_db):  # noqa: F811
    from ledger.cases.workflow import CaseError, open_case

    env = load_case_env(get_settings())
    now = datetime.now(UTC)
    with session_scope(demo_db) as s, pytest.raises(CaseError, match="标题过长：10000 字"):
        open_case(s, title="长" * 10_000, grade="一般", discovered_at=now, now=now, actor="t", env=env)
    with session_scope(demo_db) as s:
        open_case(s, title="很" * 200, grade="一般", discovered_at=now, now=now, actor="t", env=env)
    at = _page("cases", _principal(demo_db, "zhiban"))
    titles = list(at.dataframe[0].value["标题"])
    assert "很" * 59 + "…" in titles and max(len(t) for t in titles) <= 60


def test_posts_per_source_and_district_on_both_databases(any_engine):
    from analysis.assess import Assessor
    from ledger.posts.intake import RawPost, store_posts
    from ledger.posts.sources import add_source
    from ledger.reports.dashboard import posts_per_district, posts_per_source

    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    with session_scope(any_engine) as s:
        a = add_source(s, name="论坛", kind="rss", url="http://127.0.0.1/a", actor="t", now=now).id
        b = add_source(s, name="微博", kind="rss", url="http://127.0.0.1/b", actor="t", now=now).id
        store_posts(s, source_id=a, now=now, assessor=Assessor(),
                    items=[RawPost(external_id=str(i), text=f"帖文{i}号") for i in range(3)])
        store_posts(s, source_id=b, now=now, assessor=Assessor(), items=[RawPost(external_id="x", text="一条")])
        from ledger.models.core import Post

        for i, post in enumerate(s.exec(select(Post).order_by(Post.id)).scalars()):
            post.jurisdiction = "青山区" if i < 3 else "河西区"
            s.add(post)
    with session_scope(any_engine) as s:
        assert posts_per_source(s, since=now - timedelta(days=1)) == [("论坛", 3), ("微博", 1)]
        assert posts_per_district(s, since=now - timedelta(days=1)) == [("青山区", 3), ("河西区", 1)]
        assert posts_per_source(s, since=now + timedelta(hours=1)) == []


def test_stats_page_shows_sources_districts_and_rates_as_percentages(demo_db):  # noqa: F811
    at = _page("stats", _principal(demo_db, "zhiban"))
    heads = [h.value for h in at.subheader]
    assert "各来源帖文量" in heads and "各属地帖文量" in heads and "情感走势" in heads
