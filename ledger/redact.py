"""Hiding credentials in what the product shows: URLs with ``user:password@`` or secret query
parameters (``?key=``, ``access_token=`` …) are printed with those parts replaced by ``***``.

Used for every output that can hold a source or destination URL: ``source list`` (text and
JSON), source errors and warnings, the people list, the outbox listing.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
SECRET_PARAMS = re.compile(r"(key|token|secret|pass|pwd|sign|auth|credential|session|ticket|code)", re.IGNORECASE)
_URL_IN_TEXT = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>，。；）)]+")


def mask_url(url: str | None) -> str | None:
    """``url`` with the password of its user part and the values of secret-looking query
    parameters replaced by ``***``."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{MASK}@{host}"  # a user name alone can be a token (webhook://TOKEN@host)
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if SECRET_PARAMS.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def mask_text(text: str | None) -> str | None:
    """``text`` with every URL in it masked by :func:`mask_url`."""
    if not text:
        return text
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)) or "", text)
