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


def escape_md(text: str) -> str:
    """Make ``text`` inert in Streamlit markdown: every markdown / HTML-significant character is
    backslash-escaped (CommonMark renders it literally), and line breaks become spaces, so no
    link, image, HTML tag, autolink, heading, table, colour directive or formula survives."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


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
