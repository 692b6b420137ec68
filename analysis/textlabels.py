"""Labels and labelled data for the text classifiers: polarity synonyms and reading a labelled CSV.

``TextModelError`` (the one error of ``analysis.textmodel``, its message fit for the user) lives
here, at the bottom, so that every part of the text classifiers can raise it. Pure module: paths
and values come in as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Polarity label synonyms accepted in training / evaluation data (lower-cased keys).
# fmt: off
_POSITIVE = ("positive", "pos", "p", "1", "+1", "+", "正", "正面", "积极", "褒", "好评",
             "optimism", "gratitude", "joy", "happy", "happiness", "like", "喜", "乐", "好")
_NEGATIVE = ("negative", "neg", "n", "-1", "-", "0", "负", "负面", "消极", "贬", "差评",
             "anger", "disgust", "sadness", "fear", "angry", "sad", "怒", "哀", "惧", "恶")
_NEUTRAL = ("neutral", "neu", "none", "中", "中性", "中立", "surprise", "惊", "other", "others")
# Not neutral, polarity unknown (e.g. citizens' complaints and requests): such rows teach only a
# learned neutral head what is *not* neutral; they never train positive vs negative.
_POLAR = ("polar", "非中性")
# fmt: on
# Labels that name a polarity itself, not a finer emotion.
_PLAIN_POLARITY = frozenset(_POSITIVE[:11] + _NEGATIVE[:11] + _NEUTRAL[:6] + _POLAR)
POLARITY_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(_POSITIVE, "positive"),
    **dict.fromkeys(_NEGATIVE, "negative"),
    **dict.fromkeys(_NEUTRAL, "neutral"),
    **dict.fromkeys(_POLAR, "polar"),
}


class TextModelError(ValueError):
    """Bad training data, bad model file or bad arguments (message is fit for the user)."""


def normalize_polarity(value: Any) -> str | None:
    """Map a polarity label or common synonym to positive / negative / neutral, or ``polar`` (not
    neutral, polarity unknown); None if unknown."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    key = str(value).strip().lower()
    key = key.removesuffix(".0")  # 1.0 / -1.0 / 0.0 read from numeric columns
    return POLARITY_SYNONYMS.get(key)


def read_labelled_csv(
    path: str | Path, text_cols: Sequence[str], label_col: str
) -> tuple[list[str], list[str]]:
    """Texts (the named columns joined by line breaks, as the project stores a message: title,
    then body) and raw labels from a UTF-8 CSV file.

    Rows with an empty label are skipped. Missing file or columns raise ``TextModelError``
    naming what is missing and what the file has.
    """
    import csv

    path = Path(path)
    if not path.is_file():
        raise TextModelError(f"数据文件不存在 (data file not found): {path}")
    text_cols = [c.strip() for c in text_cols if c.strip()]
    if not text_cols:
        raise TextModelError("未指定文本列 (no text column given)")
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in [*text_cols, label_col] if c not in header]
            if missing:
                raise TextModelError(
                    f"数据文件缺少列 (missing column) {', '.join(missing)}: {path}; "
                    f"已有列 (columns): {', '.join(header) or '无'}"
                )
            reader.fieldnames = header
            texts, labels = [], []
            for row in reader:
                label = (row.get(label_col) or "").strip()
                if not label:
                    continue
                texts.append("\n".join((row.get(c) or "").strip() for c in text_cols).strip())
                labels.append(label)
    except UnicodeDecodeError as exc:
        raise TextModelError(f"数据文件不是 UTF-8 编码 (not UTF-8): {path}: {exc}") from None
    except csv.Error as exc:
        raise TextModelError(f"CSV 格式错误 (bad CSV): {path}: {exc}") from None
    if not texts:
        raise TextModelError(f"数据文件没有带标签的行 (no labelled rows): {path}")
    return texts, labels


def polarity_labels(raw: Sequence[Any]) -> list[str | None]:
    """Polarity of each raw label (None when unknown); ``0`` is neutral when ``-1`` also occurs."""
    keys = {str(v).strip().lower().removesuffix(".0") for v in raw}
    zero = "neutral" if "-1" in keys else "negative"
    out = []
    for v in raw:
        key = str(v).strip().lower().removesuffix(".0")
        out.append(zero if key == "0" else normalize_polarity(key))
    return out
