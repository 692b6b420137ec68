"""Page 设置 (管理员 only): sources with health and a test button, editable rules / units / clocks /
holidays / escalation files, duty roster, users."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.data import engine, local_time, now, settings
from dashboard.reach import template_form
from dashboard.safe import md_text
from ledger.users import Principal


def _sources() -> None:
    from ledger.db import session_scope
    from ledger.posts.sources import list_sources
    from ledger.redact import mask_text, mask_url

    status_zh = {"new": "未抓取", "ok": "正常", "error": "出错", "down": "已停摆"}
    with session_scope(engine()) as session:
        rows = [{"id": s.id, "名称": s.name, "类型": s.kind, "地址": mask_url(s.url) or "—", "启用": s.enabled,
                 "状态": status_zh.get(s.status, s.status), "最近成功": local_time(s.last_success_at),
                 "连续失败": s.consecutive_failures, "上次条数": s.last_items,
                 "最近错误": mask_text(s.last_error) or "",
                 "上次抓取的问题": (mask_text(s.last_warning) or "") if s.status == "ok" else ""} for s in list_sources(session)]
    template_form()
    if not rows:
        st.info("尚未配置来源（可用上面的模板或命令 yuqing source add 添加）")
        return
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    pick = st.selectbox("测试来源（只抓取不入库）", [r["id"] for r in rows],
                        format_func=lambda i: next(r["名称"] for r in rows if r["id"] == i), key="src_test_pick")
    if st.button("测试", key="src_test"):
        _test_source(pick)


def _test_source(source_id: int) -> None:
    from config.runtime import preview_source

    with st.spinner("正在抓取…"):
        try:
            _source, rows, total, notes = preview_source(engine(), settings(), source_id, now(), limit=5)
        except Exception as exc:  # SourceError, CrawlError, ValueError: shown, never raised
            st.error(f"抓取失败：{md_text(exc)}")
            return
    st.success(f"抓取成功，共 {total} 条（未入库）")
    preview = [{"标题": r["title"] or "", "时间": local_time(r["published_at"]), "作者": r["author"] or "",
                "正文前100字": r["body"], "链接": r["url"] or ""} for r in rows]
    st.dataframe(pd.DataFrame(preview), hide_index=True, width="stretch")
    if notes:
        st.caption("跳过的页面：" + "；".join(f"{md_text(u)}（{md_text(why)}）" for u, why in notes[:10]))


def _config_files() -> None:
    from config.validation import EDITABLE, current_text, validate_and_save

    cfg = settings()
    name = st.selectbox("配置文件", list(EDITABLE), format_func=lambda n: f"{EDITABLE[n]}（{n}）", key="cfg_pick")
    text, path = current_text(name, cfg)
    st.caption(f"当前生效：{path}")
    edited = st.text_area("内容（TOML）", value=text, height=400, key=f"cfg_text_{name}")
    if st.button("校验并保存", key="cfg_save"):
        try:
            out = validate_and_save(name, edited, cfg)
        except ValueError as exc:
            st.error(md_text(exc))
            return
        from ledger import audit
        from ledger.db import session_scope

        with session_scope(engine()) as session:
            audit.record(session, actor=st.session_state["auth"]["principal"].username, action="config.save",
                         entity="config", entity_id=name, now=now(), note=str(out))
        st.cache_resource.clear()
        st.success(f"已保存到 {out}；服务将在下次加载配置时生效")


def _roster(user: Principal) -> None:
    from ledger.alerts.duty import import_roster_xlsx, list_shifts, shift_to_dict
    from ledger.db import session_scope

    with session_scope(engine()) as session:
        shifts = [shift_to_dict(s) for s in list_shifts(session, start=now())][:100]
    rows = [{"开始": local_time(s["start_at"]), "结束": local_time(s["end_at"]), "值班人员": "、".join(s["on_duty"]),
             "带班领导": s["leader"] or "—", "单位": s["unit"] or "—"} for s in shifts]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch") if rows else st.caption("暂无排班")
    upload = st.file_uploader("导入值班表（xlsx）", type=["xlsx"], key="roster_upload")
    if upload is not None and st.button("导入", key="roster_go"):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "roster.xlsx"
            path.write_bytes(upload.getvalue())
            try:
                with session_scope(engine()) as session:
                    result = import_roster_xlsx(session, path=path, now=now(), actor=user.username)
            except ValueError as exc:
                st.error(f"导入失败：{md_text(exc)}")
                return
        st.success(f"导入完成：{md_text(result)}")


def _users(user: Principal) -> None:
    from ledger.db import session_scope
    from ledger.models.users import ROLES
    from ledger.users import UserError, add_user, list_users

    with session_scope(engine()) as session:
        rows = [{"用户名": u.username, "姓名": u.display_name, "角色": u.role, "单位": u.unit or "—",
                 "启用": u.active, "锁定至": local_time(u.locked_until), "最近登录": local_time(u.last_login_at)}
                for u in list_users(session)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**新建用户**")
        c = st.columns(4)
        username = c[0].text_input("用户名")
        name = c[1].text_input("姓名")
        role = c[2].selectbox("角色", ROLES)
        unit = c[3].text_input("单位（责任单位必填）")
        password = st.text_input("初始密码（至少 8 位）", type="password")
        pii = st.checkbox("可查看未脱敏号码")
        if st.form_submit_button("创建"):
            try:
                with session_scope(engine()) as session:
                    add_user(session, username=username, password=password, role=role, unit=unit or None,
                             display_name=name, can_see_pii=pii, now=now(), actor=user.username)
            except UserError as exc:
                st.error(md_text(exc))
                return
            st.success(f"已创建用户 {md_text(username)}")
    _user_actions(user, [r["用户名"] for r in rows])


def _user_actions(user: Principal, usernames: list[str]) -> None:
    """停用 / 启用 / 解除锁定 / 改角色: each ends the user's open sessions at once."""
    from dashboard.safe import escape_md
    from ledger.db import session_scope
    from ledger.models.users import ROLES
    from ledger.users import UserError, set_active, set_role, unlock

    st.markdown("**账号操作**（停用、解除锁定、改角色都会结束该用户已打开的会话）")
    c = st.columns([2, 2, 2, 1])
    target = c[0].selectbox("用户", usernames, key="ua_user")
    action = c[1].selectbox("操作", ["停用", "启用", "解除锁定", "修改角色"], key="ua_action")
    role = c[2].selectbox("新角色", ROLES, key="ua_role", disabled=action != "修改角色")
    unit = st.text_input("单位（改为责任单位时必填）", key="ua_unit") if action == "修改角色" else None
    if c[3].button("执行", key="ua_go") and target:
        calls = {"停用": (set_active, {"active": False}), "启用": (set_active, {"active": True}),
                 "解除锁定": (unlock, {}), "修改角色": (set_role, {"role": role, "unit": unit})}
        fn, extra = calls[action]
        try:
            with session_scope(engine()) as session:
                fn(session, username=target, now=now(), actor=user.username, **extra)
        except UserError as exc:
            st.error(str(exc))
            return
        st.session_state["ua_done"] = f"已{action}：{escape_md(target)}"
        st.rerun()  # the table above shows the new state at once
    done = st.session_state.pop("ua_done", None)
    if done:
        st.success(done)


def render(user: Principal) -> None:
    st.title("设置")
    if not user.is_admin:
        st.error("仅管理员可访问")
        return
    tabs = st.tabs(["来源", "规则与配置", "值班表", "用户"])
    with tabs[0]:
        _sources()
    with tabs[1]:
        _config_files()
    with tabs[2]:
        _roster(user)
    with tabs[3]:
        _users(user)
