"""舆情快报: each part collected from a real ledger (SQLite and PostgreSQL), the docx written from
the editable template and read back with python-docx, rendered once by LibreOffice to check a
reader sees it, and the CLI commands `yuqing case brief` / `yuqing events brief`."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from docx import Document
from sqlalchemy import select

from analysis.assess import Assessor
from config.briefs import template_path
from config.caseconfig import load_case_env
from config.settings import get_settings
from ledger.cases.items import add_commitment
from ledger.cases.workflow import open_case
from ledger.db import session_scope
from ledger.models import Post
from ledger.posts.intake import RawPost, store_posts
from ledger.posts.sources import add_source
from ledger.reports.brief import BriefError, collect_case_brief, collect_event_brief
from ledger.reports.brief_docx import PARTS, write_brief_docx
from tests.cli import run_cli

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 14:00 in Beijing
PHONE = "13812345678"
TEXTS = [
    ("青川县城东片区停水两天无人通知", f"青川县城东片区停水两天了，物业说管网维修，没有任何通知，家里有老人，电话{PHONE}", 120),
    ("青川县城东停水何时恢复", "青川县城东片区停水第二天，自来水公司电话打不通，什么时候恢复供水？", 40),
    ("青川城东停水 送水点在哪", "青川县城东片区停水，听说文化广场有送水车，停水两天太难了", 15),
    ("青川县城东停水 居民排队接水", "青川县城东片区停水，居民在东街口排队接水，管网老化问题要解决", 8),
]


@pytest.fixture
def ledger_with_case(any_engine):
    """Two platforms' posts about one thing (one event), a 重大 case on them with a commitment."""
    cfg = get_settings()
    env = load_case_env(cfg)
    with session_scope(any_engine) as s:
        weibo = add_source(s, name="微博关键词 青川县停水", kind="rss", url="http://rsshub.local/weibo/keyword/x",
                           actor="t", now=NOW).id
        tieba = add_source(s, name="青川吧", kind="rss", url="http://rsshub.local/tieba/forum/x", actor="t", now=NOW).id
    for i, (title, text, likes) in enumerate(TEXTS):
        with session_scope(any_engine) as s:
            store_posts(s, source_id=weibo if i % 2 == 0 else tieba, assessor=Assessor(), now=NOW,
                        items=[RawPost(external_id=f"p{i}", title=title, text=text, likes=likes,
                                       published_at=NOW - timedelta(hours=5 - i, minutes=10))])
    with session_scope(any_engine) as s:
        posts = list(s.execute(select(Post).order_by(Post.id)).scalars())
        event_id = posts[0].event_id
        case = open_case(s, title="青川县城东片区停水舆情", grade="重大", discovered_at=NOW - timedelta(hours=4),
                         now=NOW - timedelta(hours=4), actor="值班员", env=env, jurisdiction="青川县",
                         responsible_unit="青川县住建局", disposal_type="实际困难", event_id=event_id,
                         post_ids=[p.id for p in posts], summary="城东片区停水两天，居民反映无通知")
        add_commitment(s, case_id=case.id, text=f"3月3日前恢复供水并公开抢修进展，咨询{PHONE}",
                       owner_unit="青川县住建局", due_date=datetime(2026, 3, 3).date(), now=NOW, actor="值班员", env=env)
        number, case_id = case.number, case.id
    return any_engine, env, number, case_id, event_id


def test_case_brief_collects_every_part(ledger_with_case):
    engine, env, number, _, _ = ledger_with_case
    with session_scope(engine) as s:
        data = collect_case_brief(s, case_ref=number, policy=env.policy, now=NOW)
    # 标题 and 基本情况
    assert data.title == "青川县城东片区停水舆情" and data.number == number == "2026-0001"
    assert data.basics["where"] == "青川县" and data.basics["discovered_at"] == NOW - timedelta(hours=4)
    assert data.basics["first_post_at"] == NOW - timedelta(hours=5, minutes=10)
    # 传播态势: every post counted once per hour, both platforms, the event's heat and trend
    assert data.posts_total == 4 and sum(n for _, n in data.hours) == 4
    assert len(data.hours) == 4 and all(n == 1 for _, n in data.hours)
    assert dict(data.platforms) == {"微博关键词 青川县停水": 2, "青川吧": 2}
    assert data.heat is not None and data.heat > 0 and data.trend["direction"] in ("上升", "下降", "平稳", "突增")
    # 网民主要观点: the most liked first, personal numbers masked
    assert data.opinions[0]["likes"] == 120
    assert PHONE not in data.opinions[0]["text"] and "138" in data.opinions[0]["text"]
    # 情感分布 covers every post
    assert sum(data.sentiment.values()) == 4
    # 研判
    a = data.assessment
    assert (a["grade"], a["disposal_type"], a["responsible_unit"]) == ("重大", "实际困难", "青川县住建局")
    assert a["must_publish"] == "研究解决情况"
    # 处置进展: the clocks of a 重大 case and the commitment (masked)
    clocks = {c["rule"]: c for c in data.progress["clocks"]}
    assert {"authoritative_release_limit", "press_briefing"} <= set(clocks)
    # discovered 4 hours ago: the 3-hour target has passed, the 5-hour limit has not
    assert clocks["authoritative_release_target"]["status_label"] == "已超过期限"
    assert clocks["authoritative_release_limit"]["status_label"] == "计时中"
    assert PHONE not in data.progress["commitments"][0]["text"]
    # 下一步建议: no release yet for a 重大 case; the commitment; the disposal type's duty
    joined = "\n".join(data.suggestions)
    assert "尚未发布权威信息" in joined and "跟踪 1 项承诺" in joined and "研究解决情况" in joined
    assert "“发布权威信息(力争3小时)”已超过期限" in joined


def test_event_brief_and_unknown_subjects(ledger_with_case):
    engine, env, number, _, event_id = ledger_with_case
    with session_scope(engine) as s:
        data = collect_event_brief(s, event_id=event_id, now=NOW)
        members = s.execute(select(Post.id).where(Post.event_id == event_id)).scalars().all()
        assert data.kind == "event" and data.number == f"事件 {event_id}" and data.posts_total == len(members) >= 1
        assert sum(n for _, n in data.hours) == len(members)
        assert data.progress["cases"][0]["number"] == number
        assert any("立案" in x for x in data.suggestions)
        with pytest.raises(BriefError, match="事件不存在"):
            collect_event_brief(s, event_id=999999, now=NOW)
        with pytest.raises(BriefError):
            collect_case_brief(s, case_ref="2099-0042", policy=env.policy, now=NOW)


def _doc_text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for t in doc.tables:
        for row in t.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


@pytest.mark.parametrize("any_url", ["sqlite"], indirect=True)
def test_docx_has_every_part_and_renders_readably(ledger_with_case, tmp_path):
    engine, env, number, _, _ = ledger_with_case
    with session_scope(engine) as s:
        data = collect_case_brief(s, case_ref=number, policy=env.policy, now=NOW)
    path = write_brief_docx(data, tmp_path / "k.docx", template=template_path(get_settings()))
    doc = Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    assert headings == list(PARTS)
    text = _doc_text(path)
    assert "舆 情 快 报" in text and "青川县城东片区停水舆情" in text and "2026-0001" in text
    assert "{{" not in text  # every placeholder of the template filled
    assert "3月2日 14:00" in text  # generated at, Beijing time as people read it
    assert PHONE not in text
    assert "分级 | 重大" in text and "责任单位 | 青川县住建局" in text
    assert "共监测到相关信息 4 条" in text
    assert len(doc.inline_shapes) == 1  # the chart

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice or not shutil.which("pdftoppm"):
        pytest.skip("LibreOffice / poppler-utils not installed (scripts/test-deps.sh installs them)")
    out = tmp_path / "pdf"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path / 'lo'}", "--convert-to", "pdf",
                    "--outdir", str(out), str(path)], check=True, capture_output=True, timeout=180)
    pdf = out / "k.pdf"
    # what a reader sees: the text laid out in the PDF, CJK glyphs mapped back to characters
    seen = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True,
                          text=True).stdout
    for wanted in ("青川县城东片区停水舆情", "2026-0001", "二、传播态势", "七、下一步建议", "尚未发布权威信息"):
        assert wanted in seen.replace(" ", ""), wanted
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
                   check=True, capture_output=True)
    from PIL import Image

    page = Image.open(next(tmp_path.glob("page*.png"))).convert("RGB")
    pixels = [page.getpixel((x, y)) for y in range(page.height) for x in range(page.width)]
    red = sum(1 for r, g, b in pixels if r > 150 and g < 80 and b < 80)  # the template's red header
    ink = sum(1 for r, g, b in pixels if r + g + b < 600)
    assert red > 50 and ink > 0.01 * len(pixels)


def test_cli_case_brief_writes_docx_with_title_and_number(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'y.db'}"
    opened = run_cli("case", "open", "--title", "化工园区爆燃", "--grade", "重大",
                     "--discovered-at", "2026-03-02T08:00:00+08:00", "--unit", "应急管理局", db_url=db_url)
    assert opened.code == 0, opened.err
    got = run_cli("case", "brief", "2026-0001", "--out", str(tmp_path / "out"), "--now", "2026-03-02T10:00:00+08:00",
                  db_url=db_url)
    assert got.code == 0, got.err
    path = Path(got.out.strip())
    assert path.parent == tmp_path / "out" and path.name == "舆情快报_2026-0001.docx"
    text = _doc_text(path)
    assert "化工园区爆燃" in text and "2026-0001" in text and "3月2日 10:00" in text
    missing = run_cli("case", "brief", "2026-0999", "--out", str(tmp_path / "none"), db_url=db_url)
    assert missing.code == 2 and "案件" in missing.err and not (tmp_path / "none").exists()


def test_cli_event_brief_and_a_local_template(tmp_path, sqlite_url, sqlite_engine):
    with session_scope(sqlite_engine) as s:
        sid = add_source(s, name="青川吧", kind="rss", url="http://x.invalid/f", actor="t", now=NOW).id
        store_posts(s, source_id=sid, assessor=Assessor(), now=NOW,
                    items=[RawPost(external_id=f"e{i}", title=t, text=x, likes=k, published_at=NOW - timedelta(hours=1))
                           for i, (t, x, k) in enumerate(TEXTS)])
        event_id = s.execute(select(Post.event_id).where(Post.external_id == "e0")).scalar_one()
    local = tmp_path / "conf"
    local.mkdir()
    doc = Document()
    doc.add_paragraph("某某县网信办 舆情专报 {{编号}}")
    doc.add_paragraph("{{标题}}")
    doc.save(str(local / "brief_template.docx"))
    got = run_cli("events", "brief", str(event_id), "--out", str(tmp_path / "out"), db_url=sqlite_url,
                  env={"YUQING_CONFIG_DIR": str(local)})
    assert got.code == 0, got.err
    text = _doc_text(Path(got.out.strip()))
    assert f"某某县网信办 舆情专报 事件 {event_id}" in text
    assert "三、网民主要观点" in text and PHONE not in text
    bad = run_cli("events", "brief", "424242", "--out", str(tmp_path / "out2"), db_url=sqlite_url)
    assert bad.code == 2 and "事件不存在" in bad.err
