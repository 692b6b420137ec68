"""The rule language (all / any / none / near, merging by name) and the one-pass term matcher."""

from __future__ import annotations

import re

import pytest

from analysis.rules import RuleError, RuleSet, TermIndex, parse_rule


def brute_force(terms: list[str], text: str) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for t in terms:
        for m in re.finditer(f"(?={re.escape(t)})", text):
            out.setdefault(t, []).append(m.start())
    return out


def test_term_index_finds_every_occurrence_including_overlaps() -> None:
    terms = ["工资", "拖欠工资", "拖欠", "欠薪", "资金", "农民工", "农民", "民工", "工"]
    text = "农民工讨薪：老板拖欠工资资金链断了，拖欠农民工工资"
    index = TermIndex(terms)
    hits = index.scan(text)
    expected = brute_force(terms, text)
    assert {k: sorted(v) for k, v in hits.items()} == expected
    assert "欠薪" not in hits


def test_term_index_orders_hits_by_first_appearance_and_survives_pickling() -> None:
    """Severity reasons and disposal cues are listed in the order of the hits: terms by where they
    first start, those starting at one place alphabetically, single characters last; an import
    worker gets the index pickled and must find the same."""
    import pickle

    terms = ["工资", "拖欠工资", "拖欠", "欠", "伤亡", "爆炸", "工"]
    text = "工厂爆炸致伤亡，拖欠工资"
    hits = TermIndex(terms).scan(text)
    assert list(hits) == ["爆炸", "伤亡", "拖欠", "拖欠工资", "工资", "工", "欠"]
    assert hits["工"] == [0, 10] and hits["拖欠工资"] == [8]
    again = pickle.loads(pickle.dumps(TermIndex(terms)))
    assert list(again.scan(text).items()) == list(hits.items())


def test_term_index_is_case_insensitive_for_latin_and_handles_empty() -> None:
    index = TermIndex(["P2P", "GDP"])
    assert set(index.scan("某p2p平台暴雷，gdp数据")) == {"p2p", "gdp"}
    assert index.scan("") == {}
    assert TermIndex([]).scan("任何文字") == {}


def rules(*raws: dict) -> RuleSet:
    return RuleSet.from_dicts(list(raws))


def flags(rs: RuleSet, text: str) -> tuple[list[dict], list[dict]]:
    return rs.match(TermIndex(rs.terms()).scan(text))


def test_any_of_fires_with_the_terms_that_matched() -> None:
    rs = rules({"id": "t.wage", "name": "工资拖欠", "kind": "topic", "lead_unit": "人社局",
                "any": ["欠薪", "讨薪", "拖欠工资"]})
    cats, topics = flags(rs, "工地老板拖欠工资，工人集体讨薪")
    assert cats == []
    assert topics == [{"id": "t.wage", "name": "工资拖欠", "terms": ["讨薪", "拖欠工资"], "lead_unit": "人社局"}]
    assert flags(rs, "工资按时发放，大家很满意") == ([], [])


def test_all_of_requires_every_item_and_items_may_be_synonym_lists() -> None:
    rs = rules({"id": "c.school_food", "name": "学校食品", "kind": "category",
                "all": [["学校", "幼儿园"], "食堂"]})
    assert flags(rs, "幼儿园食堂饭菜发霉")[0][0]["terms"] == ["幼儿园", "食堂"]
    assert flags(rs, "单位食堂饭菜发霉") == ([], [])
    assert flags(rs, "学校门口修路") == ([], [])


def test_none_of_vetoes_the_rule() -> None:
    rs = rules({"id": "c.fire", "name": "火灾", "kind": "category", "any": ["火灾", "起火"],
                "none": ["演练"]})
    assert flags(rs, "仓库起火，浓烟很大")[0]
    assert flags(rs, "小学开展火灾逃生演练") == ([], [])


def test_min_any_counts_distinct_terms() -> None:
    rs = rules({"id": "t.edu", "name": "教育", "kind": "topic", "lead_unit": "教体局",
                "any": ["老师", "学生", "作业"], "min_any": 2})
    assert flags(rs, "老师今天生病了，老师请假") == ([], [])
    assert flags(rs, "老师布置的作业太多")[1][0]["terms"] == ["老师", "作业"]


def test_near_needs_terms_within_the_distance_in_either_order() -> None:
    rs = rules({"id": "t.wage.near", "name": "工资拖欠", "kind": "topic", "lead_unit": "人社局",
                "near": [{"a": ["工资", "工钱"], "b": ["没发", "拖欠"], "within": 4}]})
    assert flags(rs, "三个月工钱一直没发")[1][0]["terms"] == ["工钱", "没发"]
    assert flags(rs, "公司拖欠我们的工资")[1]  # b before a: gap 3
    assert flags(rs, "工资条上的数字我看不懂，快递也一直没发") == ([], [])


def test_rules_sharing_a_name_merge_into_one_flag() -> None:
    rs = rules(
        {"id": "t.wage", "name": "工资拖欠", "kind": "topic", "lead_unit": "人社局", "any": ["欠薪"]},
        {"id": "t.wage.near", "name": "工资拖欠", "kind": "topic", "lead_unit": "人社局",
         "near": [{"a": ["工资"], "b": ["没发"], "within": 3}]},
    )
    topics = flags(rs, "恶意欠薪，工资没发")[1]
    assert topics == [{"id": "t.wage", "name": "工资拖欠", "terms": ["欠薪", "工资", "没发"], "lead_unit": "人社局"}]
    assert flags(rs, "这个月工资没发")[1][0]["id"] == "t.wage.near"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x", "kind": "topic", "any": ["a"]}, "缺少 id"),
        ({"id": "r1", "kind": "category", "any": ["a"]}, "规则 r1: 缺少 name"),
        ({"id": "r2", "name": "x", "kind": "theme", "any": ["a"]}, "规则 r2: kind"),
        ({"id": "r3", "name": "x", "kind": "category", "none": ["a"]}, "规则 r3: 至少需要"),
        ({"id": "r4", "name": "x", "kind": "topic", "any": ["a"]}, "规则 r4: 重点领域 (topic) 规则须指定 lead_unit"),
        ({"id": "r5", "name": "x", "kind": "category", "any": ["a", ""]}, "规则 r5: any 含空字符串"),
        ({"id": "r6", "name": "x", "kind": "category", "any": ["a"], "threshold": 3}, "规则 r6: threshold"),
        ({"id": "r7", "name": "x", "kind": "category", "near": [{"a": ["x"], "b": ["y"]}]}, "规则 r7: near"),
        ({"id": "r8", "name": "x", "kind": "category", "any": ["a"], "anyy": ["b"]}, "规则 r8: 未知字段"),
        ({"id": "r9", "name": "x", "kind": "category", "any": ["a"], "none": ["a"]}, "规则 r9: 词语同时出现"),
        ({"id": "r10", "name": "x", "kind": "category", "any": ["a"], "min_any": 2}, "规则 r10: min_any"),
    ],
)
def test_invalid_rules_are_refused_naming_the_rule(raw: dict, message: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rule(raw, 0)
    assert message in str(err.value)


def test_duplicate_rule_ids_are_refused() -> None:
    with pytest.raises(RuleError, match="规则 a: id 重复"):
        rules({"id": "a", "name": "x", "kind": "category", "any": ["x"]},
              {"id": "a", "name": "y", "kind": "category", "any": ["y"]})


def test_shipped_rules_cover_the_seven_categories_and_ten_topics() -> None:
    from config.settings import get_settings
    from config.wiring import load_rule_config

    cfg = load_rule_config(get_settings())
    cats = {r.name for r in cfg.rules.rules if r.kind == "category"}
    topics = {r.name: r.lead_unit for r in cfg.rules.rules if r.kind == "topic"}
    assert len(cats) == 7
    assert topics == {
        "疫情防控": "卫健委", "经济金融": "金融办", "工资拖欠": "人社局", "环境污染和生态破坏": "生态环境局",
        "食品药品安全": "市监局", "教育": "教体局", "医疗": "医保局", "养老": "民政局",
        "安全生产": "应急管理局", "困难群众生活": "民政局",
    }
    index = TermIndex(cfg.rules.terms())
    samples = {
        "小区旁边的工厂半夜偷排废水，河里全是死鱼，气味恶臭": "环境污染和生态破坏",
        "在建项目包工头跑了，二十多个农民工讨薪无门": "工资拖欠",
        "某理财平台暴雷，老板跑路，投资人的钱取不出钱来": "经济金融",
        "超市卖过期食品，孩子吃完拉肚子": "食品药品安全",
        "镇上敬老院护工对失能老人态度很差": "养老",
    }
    for text, topic in samples.items():
        names = [f["name"] for f in cfg.rules.match(index.scan(text))[1]]
        assert topic in names, (text, names)
    assert cfg.rules.match(index.scan("消防大队在商场开展应急演练，模拟起火疏散"))[0] == []
    thresholds = cfg.rules.thresholds()
    assert set(thresholds) == {r.id for r in cfg.rules.rules}
    assert all(0 < v <= 1 for v in thresholds.values())
