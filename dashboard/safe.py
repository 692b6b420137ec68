"""Showing user and crawl text safely in the dashboard: the one escaping helper every page uses.

Anything that came from a user, a crawl, an import or a message (case / release / alert / post /
event titles, names, units, notes, source names) is shown as *text*, never as live Markdown:

* In ``st.markdown``, ``st.caption``, ``st.subheader``, ``st.header``, ``st.title``, ``st.info``,
  ``st.warning``, ``st.error``, ``st.success``, ``st.toast``, ``st.expander`` / ``st.tabs`` labels,
  button labels and metric labels, wrap every such value in :func:`md_text` (Streamlit renders
  all of these as Markdown).
* Prefer ``st.text`` or ``st.code`` for long free text, and dataframe cells (plain
  ``TextColumn``) for tables; never a ``LinkColumn`` or ``link_button`` / ``page_link`` whose URL
  comes from stored data unless it is checked with :func:`http_url`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&$:=\"'%@])")


# GFM turns bare addresses into links *after* escapes are resolved ("http://", "www.", e-mail
# addresses): a zero-width space breaks them without changing what the reader sees.
_AUTOLINK = re.compile(r"(?i)(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)(?=\w)")


def escape_md(text: str) -> str:
    """Make ``text`` inert in Streamlit markdown: every markdown / HTML-significant character is
    backslash-escaped (CommonMark renders it literally), bare addresses are broken by a zero-width
    space (no autolink), and line breaks become spaces, so no link, image, HTML tag, autolink,
    heading, table, colour directive or formula survives."""
    text = _AUTOLINK.sub("\u200b", text.replace("\r", " ").replace("\n", " "))
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_text(value: object) -> str:
    """Escape any value (``None`` becomes an empty string) for a Markdown-rendering element."""
    if value is None:
        return ""
    return escape_md(str(value))


def http_url(value: object) -> str | None:
    """``value`` if it is an absolute http(s) URL with a host, else ``None`` (for link columns)."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value.strip()


# A cell starting with one of these is a formula in Excel / WPS / LibreOffice (=HYPERLINK(...),
# +cmd|..., -2+3, @SUM(...)); tab and carriage return are read as the start of a new cell.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")


def csv_cell(value: object) -> object:
    """A cell value safe to open in a spreadsheet: text that would start a formula gets a leading
    apostrophe (shown as text, the usual OWASP advice); numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def csv_bytes(frame) -> bytes:
    """``frame`` (a pandas DataFrame) as UTF-8 CSV with a BOM (Excel reads the Chinese), every cell
    and column name through :func:`csv_cell`."""
    safe = frame.rename(columns=lambda c: csv_cell(str(c))).map(csv_cell)
    return safe.to_csv(index=False).encode("utf-8-sig")


def audited_download(label: str, frame, *, file_name: str, user, what: str, key: str) -> None:
    """A CSV download of ``frame`` for a role with the export right (nothing for others); each
    download is recorded in the audit log under the user (``export.csv``)."""
    import streamlit as st

    from dashboard.permissions import may

    if user is None or not may(user.role, "export") or frame is None or frame.empty:
        return

    def record() -> None:
        from dashboard.data import engine, now
        from ledger import audit
        from ledger.db import session_scope

        with session_scope(engine()) as session:
            audit.record(session, actor=user.username, action="export.csv", entity=what, entity_id=None,
                         now=now(), after={"file": file_name, "rows": len(frame)})

    st.download_button(label, data=csv_bytes(frame), file_name=file_name, mime="text/csv", key=key,
                       on_click=record)
