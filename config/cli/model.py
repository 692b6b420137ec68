"""CLI area 'model': train and evaluate the sentiment and topic classifiers on labelled CSV files."""

from __future__ import annotations

import json
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Any

import typer

from config.cli.common import fail

model_app = typer.Typer(
    help="训练与评估文本分类模型 (情感 / 主题) — train and evaluate text classifiers.",
    no_args_is_help=True,
)


class Task(str, Enum):
    sentiment = "sentiment"
    topic = "topic"


DATA = typer.Option(..., "--data", help="带标签的 UTF-8 CSV 文件")
TEXT_COL = typer.Option(..., "--text-col", help="文本列名；多个列用逗号分隔，按顺序拼接")
LABEL_COL = typer.Option(
    ..., "--label-col", help="标签列名 (情感: positive/negative/neutral 或同义词)"
)
HOLDOUT = typer.Option(0.0, "--holdout", help="留出比例 (0 表示全部用于训练)，留出部分用于报告指标")
SEED = typer.Option(42, "--seed", help="留出划分与训练的随机种子")
JSON_OUT = typer.Option(False, "--json", help="以 JSON 输出指标")
TASK = typer.Argument(..., help="sentiment | topic")
OUT = typer.Option(..., "--out", help="模型输出文件 (.npz)")
FEATURES = typer.Option(
    None,
    "--features",
    help="特征, 如 char:1-4@2 或 char:1-3,word:1-1,lead:1-3 (@N = 最少出现文档数; "
    "lead = 第一行 (标题) 的前 30 字, lead:1-3/N 为前 N 字; "
    "vec:all / vec:lead = 全文 / 标题的预训练词向量均值, vec:lead*0.5 为加权; "
    "主题模型默认 char:1-3,word:1-1,lead:1-3,vec:all,vec:lead)",
)
C_OPT = typer.Option(None, "--c", help="正则化参数 C (越大正则越弱)")
BAND = typer.Option(None, "--band", help="情感中性区间 LOW,HIGH (默认按数据中的中性样本选择)")
NEUTRAL_HEAD = typer.Option(
    False,
    "--neutral-head",
    help="情感: 把中性当作一类来学习 (中性 对 其余 的分类头; 标签 polar = 非中性但极性未知), "
    "而不只是 0.5 附近的区间",
)
NEUTRAL_THRESHOLD = typer.Option(
    None, "--neutral-threshold", help="情感中性头的判定阈值 (默认按交叉验证选择)"
)
PRIOR = typer.Option(
    "default",
    "--prior",
    help="主题模型的领域先验: default (随附的热线先验, 见 docs/MODEL_CARD_topic_prior.md)、"
    "none (不用) 或先验模型文件路径",
)
TRAIN_DATA = typer.Option(
    ...,
    "--data",
    help="带标签的 UTF-8 CSV 文件；可多次给出 (各文件的 --text-col / --label-col 按顺序对应，"
    "只给一个则用于所有文件)。已分词的文本 (词间以空格分隔、去停用词) 自动识别",
)
TRAIN_TEXT_COL = typer.Option(
    ..., "--text-col", help="文本列名；多个列用逗号分隔，按顺序拼接；多个 --data 时可逐个给出"
)
TRAIN_LABEL_COL = typer.Option(..., "--label-col", help="标签列名；多个 --data 时可逐个给出")
MODEL = typer.Option(..., "--model", help="模型文件；情感也可用 default 或 snownlp")
EVAL_HOLDOUT = typer.Option(
    0.0, "--holdout", help="只评估按同一比例与种子留出的部分 (与训练时的 --holdout 一致)"
)


def _columns(text_col: str) -> list[str]:
    cols = [c.strip() for c in text_col.split(",") if c.strip()]
    if not cols:
        fail("--text-col 不能为空 (no text column given)", code=2)
    return cols


def _read(data: Path, text_col: str, label_col: str) -> tuple[list[str], list[str]]:
    from analysis.textmodel import TextModelError, read_labelled_csv

    try:
        return read_labelled_csv(data, _columns(text_col), label_col.strip())
    except TextModelError as exc:
        fail(str(exc), code=2)


def _per_file(name: str, values: list[str], files: int) -> list[str]:
    """One value of option ``name`` per data file: given once for all, or once per file."""
    if len(values) == 1:
        return values * files
    if len(values) != files:
        fail(
            f"{name} 给出 {len(values)} 次, 但 --data 有 {files} 个文件: 应给一次 (用于所有文件) "
            f"或每个文件一次 (one for all files, or one per file)",
            code=2,
        )
    return values


def _read_many(
    data: list[Path], text_col: list[str], label_col: list[str]
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """Texts and labels of every data file in order, and per file its name, rows and whether its
    text is segmented (``analysis.topicmodel.looks_segmented``)."""
    from analysis.topicmodel import looks_segmented

    texts: list[str] = []
    labels: list[str] = []
    files: list[dict[str, Any]] = []
    for path, tcol, lcol in zip(
        data,
        _per_file("--text-col", text_col, len(data)),
        _per_file("--label-col", label_col, len(data)),
        strict=True,
    ):
        t, lab = _read(path, tcol, lcol)
        files.append(
            {"data": path.name, "text_cols": _columns(tcol), "label_col": lcol.strip(),
             "rows": len(t), "segmented": looks_segmented(t)}
        )
        texts += t
        labels += lab
    return texts, labels, files


def _metrics(task: Task, predictor: Any, texts: list[str], labels: list[str]) -> dict[str, Any]:
    from analysis.textmodel import polarity_labels, sentiment_metrics
    from analysis.topicmodel import topic_metrics

    if task is Task.sentiment:
        results = predictor.predict(texts)
        return sentiment_metrics(
            polarity_labels(labels), [r.label for r in results], [r.score for r in results]
        )
    return topic_metrics(labels, [lab for lab, _ in predictor.predict(texts)])


def _print_metrics(title: str, m: dict[str, Any]) -> None:
    lines = [title, f"  样本数 rows: {m['rows']}", f"  准确率 accuracy: {m['accuracy']:.4f}"]
    if "pos_neg_accuracy" in m:
        lines.append(
            f"  正负二分准确率 pos-vs-neg accuracy: {m['pos_neg_accuracy']:.4f}"
            f" ({m['pos_neg_rows']} rows)"
        )
        lines.append(f"  负面召回率 negative recall: {m['negative_recall']:.4f}")
    lines.append(f"  宏平均 F1 macro-F1: {m['macro_f1']:.4f}")
    lines.append(f"  {'类别 class':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for cls, v in m["per_class"].items():
        lines.append(
            f"  {cls:<14}{v['precision']:>10.4f}{v['recall']:>10.4f}{v['f1']:>10.4f}"
            f"{v['support']:>9}"
        )
    typer.echo("\n".join(lines))


def _parse_band(band: str | None) -> tuple[float, float] | None:
    if band is None:
        return None
    try:
        lo, hi = (float(x) for x in band.split(","))
    except ValueError:
        fail(f"--band 应为 LOW,HIGH (e.g. 0.4,0.6): {band!r}", code=2)
    return lo, hi


@model_app.command("train")
def train_cmd(
    task: Task = TASK,
    data: list[Path] = TRAIN_DATA,
    text_col: list[str] = TRAIN_TEXT_COL,
    label_col: list[str] = TRAIN_LABEL_COL,
    out: Path = OUT,
    features: str | None = FEATURES,
    c: float | None = C_OPT,
    band: str | None = BAND,
    neutral_head: bool = NEUTRAL_HEAD,
    neutral_threshold: float | None = NEUTRAL_THRESHOLD,
    prior: str = PRIOR,
    holdout: float = HOLDOUT,
    seed: int = SEED,
    as_json: bool = JSON_OUT,
) -> None:
    """训练情感或主题模型并保存 (train a sentiment or topic model and save it).

    情感标签可为 positive/negative/neutral 或常见同义词 (正面/负面/中性, 1/-1/0, 七类情绪名)。
    主题模型的多个文本列 (如 留言主题,留言详情) 按顺序拼接；可给多个 --data 文件 (如已分词的
    大样本加原文留言)。原文训练时默认叠加随附的热线领域先验 (--prior none 关闭)；有已分词的
    文件时按拼平后的字 n-gram 训练 (不依赖分词与停用词)，模型可直接用于原文留言。
    --holdout 留出一部分分层样本，只用其余部分训练，并报告留出部分的指标。
    """
    from analysis import textmodel as tm
    from analysis import topicmodel

    texts, labels, files = _read_many(data, text_col, label_col)
    segmented = any(f["segmented"] for f in files)
    if segmented and task is Task.sentiment:
        segmented = False  # the sentiment recipe reads any text the same way
    strat = tm.polarity_labels(labels) if task is Task.sentiment else labels
    train_idx, test_idx = _split(strat, holdout, seed) if holdout else (list(range(len(texts))), [])
    kw: dict[str, Any] = {"seed": seed}
    if features:
        kw["features"] = features
    if c is not None:
        if c <= 0:
            fail("--c 必须为正数 (must be positive)", code=2)
        kw["C"] = c
    started = time.perf_counter()
    try:
        tr_texts, tr_labels = [texts[i] for i in train_idx], [labels[i] for i in train_idx]
        if task is Task.sentiment:
            if prior != "default":
                fail("--prior 只用于主题模型 (only for topic)", code=2)
            if neutral_threshold is not None and not neutral_head:
                fail("--neutral-threshold 需要 --neutral-head (needs --neutral-head)", code=2)
            model = tm.train_sentiment(
                tr_texts,
                tr_labels,
                band=_parse_band(band),
                neutral_head=neutral_head,
                neutral_threshold=neutral_threshold,
                **kw,
            )
        else:
            if band is not None or neutral_head or neutral_threshold is not None:
                fail("--band / --neutral-head 只用于情感模型 (only for sentiment)", code=2)
            if prior not in ("default", "none") and not Path(prior).is_file():
                fail(f"先验模型文件不存在 (prior file not found): {prior}", code=2)
            model = topicmodel.train_topic(
                tr_texts, tr_labels, prior=prior, segmented=segmented, **kw
            )
    except tm.TextModelError as exc:
        fail(str(exc), code=2)
    model.info.update(
        {
            "data": ", ".join(f["data"] for f in files),
            "text_cols": files[0]["text_cols"],
            "label_col": files[0]["label_col"],
            "files": files,
            "holdout": holdout,
            "split_seed": seed,
            "train_seconds": round(time.perf_counter() - started, 1),
        }
    )
    report: dict[str, Any] = {
        "task": task.value,
        "out": str(out),
        "train_rows": len(train_idx),
        "n_features": model.features.n_features,
        "info": model.info,
    }
    if test_idx:
        predictor = _engine(model) if task is Task.sentiment else model
        metrics = _metrics(
            task, predictor, [texts[i] for i in test_idx], [labels[i] for i in test_idx]
        )
        model.info["holdout_metrics"] = metrics
        report["holdout_metrics"] = metrics
    try:
        model.save(out)
    except OSError as exc:
        fail(f"无法写入模型文件 (cannot write model) {out}: {exc}")
    if as_json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return
    typer.echo(
        f"已保存模型 (saved) {out}: {task.value}, {len(train_idx)} 条训练样本, "
        f"{model.features.n_features} 个特征, 类别 {', '.join(model.classes)}"
    )
    for f in files if len(files) > 1 or segmented else []:
        kind = "已分词" if f["segmented"] else "原文"
        typer.echo(f"  {f['data']}: {f['rows']} 条 ({kind}, 列 {','.join(f['text_cols'])})")
    if task is Task.sentiment:
        lo, hi = model.info["band"]
        typer.echo(f"中性区间 (neutral band): {lo:.3f}..{hi:.3f}")
        if "neutral_threshold" in model.info:
            typer.echo(f"中性头阈值 (neutral-head threshold): {model.info['neutral_threshold']:.3f}")
    if test_idx:
        _print_metrics(
            f"留出集指标 (held-out {holdout:.0%}, seed {seed}):", report["holdout_metrics"]
        )


def _split(strat: list, holdout: float, seed: int) -> tuple[list[int], list[int]]:
    from analysis.textmodel import TextModelError, holdout_split

    try:
        return holdout_split(["?" if s is None else s for s in strat], holdout, seed)
    except TextModelError as exc:
        fail(str(exc), code=2)


def _engine(model: Any) -> Any:
    from analysis.sentiment import LinearSentimentEngine

    return LinearSentimentEngine(model)


@model_app.command("eval")
def eval_cmd(
    task: Task = TASK,
    model: str = MODEL,
    data: Path = DATA,
    text_col: str = TEXT_COL,
    label_col: str = LABEL_COL,
    holdout: float = EVAL_HOLDOUT,
    seed: int = SEED,
    as_json: bool = JSON_OUT,
) -> None:
    """在带标签的数据上评估模型 (evaluate a model on labelled data).

    情感: 准确率、正负二分准确率、负面召回率、各类 precision / recall / F1；
    主题: 准确率、宏平均 F1、各类 precision / recall / F1。
    """
    from analysis import textmodel as tm
    from analysis import topicmodel

    predictor: Any
    try:
        if task is Task.sentiment:
            from analysis.sentiment import load_engine

            if model not in ("default", "snownlp") and not Path(model).is_file():
                fail(f"模型文件不存在 (model file not found): {model}", code=2)
            predictor = load_engine(model)
        else:
            predictor = topicmodel.load_topic_model(model)
    except (tm.TextModelError, ValueError) as exc:
        fail(str(exc), code=2)
    texts, labels = _read(data, text_col, label_col)
    if holdout:
        strat = tm.polarity_labels(labels) if task is Task.sentiment else labels
        _, idx = _split(strat, holdout, seed)
        texts, labels = [texts[i] for i in idx], [labels[i] for i in idx]
    started = time.perf_counter()
    metrics = _metrics(task, predictor, texts, labels)
    elapsed = time.perf_counter() - started
    metrics["us_per_text"] = round(elapsed / max(len(texts), 1) * 1e6, 1)
    if as_json:
        sys.stdout.write(
            json.dumps({"task": task.value, "model": model, **metrics}, ensure_ascii=False) + "\n"
        )
        return
    _print_metrics(f"{task.value} 模型 {model} 在 {data.name} 上的指标:", metrics)
    typer.echo(f"  速度 speed: {metrics['us_per_text']} µs/条")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main app."""
    app.add_typer(model_app, name="model", help="训练与评估情感、主题分类模型 (train / evaluate).")
