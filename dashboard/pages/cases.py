"""Page 台账: filters over cases, and a case page with its timeline, clocks, releases and their 三审
steps, briefings, commitments, referrals, and the actions the signed-in role may take."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard.data import (
    SHANGHAI,
    URGENCY_STYLE,
    act_time_input,
    case_env,
    clip,
    countdown,
    engine,
    local_time,
    now,
    unit_picker,
    unit_refusal,
    urgency,
)
from dashboard.permissions import may
from dashboard.reach import brief_button
from dashboard.safe import audited_download, md_text
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
    "alert.escalate": "预警升级", "alert.resolve": "预警解除", "alert.update": "预警更新",
    "clock.warning": "时钟到达预警点", "clock.missed": "未达目标时限", "clock.breached": "超过最迟时限",
    "clock.running": "时钟恢复计时", "message.clock": "留言时限", "message.reply": "答复留言",
}
BACKFILL = "补录"
STATUS_ZH = {"running": "计时中", "warning": "临近", "met": "已完成", "missed": "未达标", "breached": "已超限",
             "paused": "暂停", "cancelled": "已取消"}
MISSING_TIME = "请填写{what}日期和时间（北京时间）"


def _act(label: str, fn: Callable[..., object], *, form: str | None = None, **kwargs) -> bool:
    """Run one service call in its own transaction. A refusal is shown and the form keeps what was
    typed; on success the page runs again at once, so every table, clock and header shows the new
    state, the form (``form``, see :func:`_fk`) starts empty, and the success note follows."""
    from dashboard.data import forget_units
    from ledger.cases.workflow import CaseError
    from ledger.db import session_scope

    try:
        with session_scope(engine()) as session:
            fn(session, **kwargs)
    except (CaseError, ValueError) as exc:
        st.error(f"{label}失败：{md_text(exc)}")
        return False
    if form is not None:
        st.session_state[f"_gen_{form}"] = st.session_state.get(f"_gen_{form}", 0) + 1
    forget_units()  # a unit used for the first time is offered at once
    st.session_state["_flash"] = f"{label}成功"
    st.rerun()
    return True


def _fk(name: str) -> str:
    """The key of form ``name`` in its current generation (a new generation after each success
    empties the form; a refusal keeps it)."""
    return f"{name}__{st.session_state.get(f'_gen_{name}', 0)}"


def _flash() -> None:
    note = st.session_state.pop("_flash", None)
    if note:
        st.success(note)


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
        with st.form(_fk("open_case")):
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
                if unit_refusal("oc_unit"):
                    st.error(md_text(unit_refusal("oc_unit")))
                    return
                _act("立案", open_case, form="open_case", title=title, grade=grade, discovered_at=_local_dt(day, at), now=now(),
                     actor=user.username, env=env, summary=summary or None,
                     disposal_type=None if disposal == "（待定）" else disposal, responsible_unit=unit)


def render(user: Principal) -> None:
    st.title("台账")
    _flash()
    from ledger.db import session_scope
    from ledger.reports.dashboard import can_see_case, filter_cases

    if may(user.role, "open_case"):
        _open_case_form(user)
    f = _filters(user)
    with session_scope(engine()) as session:
        cases = filter_cases(session, unit=user.unit if user.is_unit else None, **f)
        rows = [{"id": c.id, "编号": c.number, "标题": clip(c.title, 60), "等级": c.grade, "状态": c.status,
                 "类别": c.category or "—", "处置类型": c.disposal_type or "—",
                 "责任单位": c.responsible_unit or "—", "发现时间": local_time(c.discovered_at)} for c in cases]
    st.caption(f"共 {len(rows)} 件")
    if not rows:
        st.info("没有符合条件的案件")
        return
    df = pd.DataFrame(rows)
    st.dataframe(df.drop(columns=["id"]), hide_index=True, width="stretch")
    audited_download("下载案件列表 (CSV)", df.drop(columns=["id"]), file_name="台账案件.csv", user=user,
                     what="case", key="cases_csv")
    labels = {r["id"]: f"{r['编号']} {r['标题'][:30]}" for r in rows}
    ids = list(labels)
    wanted = _case_in_url()
    chosen = st.selectbox("打开案件", ids, format_func=labels.get, key="case_pick",
                          index=ids.index(wanted) if wanted in labels else 0)
    if chosen is None:
        return
    if st.query_params.get("case") != str(chosen):
        st.query_params["case"] = str(chosen)  # a reload (F5) reopens the same case
    with session_scope(engine()) as session:
        from ledger.cases.workflow import get_case

        case = get_case(session, chosen)
        if not can_see_case(case, user.unit if user.is_unit else None):
            st.error("无权查看该案件")
            return
    case_page(user, chosen)


def _case_in_url() -> int | None:
    try:
        return int(st.query_params.get("case", ""))
    except ValueError:
        return None


def case_page(user: Principal, case_id: int) -> None:
    from analysis.pii import mask
    from ledger.cases.views import case_detail
    from ledger.db import session_scope

    env = case_env()
    with session_scope(engine()) as session:
        d = case_detail(session, case_id=case_id, policy=env.policy, now=now())
    show = (lambda s: s) if user.can_see_pii else (lambda s: mask(s) if s else s)
    st.header(f"案件 {d['number']}")
    # the title is shown with st.text, never Markdown: escaping does not stop GFM autolinks (http://…)
    st.text(d["title"])
    c = st.columns([1, 1, 2.4, 1.6])  # unit names run to ten characters and more
    c[0].metric("等级", md_text(d["grade"]))
    c[1].metric("状态", md_text(d["status"]))
    c[2].metric("责任单位", md_text(d.get("responsible_unit") or "—"))
    c[3].metric("处置类型", md_text(d.get("disposal_type") or "—"))
    st.caption(f"发现时间 {local_time(d['discovered_at'])} · 发生时间 {local_time(d.get('occurred_at'))} · "
               f"牵头单位 {md_text(d.get('lead_unit') or '—')} · "
               f"协办 {md_text('、'.join(d.get('co_units') or []) or '—')}")
    if d.get("summary"):
        st.text(show(d["summary"]))
    if d.get("must_publish"):
        st.caption(f"办结前须公开：{md_text(d['must_publish'])}")
    if d.get("suspected_illegal"):
        st.caption("已标记涉嫌违法：办结前须登记线索移交")
    for blocker in d.get("close_blockers") or []:
        st.warning(f"办结条件未满足：{md_text(blocker)}")
    brief_button("case", d["id"])

    at = now()
    st.subheader("时钟")
    clocks = [{"时钟": k.get("rule_name") or k["rule"], "起算": local_time(k.get("anchor_at")),
               "截止": local_time(k.get("due_at")) + ("（暂定）" if k.get("provisional") else ""),
               "状态": STATUS_ZH.get(k["status"], k["status"]),
               "是否按时": k.get("outcome_label", "—"),
               "适用等级": k.get("grade") or "—",
               "倒计时": countdown(k.get("due_at"), at) if k["status"] in ("running", "warning") else "—",
               "完成时间": local_time(k.get("met_at"))} for k in d["clocks"]]
    if clocks:  # coloured as on 值班台: red overdue, yellow in warning, green running
        live = [urgency(k.get("due_at"), k.get("warn_at"), k["status"], at) if k["status"] in ("running", "warning")
                else ("overdue" if k["status"] in ("missed", "breached") else "") for k in d["clocks"]]
        styles = [URGENCY_STYLE.get(u, "") for u in live]
        frame = pd.DataFrame(clocks)
        st.dataframe(frame.style.apply(lambda col: styles if col.name in ("状态", "倒计时") else [""] * len(col)),
                     hide_index=True, width="stretch")
    else:
        st.caption("无时钟")

    tabs = st.tabs(["时间线", "发布与三审", "发布会", "承诺", "移交", "操作"])
    with tabs[0]:
        tl = [{"时间": local_time(e.get("at")), "操作人": e.get("actor"),
               "动作": ACTION_ZH.get(e.get("action"), "其他记录")
               + (f"（{BACKFILL}）" if (e.get("after") or {}).get(BACKFILL) else ""),
               "说明": show(e.get("note") or "")} for e in d["timeline"]]
        st.dataframe(pd.DataFrame(tl), hide_index=True, width="stretch")
    with tabs[1]:
        _releases(user, d, show)
    with tabs[2]:
        b = [{"时间": local_time(x["held_at"]), "地点": x["place"], "发言人": x["spokesperson"]} for x in d["briefings"]]
        st.dataframe(pd.DataFrame(b), hide_index=True) if b else st.caption("尚无发布会记录")
        if may(user.role, "briefing"):
            with st.form(_fk(f"brief_{case_id}")):
                held_at = act_time_input("发布会", key=_fk(f"brief_at_{case_id}"))
                cc = st.columns(2)
                place = cc[0].text_input("地点")
                who = cc[1].text_input("发言人")
                if st.form_submit_button("记录发布会"):
                    from ledger.cases.items import add_briefing

                    if held_at is None:
                        st.error(MISSING_TIME.format(what="发布会"))
                    else:
                        _act("记录发布会", add_briefing, form=f"brief_{case_id}", case_id=case_id, held_at=held_at,
                             place=place, spokesperson=who, now=now(), actor=user.username, env=env)
    with tabs[3]:
        _commitments(user, d, show)
    with tabs[4]:
        r = [{"移交对象": x["target"], "时间": local_time(x["referred_at"]), "文号": x.get("reference") or "—"}
             for x in d["referrals"]]
        st.dataframe(pd.DataFrame(r), hide_index=True) if r else st.caption("尚无移交记录")
        if may(user.role, "referral"):
            with st.form(_fk(f"ref_{case_id}")):
                target = st.selectbox("移交对象", list(env.policy.referral_targets))
                ref = st.text_input("移交文号/说明")
                referred_at = act_time_input("移交", key=f"ref_at_{case_id}")
                if st.form_submit_button("记录移交"):
                    from ledger.cases.items import add_referral

                    if referred_at is None:
                        st.error(MISSING_TIME.format(what="移交"))
                    else:
                        _act("记录移交", add_referral, form=f"ref_{case_id}", case_id=case_id, target=target, referred_at=referred_at,
                             now=now(), actor=user.username, env=env, reference=ref or None)
    with tabs[5]:
        _actions(user, d)


def _releases(user: Principal, d: dict, show) -> None:
    from ledger.cases.items import PASS, REJECT, add_release, publish_release, review_release

    env = case_env()
    for r in d["releases"]:
        with st.container(border=True):
            st.markdown(f"**{md_text(r['kind'])}：{md_text(show(r['title']))}**"
                        f"（第 {r['revision']} 稿 · {md_text(r['status'])}）")
            st.text(show(r["text"]))
            done = {(rv["step"], rv["revision"]): rv for rv in r["reviews"]}
            steps = []
            for step in r["review_steps"]:
                rv = done.get((step, r["revision"]))
                steps.append({"步骤": step, "结果": rv["decision"] if rv else "待审", "审核人": rv["reviewer"] if rv else "—",
                              "时间": local_time(rv["reviewed_at"]) if rv else "—"})
            st.dataframe(pd.DataFrame(steps), hide_index=True)
            if r["published_at"]:
                st.caption(f"已于 {local_time(r['published_at'])} 通过 {md_text(r.get('channel') or '—')} 发布")
                continue
            if r["status"] == "已驳回":
                _revise(user, r, show)
                continue
            if may(user.role, "review"):
                cc = st.columns([2, 2, 1, 1])
                step = cc[0].selectbox("审核步骤", r["review_steps"], key=f"rv_step_{r['id']}")
                comment = cc[1].text_input("意见", key=f"rv_c_{r['id']}")
                reviewed_at = act_time_input("审核", key=f"rv_at_{r['id']}")
                pii_ok = st.text_input("保密审查：稿件含个人号码仍予通过的理由（无则留空）", key=f"rv_pii_{r['id']}")
                for col, decision in ((cc[2], PASS), (cc[3], REJECT)):
                    if col.button(decision, key=f"rv_{decision}_{r['id']}"):
                        if reviewed_at is None:
                            st.error(MISSING_TIME.format(what="审核"))
                            continue
                        _act(f"{step}{decision}", review_release, release_id=r["id"], step=step,
                             reviewer=user.display_name, decision=decision, reviewed_at=reviewed_at, now=now(),
                             actor=user.username, env=env, comment=comment or None, pii_ok_reason=pii_ok or None)
            if may(user.role, "publish"):
                cc = st.columns([3, 1])
                channel = cc[0].text_input("发布渠道", value="政府网站", key=f"pub_ch_{r['id']}")
                published_at = act_time_input("发布", key=f"pub_at_{r['id']}")
                if cc[1].button("标记已发布", key=f"pub_{r['id']}"):
                    if published_at is None:
                        st.error(MISSING_TIME.format(what="发布"))
                    else:
                        _act("发布", publish_release, release_id=r["id"], published_at=published_at,
                             channel=channel, now=now(), actor=user.username, env=env)
    if may(user.role, "release_draft"):
        with st.form(_fk(f"rel_{d['id']}")):
            st.markdown("**起草发布稿**")
            kind = st.selectbox("类型", list(env.policy.release_kinds))
            title = st.text_input("标题")
            text = st.text_area("正文")
            if st.form_submit_button("保存草稿"):
                _act("保存草稿", add_release, form=f"rel_{d['id']}", case_id=d["id"], kind=kind, title=title, text=text, now=now(),
                     actor=user.username, env=env)


def _revise(user: Principal, r: dict, show) -> None:
    """A rejected release: the rejection and its comment, and (for the drafting roles) the form
    to revise the text and send it for review again."""
    from ledger.cases.items import REJECT, revise_release

    rejected = [rv for rv in r["reviews"] if rv["revision"] == r["revision"] and rv["decision"] == REJECT]
    for rv in rejected:
        st.warning(f"{rv['step']}驳回（{rv['reviewer']}，{local_time(rv['reviewed_at'])}）：{show(rv['comment'] or '未填写意见')}")
    if not may(user.role, "release_draft"):
        return
    with st.form(f"revise_{r['id']}"):
        title = st.text_input("标题", value=r["title"], key=f"rev_title_{r['id']}")
        text = st.text_area("修改后的正文", value=r["text"], key=f"rev_text_{r['id']}")
        if st.form_submit_button("修改并重新送审"):
            if _act("修改并重新送审", revise_release, release_id=r["id"], text=text, title=title, now=now(),
                    actor=user.username, env=case_env()):
                st.rerun()


def _commitments(user: Principal, d: dict, show) -> None:
    from ledger.cases.items import add_commitment, update_commitment

    env = case_env()
    def publish_due(c: dict) -> str:
        clock = next((k for k in reversed(c.get("clocks") or []) if k.get("anchor") == "fulfilled_at"), None)
        if clock is None:
            return "—"
        return f"{local_time(clock['due_at'])}（{STATUS_ZH.get(clock['status'], clock['status'])}）"

    rows = [{"id": c["id"], "承诺": show(c["text"]), "责任单位": c["owner_unit"], "期限": c["due_date"],
             "状态": c["status"], "佐证": c.get("evidence") or "—", "公开期限": publish_due(c),
             "公开于": c.get("public_where") or "—"}
            for c in d["commitments"]]
    if rows:
        st.dataframe(pd.DataFrame(rows).drop(columns=["id"]), hide_index=True, width="stretch")
    else:
        st.caption("尚无承诺")
    if not may(user.role, "commitment"):
        return
    with st.form(_fk(f"cm_{d['id']}")):
        st.markdown("**记录承诺**")
        text = st.text_input("承诺内容")
        cc = st.columns(2)
        owner = unit_picker(cc[0], "责任单位", value=user.unit or d.get("responsible_unit"), key=f"cm_unit_{d['id']}")
        due = cc[1].date_input("期限", value=now().astimezone(SHANGHAI).date() + timedelta(days=30))
        if st.form_submit_button("保存承诺"):
            if unit_refusal(f"cm_unit_{d['id']}"):
                st.error(md_text(unit_refusal(f"cm_unit_{d['id']}")))
                return
            _act("记录承诺", add_commitment, form=f"cm_{d['id']}", case_id=d["id"], text=text, owner_unit=owner or "", due_date=due, now=now(),
                 actor=user.username, env=env)
    if rows:
        with st.form(_fk(f"cmu_{d['id']}")):
            st.markdown("**更新承诺落实情况**")
            pick = st.selectbox("承诺", [r["id"] for r in rows],
                                format_func=lambda i: next(r["承诺"][:40] for r in rows if r["id"] == i))
            status = st.selectbox("状态", list(env.policy.commitment_statuses))
            evidence = st.text_input("佐证材料")
            where = st.text_input("公开位置（已公开时填写）")
            done_at = act_time_input("落实或公开", key=f"cmu_at_{d['id']}")
            if st.form_submit_button("更新"):
                request_now = now()  # one clock reading per request (two readings made at > now)
                changing = status != next(r["状态"] for r in rows if r["id"] == pick)
                if changing and done_at is None:
                    st.error(MISSING_TIME.format(what="落实或公开"))
                else:
                    _act("更新承诺", update_commitment, form=f"cmu_{d['id']}", commitment_id=pick, now=request_now, actor=user.username,
                         env=env, status=status, evidence=evidence or None, public_where=where or None,
                         at=done_at)


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
            if unit_refusal(f"as_u_{cid}"):
                st.error(md_text(unit_refusal(f"as_u_{cid}")))
                return
            changes = {"responsible_unit": unit}
            if disposal != "（不变）":
                changes["disposal_type"] = disposal
            _act("交办信息", update_case, case_id=cid, now=now(), actor=user.username, env=env, changes=changes)
    if may(user.role, "assign"):
        illegal = st.checkbox("涉嫌违法（办结前须登记线索移交）", value=bool(d.get("suspected_illegal")),
                              key=f"il_{cid}")
        if illegal != bool(d.get("suspected_illegal")) and st.button("保存涉嫌违法标记", key=f"il_go_{cid}"):
            if _act("标记涉嫌违法", update_case, case_id=cid, now=now(), actor=user.username, env=env,
                    changes={"suspected_illegal": illegal}):
                st.rerun()
    if may(user.role, "report") and not d.get("leadership_reported_at") and d["grade"] in ("重大", "特别重大"):
        reported_at = act_time_input("报告", key=f"rep_at_{cid}")
        if st.button("已向党委政府报告", key=f"rep_{cid}"):
            if reported_at is None:
                st.error(MISSING_TIME.format(what="报告"))
            elif _act("记录报告", report_to_leadership, case_id=cid, reported_at=reported_at, now=now(),
                      actor=user.username, env=env):
                st.rerun()
