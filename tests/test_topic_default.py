"""The topic model at scale: learning from segmented text, predicting raw text, several data files,
and the shipped default model in `yuqing analyze` and the intake (issue #23).

Uses the real shared data (`../shared/data/hotline_labeled_large.csv`, segmented; and
`hotline_labeled.csv`, raw) through the real CLI in a child process. Subsets are written to
``tmp_path`` only.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.textfeatures import CharNgrams, FlatCharNgrams, flatten
from analysis.topicmodel import DEFAULT_TOPIC_MODEL, load_topic_model, looks_segmented
from tests.cli import run_cli

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LARGE = SHARED / "hotline_labeled_large.csv"
RAW = SHARED / "hotline_labeled.csv"
CLASSES = {"城乡建设", "环境保护", "交通运输", "教育文体", "劳动和社会保障", "商贸旅游", "卫生计生"}

needs_data = pytest.mark.skipif(
    not (LARGE.is_file() and RAW.is_file()), reason="shared hotline data not present"
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _write(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def _large_sample(path: Path, n: int, seed: int = 0) -> Path:
    rows = _rows(LARGE)
    random.Random(seed).shuffle(rows)
    return _write(path, ["text_tokens", "一级分类"], [[r["text_tokens"], r["一级分类"]] for r in rows[:n]])


def _raw_lines() -> tuple[list[str], list[str]]:
    """The raw messages as the acceptance check feeds them: title and body joined by a space."""
    rows = _rows(RAW)
    return [f"{r['留言主题']} {r['留言详情']}".replace("\n", " ") for r in rows], [r["一级分类"] for r in rows]


def _macro_f1(truth: list[str], pred: list[str]) -> float:
    f1s = []
    for c in sorted(set(truth)):
        tp = sum(t == c and p == c for t, p in zip(truth, pred, strict=True))
        n_pred, n_true = pred.count(c), truth.count(c)
        prec, rec = (tp / n_pred if n_pred else 0.0), tp / n_true
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return float(np.mean(f1s))


def _analyze(lines: list[str], *args: str, env: dict[str, str] | None = None) -> list[dict]:
    res = run_cli("analyze", *args, stdin="\n".join(lines) + "\n", env=env, timeout=300)
    assert res.code == 0, res.err
    out = [json.loads(x) for x in res.out.splitlines()]
    assert len(out) == len(lines)
    return out


def test_flatten_gives_the_same_text_for_segmented_and_raw():
    raw = "A市西湖建筑集团占道施工，A3区大道（西行）！"
    segmented = "市 西湖 建筑 集团 占 道 施工 A3 区 大道 西行"
    assert flatten(raw) == flatten(segmented) == "市西湖建筑集团占道施工A3区大道西行"
    # plain character n-grams see the spaces and the punctuation: the two forms differ
    plain = CharNgrams((1, 3)).fit([raw, segmented])
    X = plain.transform([raw, segmented]).toarray()
    assert float(X[0] @ X[1]) < 0.9
    flat = FlatCharNgrams((1, 3)).fit([raw, segmented])
    F = flat.transform([raw, segmented]).toarray()
    assert float(F[0] @ F[1]) == pytest.approx(1.0, abs=1e-5)


@needs_data
def test_segmented_files_are_recognised():
    assert looks_segmented([r["text_tokens"] for r in _rows(LARGE)[:500]])
    raw, _ = _raw_lines()
    assert not looks_segmented(raw)


@needs_data
def test_model_trained_on_segmented_text_reads_raw_messages(tmp_path):
    """Trained on 1,500 segmented messages only, the model labels the raw messages (title and body
    joined by a space) well."""
    data = _large_sample(tmp_path / "seg.csv", 1500)
    out = tmp_path / "topic.npz"
    res = run_cli("model", "train", "topic", "--data", str(data), "--text-col", "text_tokens",
                  "--label-col", "一级分类", "--out", str(out), "--json", timeout=600)
    assert res.code == 0, res.err
    info = json.loads(res.out)["info"]
    assert info["segmented_training_text"] is True and info["prior"] is None
    assert info["files"][0]["segmented"] is True
    lines, truth = _raw_lines()
    got = _analyze(lines, "--topic-model", str(out))
    pred = [g["topic"] for g in got]
    assert all(0.0 < g["topic_score"] <= 1.0 for g in got)
    flat_f1 = _macro_f1(truth, pred)
    assert flat_f1 >= 0.82, flat_f1


@needs_data
def test_several_data_files_each_with_its_own_text_columns(tmp_path):
    seg = _large_sample(tmp_path / "seg.csv", 300, seed=1)
    out = tmp_path / "mixed.npz"
    res = run_cli("model", "train", "topic", "--data", str(seg), "--text-col", "text_tokens",
                  "--data", str(RAW), "--text-col", "留言主题,留言详情", "--label-col", "一级分类",
                  "--out", str(out), "--json", timeout=600)
    assert res.code == 0, res.err
    report = json.loads(res.out)
    assert report["train_rows"] == 300 + 403
    files = report["info"]["files"]
    assert [(f["data"], f["rows"], f["segmented"]) for f in files] == [
        ("seg.csv", 300, True), ("hotline_labeled.csv", 403, False)]
    assert files[1]["text_cols"] == ["留言主题", "留言详情"]
    assert set(load_topic_model(out).labels) == CLASSES


def test_text_columns_must_match_the_data_files(tmp_path):
    a = _write(tmp_path / "a.csv", ["t", "y"], [["公交 线路", "交通"], ["学校 招生", "教育"]] * 3)
    b = _write(tmp_path / "b.csv", ["x", "y"], [["公交线路", "交通"], ["学校招生", "教育"]] * 3)
    out = tmp_path / "m.npz"
    res = run_cli("model", "train", "topic", "--data", str(a), "--data", str(b), "--text-col", "t",
                  "--text-col", "x", "--text-col", "z", "--label-col", "y", "--out", str(out))
    assert res.code == 2
    assert "--text-col 给出 3 次" in res.err and "Traceback" not in res.err
    assert not out.exists()
    # a column missing from the second file names that file
    res = run_cli("model", "train", "topic", "--data", str(a), "--data", str(b), "--text-col", "t",
                  "--label-col", "y", "--out", str(out))
    assert res.code == 2 and "b.csv" in res.err and not out.exists()


@needs_data
def test_default_model_gives_every_message_a_topic_and_settings_replace_it(tmp_path):
    lines, truth = _raw_lines()
    lines, truth = lines[:60], truth[:60]
    got = _analyze(lines)
    assert all(g["topic"] in CLASSES and 0.0 < g["topic_score"] <= 1.0 for g in got)
    assert _macro_f1(truth, [g["topic"] for g in got]) >= 0.8
    # the shipped model labels only: lead departments stay with the rules
    assert not any(r.startswith("主题模型") for g in got for r in g["reasons"])
    # the setting switches it off ...
    off = _analyze(lines[:5], env={"YUQING_TOPIC_MODEL": "none"})
    assert all(g["topic"] is None and g["topic_score"] is None for g in off)
    # ... or names a locality's own model, which --topic-model also does
    own = _write(tmp_path / "own.csv", ["内容", "类"],
                 [["公交线路太少", "出行"], ["学校招生不公", "上学"]] * 6)
    model = tmp_path / "own.npz"
    res = run_cli("model", "train", "topic", "--data", str(own), "--text-col", "内容",
                  "--label-col", "类", "--out", str(model), "--prior", "none")
    assert res.code == 0, res.err
    by_setting = _analyze(lines[:5], env={"YUQING_TOPIC_MODEL": str(model)})
    by_option = _analyze(lines[:5], "--topic-model", str(model))
    assert {g["topic"] for g in by_setting} <= {"出行", "上学"}
    assert [g["topic"] for g in by_option] == [g["topic"] for g in by_setting]
    bad = run_cli("analyze", stdin="x\n", env={"YUQING_TOPIC_MODEL": str(tmp_path / "nope.npz")})
    assert bad.code == 2 and "主题模型文件不存在" in bad.err


def test_default_model_is_shipped_small_and_loaded_lazily():
    assert DEFAULT_TOPIC_MODEL.is_file()
    assert DEFAULT_TOPIC_MODEL.stat().st_size < 6 * 1024 * 1024
    code = (
        "import analysis.topicmodel as t, config.wiring, analysis.assess;"
        "assert t._load_default.cache_info().currsize == 0;"
        "m = t.load_topic_model('default'); assert m is t.load_topic_model('default');"
        "print(m.info['rows'])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) >= 8000


def test_intake_stores_the_default_topic_and_its_probability(any_engine, tmp_path, fixed_now):
    """A hotline export imported with the shipped settings: every message's post carries the
    default model's topic and probability in its assessment."""
    from sqlalchemy import select

    from config.clockconfig import load_calendar, load_clock_rules
    from config.settings import get_settings
    from ledger.clocks.replies import apply_reply_clock
    from ledger.db import session_scope
    from ledger.models.core import Post
    from tests.test_import_hotline import HEADER, ROWS, fast_assessor, run_import, write_csv

    rows = [*ROWS, ["1004", "A0004", "孩子入学难", "2019/5/6 10:00:00",
                    "小区学位不够，小学招生划片不合理，希望教育局解决。", "", "", "", ""]]
    path = write_csv(tmp_path / "export.csv", HEADER, rows)
    cal, rules = load_calendar(get_settings()), load_clock_rules(get_settings())
    clock = lambda m: apply_reply_clock(m, calendar=cal, rules=rules)
    report = run_import(any_engine, path, fast_assessor(), clock, fixed_now)
    assert report.inserted == 4
    with session_scope(any_engine) as s:
        posts = {p.external_id: p.assessment for p in s.execute(select(Post)).scalars()}
    assert all(a["topic"] in CLASSES and 0.0 < a["topic_score"] <= 1.0 for a in posts.values())
    assert posts["1004"]["topic"] == "教育文体"
    assert posts["1002"]["topic"] == "城乡建设"  # a street lamp out for a month
