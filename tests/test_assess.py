"""The Assessor end to end (real snownlp engine, shipped rules and gazetteer), config errors, and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from analysis.assess import Assessor
from analysis.sentiment import load_engine
from config.loader import ConfigFileError
from config.settings import DEFAULTS_DIR, get_settings
from config.wiring import build_assessor

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def assessor() -> Assessor:
    return build_assessor(get_settings(sentiment_engine="snownlp"))


def test_explosion_post_is_flagged_graded_and_routed(assessor: Assessor) -> None:
    [a] = assessor.assess_batch(["河西区柳林化工园区一家工厂发生爆炸，造成多人伤亡，附近居民紧急疏散"])
    d = a.as_dict()
    assert [c["name"] for c in d["categories"]] == ["重大突发事件和自然灾害"]
    assert "爆炸" in d["categories"][0]["terms"] and "伤亡" in d["categories"][0]["terms"]
    assert d["topics"][0]["name"] == "安全生产" and d["topics"][0]["lead_unit"] == "应急管理局"
    assert d["severity"] in ("重大", "特别重大")
    assert d["jurisdiction"] == "示例市河西区柳林镇"
    assert d["responsible_unit"] == "示例市河西区应急管理局"
    assert d["disposal_type"] == "重大问题"
    assert d["rumour"] is False
    assert any(r.startswith("触发词「爆炸」") for r in d["reasons"])


def test_mild_suggestion(assessor: Assessor) -> None:
    [a] = assessor.assess_batch(["建议在长乐街道的公交站加装候车椅，方便老人等车，谢谢！"])
    assert a.severity == "一般"
    assert a.disposal_type == "建设性意见建议"
    assert a.jurisdiction == "示例市青山区长乐街道"
    assert a.responsible_unit == "示例市青山区人民政府"
    assert a.categories == []


def test_rumour_is_flagged_with_its_terms(assessor: Assessor) -> None:
    [a] = assessor.assess_batch(["网传石桥县双河镇自来水有毒，纯属谣言，大家不要转发"])
    assert a.rumour is True
    assert a.rumour_terms == ["网传", "谣言"]
    assert a.disposal_type == "虚假和不实信息"
    assert "严重危害社会秩序和安全稳定的不实信息" in [c["name"] for c in a.categories]


def test_disposal_types_from_cues(assessor: Assessor) -> None:
    texts = [
        "我家孩子得了白血病，家里实在没钱治了，走投无路，求助政府帮帮我们",
        "请问新生儿落户需要什么材料？什么时候可以办理？",
        "这肯定是官官相护，都是骗人的",
        "今天在公园散步，空气很好",
    ]
    got = [a.disposal_type for a in assessor.assess_batch(texts)]
    assert got == ["实际困难", "不了解情况、存在模糊认识", "错误看法", None]


def test_shipped_rules_catch_group_incidents_mass_illness_and_abuse_of_the_weak(assessor: Assessor) -> None:
    emergency, moral = "重大突发事件和自然灾害", "严重冲击社会道德底线的民生舆情"
    texts = [
        "石桥县数百名农民工聚集在县政府门口讨薪，工资已经拖欠半年",
        "青山区一所小学食堂饭菜发霉，多名学生腹泻送医",
        "敬老院老人被护工殴打的视频在网上流传",
        "市场监管部门查处一批过期奶粉，已责令下架",
        "社区组织消防演练，居民在楼下聚集观看，政府工作人员讲解",
        "周末学生们在操场上打篮球",
        "提醒广大群众不要聚集，上千人的聚集性活动一律取消",
        "春节我就堵门口，问问来拜年的人有没有去过外地",
    ]
    got = [a.as_dict() for a in assessor.assess_batch(texts)]

    def cat(d: dict, name: str) -> list[str] | None:
        return next((c["terms"] for c in d["categories"] if c["name"] == name), None)

    def topic(d: dict, name: str) -> list[str] | None:
        return next((t["terms"] for t in d["topics"] if t["name"] == name), None)

    assert cat(got[0], emergency) == ["聚集", "数百"] and topic(got[0], "工资拖欠")
    assert got[0]["severity"] != "一般"
    assert cat(got[1], emergency) == ["学生", "腹泻"] and topic(got[1], "食品药品安全")
    assert got[1]["severity"] != "一般"
    assert cat(got[2], moral) == ["老人", "殴打"] and topic(got[2], "养老")
    assert "奶粉" in (topic(got[3], "食品药品安全") or [])
    assert [d["categories"] for d in got[4:]] == [[], [], [], []]


def test_heat_raises_sensitivity_in_the_batch(assessor: Assessor) -> None:
    text = "云溪县有楼盘延期交房两年，业主维权"
    cold, hot = assessor.assess_batch([text, text], heats=[None, 50000])
    assert hot.sensitivity > cold.sensitivity
    assert any(r.startswith("热度 50000") for r in hot.reasons)
    with pytest.raises(ValueError):
        assessor.assess_batch([text], heats=[1, 2])


def test_order_is_kept_and_pii_reported(assessor: Assessor) -> None:
    texts = ["青山区停水了", "今天很开心", "我的电话13912345678，请回电"]
    res = assessor.assess_batch(texts)
    assert [r.jurisdiction for r in res] == ["示例市青山区", None, None]
    assert res[2].pii == ["mobile"]


class KeywordTopics:
    """A tiny deterministic topic classifier with the ``predict`` interface of trained models."""

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        return [("城乡建设", 0.9) if "道路" in t else ("商贸旅游", 0.3) for t in texts]


def test_topic_model_fills_topic_and_supplies_a_lead_unit_when_rules_have_none() -> None:
    settings = get_settings(sentiment_engine="snownlp")
    from config.wiring import load_gazetteer, load_rule_config

    a = Assessor(sentiment=load_engine("snownlp"), rules=load_rule_config(settings),
                 units=load_gazetteer(settings), topic_model=KeywordTopics())
    road, shop = a.assess_batch(["青山区金桥镇的道路坑坑洼洼", "河西区新开了一家商场"])
    assert (road.topic, road.topic_score) == ("城乡建设", 0.9)
    assert road.responsible_unit == "示例市青山区住建局"
    assert any(r.startswith("主题模型：城乡建设") for r in road.reasons)
    assert shop.topic == "商贸旅游" and shop.responsible_unit == "示例市河西区人民政府"  # below min_prob


def test_assessor_without_rules_still_gives_sentiment() -> None:
    [a] = Assessor(sentiment=load_engine("snownlp")).assess_batch(["爆炸"])
    assert a.categories == [] and a.severity == "一般" and a.jurisdiction is None


def _config_dir(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (DEFAULTS_DIR / name).read_text(encoding="utf-8")
    assert old in text
    (tmp_path / name).write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_bad_rule_in_local_config_names_the_file_and_rule(tmp_path: Path) -> None:
    _config_dir(tmp_path, "rules.toml", 'id = "topic.wage"\nname = "工资拖欠"\nkind = "topic"\nlead_unit = "人社局"',
                'id = "topic.wage"\nname = "工资拖欠"\nkind = "topic"')
    with pytest.raises(ConfigFileError) as err:
        build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))
    msg = str(err.value)
    assert str(tmp_path / "rules.toml") in msg and "topic.wage" in msg and "lead_unit" in msg


def test_bad_gazetteer_and_broken_toml_are_reported(tmp_path: Path) -> None:
    _config_dir(tmp_path, "units.toml", 'county = "湖滨区"', 'county = "不存在区"')
    with pytest.raises(ConfigFileError, match="units.toml.*landmarks"):
        build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))
    (tmp_path / "units.toml").unlink()
    (tmp_path / "rules.toml").write_text("[[rules]\nid=", encoding="utf-8")
    with pytest.raises(ConfigFileError, match="rules.toml"):
        build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))


def test_local_rules_replace_the_shipped_ones(tmp_path: Path) -> None:
    shutil.copy(DEFAULTS_DIR / "rules.toml", tmp_path / "rules.toml")
    with (tmp_path / "rules.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[rules]]\nid = "local.bridge"\nname = "危桥"\nkind = "category"\nany = ["危桥", "桥梁裂缝"]\n')
    a = build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))
    [res] = a.assess_batch(["云溪镇那座危桥什么时候修"])
    assert {"id": "local.bridge", "name": "危桥", "terms": ["危桥"]} in res.categories


def _yuqing(args: list[str], stdin: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_extra}
    code = "import sys; from config.cli.main import main; main(sys.argv[1:])"
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=120, check=False)


def test_cli_analyze_prints_the_assessment_fields(tmp_path: Path) -> None:
    lines = "\n".join([
        "石桥县双河煤矿发生透水事故，3人遇难",
        json.dumps({"title": "求助", "text": "望湖花园小区开发商拖欠农民工工资"}, ensure_ascii=False),
    ]) + "\n"
    proc = _yuqing(["analyze", "--engine", "snownlp"], lines, {"YUQING_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    first, second = (json.loads(x) for x in proc.stdout.splitlines())
    assert first["jurisdiction"] == "示例市石桥县双河镇" and first["severity"] != "一般"
    assert second["topics"][0]["name"] == "工资拖欠" and second["responsible_unit"] == "示例市青山区人社局"
    for key in ("categories", "topics", "topic", "sensitivity", "severity", "jurisdiction",
                "responsible_unit", "disposal_type", "rumour", "pii", "reasons"):
        assert key in first


def test_cli_analyze_bad_config_fails_cleanly(tmp_path: Path) -> None:
    (tmp_path / "rules.toml").write_text('[[rules]]\nid = "x"\nname = "x"\nkind = "oops"\nany = ["a"]\n',
                                         encoding="utf-8")
    proc = _yuqing(["analyze", "--engine", "snownlp"], "一句话\n", {"YUQING_CONFIG_DIR": str(tmp_path)})
    assert proc.returncode == 2
    assert "rules.toml" in proc.stderr and "规则 x" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_official_rebuttal_counts_as_rumour_signal(assessor: Assessor) -> None:
    [a] = assessor.assess_batch(["【辟谣】关于湖滨区自来水停供一周的消息不实，请以官方发布为准"])
    assert a.rumour is True and a.rumour_terms == ["辟谣", "不实"]
    assert a.jurisdiction == "示例市湖滨区"


def test_bad_disposal_config_is_refused(tmp_path: Path) -> None:
    _config_dir(tmp_path, "rules.toml", 'name = "错误看法"\nweight = 1.0', 'name = "错误的看法"\nweight = 1.0')
    with pytest.raises(ConfigFileError) as err:
        build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))
    assert "disposal.types" in str(err.value) and "错误的看法" in str(err.value)


def test_bad_severity_threshold_in_file_is_refused(tmp_path: Path) -> None:
    _config_dir(tmp_path, "rules.toml", '"重大" = 0.7', '"重大" = 0.3')
    with pytest.raises(ConfigFileError, match="阈值须随等级递增"):
        build_assessor(get_settings(config_dir=tmp_path, sentiment_engine="snownlp"))


def test_from_config_takes_plain_mappings() -> None:
    import tomllib

    rules = tomllib.loads((DEFAULTS_DIR / "rules.toml").read_text(encoding="utf-8"))
    units = tomllib.loads((DEFAULTS_DIR / "units.toml").read_text(encoding="utf-8"))
    a = Assessor.from_config(rules, units, sentiment=load_engine("snownlp"))
    res = a.assess_rules("石桥县马鞍乡有养殖场偷排污水", sentiment="negative", sentiment_score=0.1)
    assert res.jurisdiction == "示例市石桥县马鞍乡"
    assert res.responsible_unit == "示例市石桥县生态环境局"
    assert [t["name"] for t in res.topics] == ["环境污染和生态破坏"]
