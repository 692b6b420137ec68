"""Text normalisation: HTML to plain text, traditional to simplified Chinese, whitespace, hashing."""

from __future__ import annotations

import hashlib
import html
import re
from functools import lru_cache

import lxml.html
from lxml import etree

_WS = re.compile(r"[ \t\r\f\v\u00a0\u3000\u200b\ufeff]+")
_NL = re.compile(r"\n\s*\n+")
_TAGLIKE = re.compile(r"<[a-zA-Z!/][^>]*>")
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "head")
_BLOCK_TAGS = frozenset(
    ["p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article", "blockquote", "pre", "table", "ul", "ol", "dd", "dt"]
)
# full-width digits and Latin letters fold to ASCII; Chinese full-width punctuation is kept
_FULLWIDTH_ALNUM = {cp: cp - 0xFEE0 for r in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
                    for cp in range(r[0], r[1] + 1)}
_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@lru_cache(maxsize=1)
def _opencc():
    from opencc import OpenCC  # opencc-python-reimplemented

    return OpenCC("t2s")


def html_to_text(markup: str) -> str:
    """Extract readable plain text from (possibly hostile or broken) HTML.

    Scripts, styles and embedded objects are dropped, block elements become line breaks, entities
    are decoded. The result contains no markup and is safe to display as text.
    """
    if not markup:
        return ""
    if not _TAGLIKE.search(markup) and "&" not in markup:
        return markup
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div")
    except (etree.ParserError, ValueError):
        return _TAGLIKE.sub(" ", html.unescape(markup))
    # collect first: dropping while iterating would skip the element after each dropped one
    for bad in list(root.iter(*_DROP_TAGS)):
        if bad.getparent() is not None:
            bad.drop_tree()
    parts: list[str] = []
    for node in root.iter():
        if isinstance(node.tag, str) and node.tag.lower() in _BLOCK_TAGS:
            parts.append("\n")
        if node.text and isinstance(node.tag, str):
            parts.append(node.text)
        if node.tail:
            parts.append(node.tail)
    text = "".join(parts)
    # text that itself looked like escaped markup (&lt;script&gt;) stays literal text, by design
    return text


@lru_cache(maxsize=1)
def _t2s_triggers() -> tuple[frozenset[str], re.Pattern[str]]:
    """Characters at least one of which occurs in every t2s dictionary entry that changes text,
    and OpenCC's segment separators (no dictionary entry spans one).

    A segment containing none of these characters converts to itself, so it can be skipped:
    most posts are already simplified, and the pure-Python converter is slow per character.
    """
    from pathlib import Path

    import opencc

    folder = Path(opencc.__file__).parent / "dictionary"
    entries: list[tuple[str, str]] = []
    for name in ("TSPhrases.txt", "TSCharacters.txt"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[0] != parts[1].split(" ")[0]:
                entries.append((parts[0], parts[1].split(" ")[0]))
    changed_chars = {k for k, v in entries if len(k) == 1}
    triggers: set[str] = set()
    for key, value in entries:
        missing = [c for c in key if c not in value]
        if missing:
            preferred = [c for c in missing if c in changed_chars]
            triggers.add((preferred or missing)[0])
        elif len(key) == len(value):
            triggers.add(next(a for a, b in zip(key, value, strict=True) if a != b))
        else:
            triggers.update(key)
    return frozenset(triggers), _opencc().split_chars_re


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified (only segments that need it)."""
    if not text:
        return ""
    triggers, separators = _t2s_triggers()
    if triggers.isdisjoint(text):
        return text
    converter = _opencc()
    parts = separators.split(text)
    for i in range(0, len(parts), 2):  # even items are text, odd items separators
        if parts[i] and not triggers.isdisjoint(parts[i]):
            parts[i] = converter.convert(parts[i])
    return "".join(parts)


def clean_whitespace(text: str) -> str:
    """Fold runs of spaces, keep single line breaks between paragraphs, strip control chars."""
    text = _CTRL.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _WS.sub(" ", text)
    lines = [line.strip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = _NL.sub("\n", text)
    return text.strip()


def normalize_text(raw: str | None, *, is_html: bool | None = None, simplify: bool = True) -> str:
    """HTML (if it looks like HTML) → text, full-width letters/digits folded, traditional → simplified, whitespace."""
    if not raw:
        return ""
    text = raw
    if is_html or (is_html is None and (_TAGLIKE.search(text) or "&" in text)):
        text = html_to_text(text)
        # doubly escaped markup (common in feeds) decodes to markup again: strip that too
        if _TAGLIKE.search(text):
            text = html_to_text(text)
            text = _TAGLIKE.sub(" ", text)
    text = text.translate(_FULLWIDTH_ALNUM)
    if simplify:
        text = to_simplified(text)
    return clean_whitespace(text)


_HASH_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


def content_hash(text: str) -> str:
    """Hash of the text with whitespace and punctuation removed: equal for exact duplicates."""
    key = _HASH_STRIP.sub("", text.lower())
    return hashlib.sha1(key.encode("utf-8")).hexdigest()
