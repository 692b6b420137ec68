"""Sensitivity, grades, casualty floors and the reasons, with the shipped weights and small custom ones."""

from __future__ import annotations

import pytest

from analysis.rules import RuleError, TermIndex
from analysis.severity import GRADES, SeverityConfig, assess_severity, casualties, cn_number
from config.settings import get_settings
from config.wiring import load_rule_config


@pytest.fixture(scope="module")
def shipped():
    cfg = load_rule_config(get_settings())
    index = TermIndex(cfg.rules.terms() | set(cfg.severity.triggers) | cfg.disposal.terms())
    return cfg, index


def run(shipped, text: str, *, label: str = "neutral", score: float = 0.5, heat: float | None = None):
    cfg, index = shipped
    hits = index.scan(text)
    cats, topics = cfg.rules.match(hits)
    weights = {r.id: r.weight for r in cfg.rules.rules}
    return assess_severity(cfg.severity, text=text, hits=hits, sentiment_label=label, sentiment_score=score,
                           categories=cats, topics=topics, rule_weights=weights, heat=heat,
                           rumour=bool(cfg.disposal.rumour_signals(hits)))


def test_explosion_with_casualties_is_major_or_worse_even_with_neutral_sentiment(shipped) -> None:
    res = run(shipped, "城东一家化工厂凌晨发生爆炸，现场有人员伤亡，消防正在救援")
    assert GRADES.index(res.grade) >= GRADES.index("重大")
    assert res.sensitivity >= 0.7
    assert any("触发词「爆炸」" in r for r in res.reasons)
    assert any("触发词「伤亡」" in r for r in res.reasons)
    assert any("重大突发事件和自然灾害" in r for r in res.reasons)


def test_mild_suggestion_is_ordinary(shipped) -> None:
    res = run(shipped, "建议在公园门口多放几个垃圾桶，方便游客。", label="positive", score=0.8)
    assert res.grade == "一般"
    assert res.sensitivity < 0.2
    assert res.reasons[-1].endswith("→ 一般")


def test_negative_sentiment_and_heat_raise_sensitivity_and_are_explained(shipped) -> None:
    text = "小区物业乱收费，业主投诉没人管"
    calm = run(shipped, text)
    angry = run(shipped, text, label="negative", score=0.05)
    hot = run(shipped, text, label="negative", score=0.05, heat=20000)
    assert calm.sensitivity < angry.sensitivity < hot.sensitivity
    assert any(r.startswith("负面情绪") for r in angry.reasons)
    assert not any(r.startswith("负面情绪") for r in calm.reasons)
    assert any(r.startswith("热度 20000") for r in hot.reasons)


def test_group_incident_terms_push_the_grade_up(shipped) -> None:
    quiet = run(shipped, "工人反映工资还没发", label="negative", score=0.2)
    loud = run(shipped, "上百名工人讨薪堵路拉横幅，发生冲突，群体性事件", label="negative", score=0.2)
    assert GRADES.index(loud.grade) > GRADES.index(quiet.grade)
    for term in ("堵路", "群体性", "冲突"):
        assert any(f"触发词「{term}」" in r for r in loud.reasons)


def test_casualty_counts_set_a_minimum_grade(shipped) -> None:
    res = run(shipped, "矿井透水事故造成十二人遇难")
    assert res.grade in ("重大", "特别重大")
    assert any("死亡 12 人" in r for r in res.reasons)
    res = run(shipped, "隧道坍塌，已致35人死亡")
    assert res.grade == "特别重大"


def test_casualty_parsing() -> None:
    assert cn_number("十二") == 12 and cn_number("三百零五") == 305 and cn_number("两") == 2
    assert cn_number("12") == 12 and cn_number("多") is None
    assert casualties("事故造成3人死亡、12名工人受伤") == {"死亡": 3, "受伤": 12}
    assert casualties("死亡人数已达15人") == {"死亡": 15}
    assert casualties("车祸致2死5伤") == {"死亡": 2, "受伤": 5}
    assert casualties("全国累计死亡病例25例") == {}  # case statistics are not accident casualties
    assert casualties("今天天气很好") == {}


def base_cfg(**over) -> dict:
    raw = {
        "negative_weight": 0.3, "category_weight": 0.1, "topic_weight": 0.1, "heat_weight": 0.3,
        "heat_full": 1000, "rumour_weight": 0.1,
        "thresholds": {"较大": 0.3, "重大": 0.6, "特别重大": 0.9},
        "triggers": {"塌了": 0.5},
        "casualties": [{"kind": "死亡", "at_least": 1, "grade": "较大"}],
    }
    raw.update(over)
    return raw


def test_weights_and_thresholds_come_from_config() -> None:
    cfg = SeverityConfig.from_dict(base_cfg())
    index = TermIndex(cfg.triggers)
    text = "桥塌了"
    res = assess_severity(cfg, text=text, hits=index.scan(text), sentiment_label="neutral", sentiment_score=0.5)
    assert res.sensitivity == pytest.approx(0.5)
    assert res.grade == "较大"
    cfg2 = SeverityConfig.from_dict(base_cfg(thresholds={"较大": 0.55, "重大": 0.6, "特别重大": 0.9}))
    assert assess_severity(cfg2, text=text, hits=index.scan(text), sentiment_label="neutral",
                           sentiment_score=0.5).grade == "一般"
    res = assess_severity(cfg2, text="1人死亡", hits={}, sentiment_label="neutral", sentiment_score=0.5)
    assert res.grade == "较大" and "死亡 1 人" in res.reasons[-1]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"thresholds": {"较大": 0.5, "重大": 0.4, "特别重大": 0.9}}, "阈值须随等级递增"),
        ({"thresholds": {"较大": 0.5, "重大": 0.6}}, "severity.thresholds"),
        ({"negative_weight": 2}, "negative_weight"),
        ({"heat_full": 0}, "heat_full"),
        ({"triggers": {"爆炸": "高"}}, "'爆炸' 的权重"),
        ({"casualties": [{"kind": "死亡", "at_least": 0, "grade": "重大"}]}, "severity.casualties"),
    ],
)
def test_bad_severity_config_is_refused(over: dict, message: str) -> None:
    with pytest.raises(RuleError) as err:
        SeverityConfig.from_dict(base_cfg(**over))
    assert message in str(err.value)
