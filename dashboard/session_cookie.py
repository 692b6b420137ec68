"""The one place the dashboard runs JavaScript: writing and clearing the session cookie.

Streamlit reads cookies (``st.context.cookies``) but cannot set them, so a tiny script does. The
script is built only from constants and a token checked against a strict alphabet (itsdangerous
tokens are URL-safe base64 with dots), so no user or crawled text can ever reach it.
"""

from __future__ import annotations

import re

import streamlit as st

_SAFE = re.compile(r"^[A-Za-z0-9_.\-]*$")


def _script(name: str, value: str, max_age_seconds: int) -> str:
    if not (_SAFE.match(name) and _SAFE.match(value)):
        raise ValueError("cookie name or value outside the token alphabet")
    return ("<script>document.cookie = '" + name + "=" + value + "; path=/; max-age=" + str(int(max_age_seconds))
            + "; SameSite=Strict' + (location.protocol === 'https:' ? '; Secure' : '');</script>")


def write_cookie(name: str, value: str, *, max_age_seconds: int) -> None:
    """Set the cookie ``name`` in the browser of this session."""
    st.html(_script(name, value, max_age_seconds), unsafe_allow_javascript=True)


def clear_cookie(name: str) -> None:
    """Remove the cookie ``name`` from the browser of this session."""
    st.html(_script(name, "", 0), unsafe_allow_javascript=True)
