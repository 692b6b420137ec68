"""Page 台账: filters over cases, and a case page with its timeline, clocks, releases and their 三审
steps, briefings, commitments, referrals, and the actions the signed-in role may take."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard.data import SHANGHAI, case_env, countdown, engine, local_time, now, unit_picker
from dashboard.permissions import may
from dashboard.reach import brief_button
from ledger.users import Principal

ACTION_ZH = {
    "case.open": "立案", "case.regrade": "调整等级", "case.status": "状态流转", "case.update": "修改案件信息",
    "case.link_posts": "关联帖文", "case.leadership_report": "向党委政府报告", "case.release_published": "发布权威信息",
    "release.add": "起草发布稿", "release.review": "审核发布稿", "release.revise": "修改发布稿",
    "release.publish": "发布", "briefing.add": "记录新闻发布会", "referral.add": "移交线索",
    "commitment.add": "记录承诺", "commitment.update": "更新承诺", "commitment.overdue": "承诺逾期",
    "clock.start": "时钟开始", "clock.met": "时钟完成", "clock.cancel": "时钟取消", "clock.pause": "时钟暂停",
    "clock.resume": "时钟恢复", "clock.recompute": "时钟重算", "clock.extend": "时钟延长",
    "clock.close_for_restart": "时钟重新起算", "alert.open": "发出预警", "alert.ack": "确认预警",
    "alert.escalate": "预警升级", "alert.resolve": "预警解除",
}
STATUS_ZH = {"running": "计时中", "warning": "临近", "met": "已完成", "missed": "未达标", "breached": "已超限",
             "paused": "暂停", "cancelled": "已取消"}


def _act(label: str, fn: Callable[..., object], **kwargs) -> bool:
    """Run one service call in its own transaction; show the refusal message when it fails."""
    from ledger.cases.workflow import CaseError
    from ledger.db import session_scope

    try:
        with session_scope(engine()) as session:
            fn(session, **kwargs)
    except (CaseError, ValueError) as exc:
        st.error(f"{label}失败：{exc}")
        return False
    st.success(f"{label}成功")
    return True


def _local_dt(day, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=SHANGHAI)


def _filters(user: Principal) -> dict:
    from ledger.db import session_scope
    from ledger.models.cases import Case
    from ledger.reports.dashboard import distinct_values

    env = case_env()
    with session_scope(engine()) as session:
        units = distinct_values(session, Case.responsible_unit)
        categories = distinct_values(session, Case.category)
    c = st.columns(5)
    status = c[0].multiselect("状态", list(env.policy.statuses), key="f_status", placeholder="全部")
    grade = c[1].multiselect("等级", list(env.policy.grades), key="f_grade", placeholder="全部")
    unit = None
    if not user.is_unit:
        unit = c[2].selectbox("责任单位", ["（全部）", *units], key="f_unit")
        unit = None if unit == "（全部）" else unit
    category = c[3].selectbox("类别", ["（全部）", *categories], key="f_category")
    today = now().astimezone(SHANGHAI).date()
    span = c[4].date_input("发现日期", value=(today - timedelta(days=90), today), key="f_dates")
    start = end = None
    if isinstance(span, tuple | list) and len(span) == 2:
        start, end = _local_dt(span[0], time(0)), _local_dt(span[1], time(0)) + timedelta(days=1)
    return {"status": status, "grade": grade, "responsible_unit": unit,
            "category": None if category == "（全部）" else category, "start": start, "end": end}


def _open_case_form(user: Principal) -> None:
    from ledger.cases.workflow import open_case

    env = case_env()
    with st.expander("新建案件（立案）"):
        with st.form("open_case", clear_on_submit=True):
            title = st.text_input("标题")
            c = st.columns(3)
            grade = c[0].selectbox("等级", list(env.policy.grades))
            disposal = c[1].selectbox("处置类型", ["（待定）", *env.policy.disposal.keys()])
            unit = unit_picker(c[2], "责任单位", value=None, key="oc_unit")
            c2 = st.columns(2)
            day = c2[0].date_input("发现日期", value=now().astimezone(SHANGHAI).date())
            at = c2[1].time_input("发现时间", value=now().astimezone(SHANGHAI).time().replace(second=0, microsecond=0))
            summary = st.text_area("摘要")
            if st.form_submit_button("立案", type="primary"):
                if not title.strip():
                    st.error("请填写标题")
                    return
                _act("立案", open_case, title=title, grade=grade, discovered_at=_local_dt(day, at), now=now(),
                     actor=user.username, env=env, summary=summary or None,
                     disposal_type=None if disposal == "（待定）" else disposal, responsible_unit=unit)


def render(user: Principal) -> None:
    st.title("台账")
    from ledger.db import session_scope
    from ledger.reports.dashboard import can_see_case, filter_cases

    if may(user.role, "open_case"):
        _open_case_form(user)
    f = _filters(user)
    with session_scope(engine()) as session:
        cases = filter_cases(session, unit=user.unit if user.is_unit else None, **f)
        rows = [{"id": c.id, "编号": c.number, "标题": c.title, "等级": c.grade, "状态": c.status,
                 "类别": c.category or "—", "处置类型": c.disposal_type or "—",
                 "责任单位": c.responsible_unit or "—", "发现时间": local_time(c.discovered_at)} for c in cases]
    st.caption(f"共 {len(rows)} 件")
    if not rows:
        st.info("没有符合条件的案件")
        return
    df = pd.DataFrame(rows)
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch")
    labels = {r["id"]: f"{r['编号']} {r['标题'][:30]}" for r in rows}
    chosen = st.selectbox("打开案件", list(labels), format_func=labels.get, key="case_pick")
    if chosen is None:
        return
    with session_scope(engine()) as session:
        from ledger.cases.workflow import get_case

        case = get_case(session, chosen)
        if not can_see_case(case, user.unit if user.is_unit else None):
            st.error("无权查看该案件")
            return
    case_page(user, chosen)


def case_page(user: Principal, case_id: int) -> None:
    from analysis.pii import mask
    from ledger.cases.views import case_detail
    from ledger.db import session_scope

    env = case_env()
    with session_scope(engine()) as session:
        d = case_detail(session, case_id=case_id, policy=env.policy)
    show = (lambda s: s) if user.can_see_pii else (lambda s: mask(s) if s else s)
    st.header(f"{d['number']} {d['title']}")
    c = st.columns([1, 1, 2.4, 1.6])  # unit names run to ten characters and more
    c[0].metric("等级", d["grade"])
    c[1].metric("状态", d["status"])
    c[2].metric("责任单位", d.get("responsible_unit") or "—")
    c[3].metric("处置类型", d.get("disposal_type") or "—")
    st.caption(f"发现时间 {local_time(d['discovered_at'])} · 发生时间 {local_time(d.get('occurred_at'))} · "
               f"牵头单位 {d.get('lead_unit') or '—'} · 协办 {'、'.join(d.get('co_units') or []) or '—'}")
    if d.get("summary"):
        st.text(show(d["summary"]))
    if d.get("must_publish"):
        st.caption(f"办结前须公开：{d['must_publish']}")
    for blocker in d.get("close_blockers") or []:
        st.warning(f"办结条件未满足：{blocker}")
    brief_button("case", d["id"])

    at = now()
    st.subheader("时钟")
    clocks = [{"时钟": k.get("rule_name") or k["rule"], "起算": local_time(k.get("anchor_at")),
               "截止": local_time(k.get("due_at")) + ("（暂定）" if k.get("provisional") else ""),
               "状态": STATUS_ZH.get(k["status"], k["status"]),
               "倒计时": countdown(k.get("due_at"), at) if k["status"] in ("running", "warning") else "—",
               "完成时间": local_time(k.get("met_at"))} for k in d["clocks"]]
    st.dataframe(pd.DataFrame(clocks), hide_index=True, width="stretch") if clocks else st.caption("无时钟")

    tabs = st.tabs(["时间线", "发布与三审", "发布会", "承诺", "移交", "操作"])
    with tabs[0]:
        tl = [{"时间": local_time(e.get("at")), "操作人": e.get("actor"), "动作": ACTION_ZH.get(e.get("action"), e.get("action")),
               "说明": show(e.get("note") or "")} for e in d["timeline"]]
        st.dataframe(pd.DataFrame(tl), hide_index=True, width="stretch")
    with tabs[1]:
        _releases(user, d, show)
    with tabs[2]:
        b = [{"时间": local_time(x["held_at"]), "地点": x["place"], "发言人": x["spokesperson"]} for x in d["briefings"]]
        st.dataframe(pd.DataFrame(b), hide_index=True) if b else st.caption("尚无发布会记录")
        if may(user.role, "briefing"):
            with st.form(f"brief_{case_id}", clear_on_submit=True):
                cc = st.columns(4)
                day = cc[0].date_input("日期", value=at.astimezone(SHANGHAI).date())
                tm = cc[1].time_input("时间", value=time(10, 0))
                place = cc[2].text_input("地点")
                who = cc[3].text_input("发言人")
                if st.form_submit_button("记录发布会"):
                    from ledger.cases.items import add_briefing

                    _act("记录发布会", add_briefing, case_id=case_id, held_at=_local_dt(day, tm), place=place,
                         spokesperson=who, now=now(), actor=user.username, env=env)
    with tabs[3]:
        _commitments(user, d, show)
    with tabs[4]:
        r = [{"移交对象": x["target"], "时间": local_time(x["referred_at"]), "文号": x.get("reference") or "—"}
             for x in d["referrals"]]
        st.dataframe(pd.DataFrame(r), hide_index=True) if r else st.caption("尚无移交记录")
        if may(user.role, "referral"):
            with st.form(f"ref_{case_id}", clear_on_submit=True):
                target = st.selectbox("移交对象", list(env.policy.referral_targets))
                ref = st.text_input("移交文号/说明")
                if st.form_submit_button("记录移交"):
                    from ledger.cases.items import add_referral

                    _act("记录移交", add_referral, case_id=case_id, target=target, referred_at=now(), now=now(),
                         actor=user.username, env=env, reference=ref or None)
    with tabs[5]:
        _actions(user, d)


def _releases(user: Principal, d: dict, show) -> None:
    from ledger.cases.items import PASS, REJECT, add_release, publish_release, review_release

    env = case_env()
    for r in d["releases"]:
        with st.container(border=True):
            st.markdown(f"**{r['kind']}：{show(r['title'])}**（第 {r['revision']} 稿 · {r['status']}）")
            st.text(show(r["text"]))
            done = {(rv["step"], rv["revision"]): rv for rv in r["reviews"]}
            steps = []
            for step in r["review_steps"]:
                rv = done.get((step, r["revision"]))
                steps.append({"步骤": step, "结果": rv["decision"] if rv else "待审", "审核人": rv["reviewer"] if rv else "—",
                              "时间": local_time(rv["reviewed_at"]) if rv else "—"})
            st.dataframe(pd.DataFrame(steps), hide_index=True)
            if r["published_at"]:
                st.caption(f"已于 {local_time(r['published_at'])} 通过 {r.get('channel') or '—'} 发布")
                continue
            if may(user.role, "review"):
                cc = st.columns([2, 2, 1, 1])
                step = cc[0].selectbox("审核步骤", r["review_steps"], key=f"rv_step_{r['id']}")
                comment = cc[1].text_input("意见", key=f"rv_c_{r['id']}")
                for col, decision in ((cc[2], PASS), (cc[3], REJECT)):
                    if col.button(decision, key=f"rv_{decision}_{r['id']}"):
                        _act(f"{step}{decision}", review_release, release_id=r["id"], step=step,
                             reviewer=user.display_name, decision=decision, reviewed_at=now(), now=now(),
                             actor=user.username, env=env, comment=comment or None)
            if may(user.role, "publish"):
                cc = st.columns([3, 1])
                channel = cc[0].text_input("发布渠道", value="政府网站", key=f"pub_ch_{r['id']}")
                if cc[1].button("标记已发布", key=f"pub_{r['id']}"):
                    _act("发布", publish_release, release_id=r["id"], published_at=now(), channel=channel,
                         now=now(), actor=user.username, env=env)
    if may(user.role, "release_draft"):
        with st.form(f"rel_{d['id']}", clear_on_submit=True):
            st.markdown("**起草发布稿**")
            kind = st.selectbox("类型", list(env.policy.release_kinds))
            title = st.text_input("标题")
            text = st.text_area("正文")
            if st.form_submit_button("保存草稿"):
                _act("保存草稿", add_release, case_id=d["id"], kind=kind, title=title, text=text, now=now(),
                     actor=user.username, env=env)


def _commitments(user: Principal, d: dict, show) -> None:
    from ledger.cases.items import add_commitment, update_commitment

    env = case_env()
    rows = [{"id": c["id"], "承诺": show(c["text"]), "责任单位": c["owner_unit"], "期限": c["due_date"],
             "状态": c["status"], "佐证": c.get("evidence") or "—", "公开于": c.get("public_where") or "—"}
            for c in d["commitments"]]
    if rows:
        st.dataframe(pd.DataFrame(rows).drop(columns=["id"]), hide_index=True, width="stretch")
    else:
        st.caption("尚无承诺")
    if not may(user.role, "commitment"):
        return
    with st.form(f"cm_{d['id']}", clear_on_submit=True):
        st.markdown("**记录承诺**")
        text = st.text_input("承诺内容")
        cc = st.columns(2)
        owner = unit_picker(cc[0], "责任单位", value=user.unit or d.get("responsible_unit"), key=f"cm_unit_{d['id']}")
        due = cc[1].date_input("期限", value=now().astimezone(SHANGHAI).date() + timedelta(days=30))
        if st.form_submit_button("保存承诺"):
            _act("记录承诺", add_commitment, case_id=d["id"], text=text, owner_unit=owner or "", due_date=due, now=now(),
                 actor=user.username, env=env)
    if rows:
        with st.form(f"cmu_{d['id']}", clear_on_submit=True):
            st.markdown("**更新承诺落实情况**")
            pick = st.selectbox("承诺", [r["id"] for r in rows],
                                format_func=lambda i: next(r["承诺"][:40] for r in rows if r["id"] == i))
            status = st.selectbox("状态", list(env.policy.commitment_statuses))
            evidence = st.text_input("佐证材料")
            where = st.text_input("公开位置（已公开时填写）")
            if st.form_submit_button("更新"):
                _act("更新承诺", update_commitment, commitment_id=pick, now=now(), actor=user.username, env=env,
                     status=status, evidence=evidence or None, public_where=where or None, at=now())


def _actions(user: Principal, d: dict) -> None:
    from ledger.cases.workflow import change_status, regrade_case, report_to_leadership, update_case

    env = case_env()
    cid = d["id"]
    if may(user.role, "status") and d["allowed_next"]:
        cc = st.columns([2, 3, 1])
        to = cc[0].selectbox("流转到", d["allowed_next"], key=f"st_to_{cid}")
        note = cc[1].text_input("说明", key=f"st_note_{cid}")
        if cc[2].button("流转", key=f"st_go_{cid}"):
            if _act("状态流转", change_status, case_id=cid, to=to, now=now(), actor=user.username, env=env,
                    note=note or None):
                st.rerun()
    if may(user.role, "regrade"):
        cc = st.columns([2, 3, 1])
        grade = cc[0].selectbox("调整等级", [g for g in env.policy.grades if g != d["grade"]], key=f"gr_{cid}")
        reason = cc[1].text_input("理由", key=f"gr_r_{cid}")
        if cc[2].button("调整", key=f"gr_go_{cid}"):
            if _act("调整等级", regrade_case, case_id=cid, grade=grade, now=now(), actor=user.username, env=env,
                    reason=reason or None):
                st.rerun()
    if may(user.role, "assign"):
        cc = st.columns([2, 2, 1])
        unit = unit_picker(cc[0], "责任单位", value=d.get("responsible_unit"), key=f"as_u_{cid}")
        disposal = cc[1].selectbox("处置类型", ["（不变）", *env.policy.disposal.keys()], key=f"as_d_{cid}")
        if cc[2].button("保存", key=f"as_go_{cid}"):
            changes = {"responsible_unit": unit}
            if disposal != "（不变）":
                changes["disposal_type"] = disposal
            _act("交办信息", update_case, case_id=cid, now=now(), actor=user.username, env=env, changes=changes)
    if may(user.role, "report") and not d.get("leadership_reported_at") and d["grade"] in ("重大", "特别重大"):
        if st.button("已向党委政府报告", key=f"rep_{cid}"):
            _act("记录报告", report_to_leadership, case_id=cid, reported_at=now(), now=now(), actor=user.username,
                 env=env)
