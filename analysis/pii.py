"""Find and mask personal numbers (mobile / landline phones, ID-card numbers, bank cards, e-mail)."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

# 18-digit resident ID (last may be X) and legacy 15-digit; bounded so longer digit runs do not match.
_ID18 = re.compile(r"(?<![0-9A-Za-z])([1-9]\d{5})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})([0-9Xx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<!\d)([1-9]\d{5})(\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})(?!\d)")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?(1[3-9]\d)[- ]?(\d{4})[- ]?(\d{4})(?!\d)")
# area code bare or in half/full-width brackets, then a 7-8 digit number that may be split "8888 6666"
_LANDLINE = re.compile(r"(?:(?<!\d)0\d{2,3}[- ]?|[(（] ?0\d{2,3} ?[)）][- ]?)(?:\d{7,8}|\d{3,4}[- ]\d{4})(?!\d)")
_BANK = re.compile(r"(?<!\d)(62\d{2})(?:[- ]?\d{4}){2,3}(?:[- ]?\d{1,3})?(?!\d)")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-]{1,64})@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # id_card | mobile | landline | bank_card | email
    start: int
    end: int


# every kind above needs a run of at least 7 digits (separators allowed) or an "@": texts without
# one are answered by this single scan
_CANDIDATE = re.compile(r"\d[\d\- ]{5,}\d|@")


def find_pii(text: str) -> list[PiiMatch]:
    """All personal numbers in ``text``, non-overlapping, in order."""
    if not _CANDIDATE.search(text):
        return []
    found: list[PiiMatch] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, m: re.Match[str]) -> None:
        s, e = m.span()
        if any(s < te and ts < e for ts, te in taken):
            return
        taken.append((s, e))
        found.append(PiiMatch(kind, s, e))

    for m in _ID18.finditer(text):
        add("id_card", m)
    for m in _BANK.finditer(text):
        add("bank_card", m)
    for m in _ID15.finditer(text):
        add("id_card", m)
    for m in _MOBILE.finditer(text):
        add("mobile", m)
    for m in _LANDLINE.finditer(text):
        add("landline", m)
    for m in _EMAIL.finditer(text):
        add("email", m)
    found.sort(key=lambda p: p.start)
    return found


def _mask_span(kind: str, s: str) -> str:
    digits_idx = [i for i, ch in enumerate(s) if ch.isdigit() or ch in "Xx"]
    if kind == "email":
        local, _, domain = s.partition("@")
        return (local[:1] + "***@" + domain) if local else s
    if kind == "mobile":
        keep_head, keep_tail = 3, 4
    elif kind == "id_card":
        keep_head, keep_tail = 6, 4
    elif kind == "bank_card":
        keep_head, keep_tail = 4, 4
    else:  # landline
        keep_head, keep_tail = 0, 2
    out = list(s)
    n = len(digits_idx)
    # a mobile number's country code 86 comes before the three digits kept at its head
    skip = 2 if kind == "mobile" and s.lstrip("+").startswith("86") else 0
    for pos, i in enumerate(digits_idx):
        offset = pos - skip
        if offset < keep_head or pos >= n - keep_tail:
            continue
        out[i] = "*"
    return "".join(out)


def mask_pii(text: str | None) -> tuple[str, list[str]]:
    """Return ``text`` with personal numbers masked and the kinds that were masked."""
    if not text:
        return "", []
    matches = find_pii(text)
    if not matches:
        return text, []
    parts: list[str] = []
    last = 0
    for m in matches:
        parts.append(text[last : m.start])
        parts.append(_mask_span(m.kind, text[m.start : m.end]))
        last = m.end
    parts.append(text[last:])
    return "".join(parts), [m.kind for m in matches]


def mask(text: str | None) -> str:
    """Masked text only."""
    return mask_pii(text)[0]


def mask_many(texts: Sequence[str | None]) -> list[str]:
    """``[mask(t) for t in texts]``, faster for many short texts: one candidate scan over all
    of them (joined by line breaks, which no candidate spans), then only the texts holding a
    candidate are masked one by one."""
    out = [t or "" for t in texts]
    joined = "\n".join(out)
    hits = [m.start() for m in _CANDIDATE.finditer(joined)]
    if not hits:
        return out
    starts, pos = [], 0
    for t in out:
        starts.append(pos)
        pos += len(t) + 1
    for i in {bisect_right(starts, h) - 1 for h in hits}:
        out[i] = mask_pii(out[i])[0]
    return out
