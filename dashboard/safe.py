"""Escaping for the few places where the dashboard uses st.markdown with crawled or user text."""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&$:])")


def escape_md(text: str) -> str:
    """Make ``text`` inert in Streamlit markdown: every markdown / HTML-significant character is
    backslash-escaped (CommonMark renders it literally), and line breaks become spaces."""
    return _MD_SPECIAL.sub(r"\\\1", text.replace("\n", " "))
