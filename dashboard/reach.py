"""Dashboard pieces for issue #25 used by the existing pages with one line each: the 舆情快报
download on the case and event pages, and the 来源模板 form on 设置 · 来源."""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from dashboard.data import engine, now, settings


def brief_button(kind: str, ref: int) -> None:
    """A 生成舆情快报 button; once pressed, the docx to download. ``kind``: "case" or "event"."""
    from config.briefs import write_case_brief, write_event_brief
    from ledger.reports.brief import BriefError

    key = f"brief_{kind}_{ref}"
    if st.button("生成舆情快报", key=key):
        with st.spinner("正在生成快报…"), tempfile.TemporaryDirectory(prefix="yuqing-brief-") as tmp:
            try:
                if kind == "case":
                    path = write_case_brief(engine(), settings(), case_ref=ref, out_dir=Path(tmp), now=now())
                else:
                    path = write_event_brief(engine(), settings(), event_id=ref, out_dir=Path(tmp), now=now())
            except BriefError as exc:
                st.error(f"无法生成快报：{exc}")
                return
            st.session_state[key + "_file"] = (path.name, path.read_bytes())
    got = st.session_state.get(key + "_file")
    if got:
        st.download_button(f"下载 {got[0]}", data=got[1], file_name=got[0], key=key + "_dl",
                           mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document")


def template_form() -> None:
    """Add a source from a template: pick it, fill its parameters, and save."""
    from config.sourcetemplates import TemplateError, expand_template, load_catalogue
    from ledger.db import session_scope
    from ledger.posts.sources import SourceError, add_source

    cfg = settings()
    try:
        catalogue = load_catalogue(cfg)
    except TemplateError as exc:
        st.error(str(exc))
        return
    st.markdown("**用模板添加来源**")
    name = st.selectbox("来源模板", list(catalogue), key="tpl_pick",
                        format_func=lambda n: f"{catalogue[n].title}（{n}）")
    tpl = catalogue[name]
    st.caption(tpl.collects + (f"；需要：{tpl.needs}" if tpl.needs else "")
               + ("；需要自建 RSSHub（YUQING_RSSHUB_URL）" if tpl.rsshub else ""))
    with st.form(f"tpl_form_{name}"):
        values = {p.name: st.text_input(p.label + ("" if p.required else "（可选）"), value=p.default or "",
                                        key=f"tpl_{name}_{p.name}") for p in tpl.params}
        title = st.text_input("来源名称（可不填）", key=f"tpl_{name}_title")
        if st.form_submit_button("添加来源", type="primary"):
            given = {k: v for k, v in values.items() if v.strip()}
            try:
                spec = expand_template(cfg, name, given, name=title.strip() or None)
                with session_scope(engine()) as session:
                    src = add_source(session, name=spec.name, kind=spec.kind, url=spec.url, config=spec.config,
                                     interval_seconds=spec.interval, actor="dashboard", now=now())
                    new_id = src.id
            except (TemplateError, SourceError) as exc:
                st.error(f"添加失败：{exc}")
                return
            st.success(f"已添加来源 {new_id}：{spec.name}")
