"""CLI: assess texts from standard input, one JSON object per input line, in order."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from config.cli.common import fail, settings

BATCH = 512


def analyze_cmd(
    topic_model: str | None = typer.Option(
        None, "--topic-model",
        help="主题模型: 训练好的模型文件、default (随附的热线模型) 或 none; 默认取设置 topic_model",
    ),
    engine: str | None = typer.Option(None, "--engine", help="情感引擎: default | snownlp | 模型路径"),
) -> None:
    """从标准输入逐行读取文本 (或含 text 字段的 JSON)，每行输出一个 JSON 研判结果.

    Reads texts from standard input, one per line (a line may also be a JSON object with a
    ``text`` field), and writes one JSON object per line in the same order.
    """
    from config.wiring import build_assessor

    cfg = settings()
    if engine:
        cfg = cfg.model_copy(update={"sentiment_engine": engine})
    if topic_model is not None and topic_model not in ("default", "none") and not Path(topic_model).is_file():
        fail(f"主题模型文件不存在 (no such model file): {topic_model}", code=2)
    try:
        assessor = build_assessor(cfg, topic_model_path=topic_model)
    except (ValueError, OSError) as exc:
        fail(str(exc), code=2)
    out = sys.stdout
    batch: list[tuple[str, str | None]] = []

    def flush() -> None:
        if not batch:
            return
        results = assessor.assess_batch([t for t, _ in batch])
        for (_, err), res in zip(batch, results, strict=True):
            obj = res.as_dict()
            if err:
                obj["error"] = err
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        out.flush()
        batch.clear()

    stream = sys.stdin.buffer
    for raw in stream:
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        batch.append(_text_of(line))
        if len(batch) >= BATCH:
            flush()
    flush()


def _text_of(line: str) -> tuple[str, str | None]:
    """The text of one input line and, when the line was unusable JSON, a note about it."""
    from analysis.normalize import normalize_text

    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError:
            return normalize_text(line), None
        if isinstance(obj, dict):
            value = obj.get("text")
            if not isinstance(value, str):
                title = obj.get("title")
                if isinstance(title, str):
                    return normalize_text(title), None
                return "", "JSON 行缺少 text 字段 (no text field)"
            title = obj.get("title")
            text = f"{title}\n{value}" if isinstance(title, str) and title else value
            return normalize_text(text), None
    return normalize_text(line), None


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_cmd)
