"""Place names → jurisdiction and responsible unit (属地管理 / 谁主管谁负责), gazetteer and fallback."""

from __future__ import annotations

import pytest

from analysis.jurisdiction import Gazetteer
from analysis.rules import RuleError, TermIndex
from config.settings import get_settings
from config.wiring import load_gazetteer


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return load_gazetteer(get_settings())


def resolve(gaz: Gazetteer, text: str, lead_units: tuple[str, ...] = ()):
    return gaz.resolve(text, TermIndex(gaz.terms()).scan(text), lead_units)


def test_one_district_goes_to_its_government(gaz) -> None:
    r = resolve(gaz, "青山区长乐街道有一段路灯坏了一个月")
    assert r.jurisdiction == "示例市青山区长乐街道"
    assert r.responsible_unit == "示例市青山区人民政府"
    assert "属地管理：属示例市青山区" in r.reasons


def test_landmark_resolves_to_its_district_and_town(gaz) -> None:
    r = resolve(gaz, "望湖花园门口的井盖丢了")
    assert r.jurisdiction == "示例市青山区望湖街道"
    assert r.places == ["望湖花园"]
    r = resolve(gaz, "示例东站出租车拒载")
    assert r.jurisdiction == "示例市湖滨区"


def test_topic_lead_unit_makes_that_department_of_the_locality_responsible(gaz) -> None:
    r = resolve(gaz, "云溪县桃源镇有工地拖欠工资", ("人社局",))
    assert r.jurisdiction == "示例市云溪县桃源镇"
    assert r.responsible_unit == "示例市云溪县人社局"
    assert "谁主管谁负责：牵头单位为人社局" in r.reasons


def test_department_names_can_be_overridden_per_locality(gaz) -> None:
    r = resolve(gaz, "河西区柳林村的河道发黑发臭", ("生态环境局",))
    assert r.responsible_unit == "示例市生态环境局河西分局"
    r = resolve(gaz, "示例高新区科技城晚上施工")
    assert r.responsible_unit == "示例高新区管委会"


def test_several_districts_go_to_the_superior_government_department(gaz) -> None:
    r = resolve(gaz, "青山区和石桥县都出现了非法集资", ("金融办", "公安局"))
    assert r.jurisdiction == "示例市（青山区、石桥县）"
    assert r.responsible_unit == "示例市地方金融监督管理局"
    assert any("涉及多个区县" in x for x in r.reasons)
    assert any("另涉及：公安局" in x for x in r.reasons)
    r = resolve(gaz, "湖滨区与河西区交界处垃圾成山")
    assert r.responsible_unit == "示例市人民政府"


def test_city_only_and_no_place(gaz) -> None:
    r = resolve(gaz, "示例市今年的公交票价要调整吗")
    assert (r.jurisdiction, r.responsible_unit) == ("示例市", "示例市人民政府")
    r = resolve(gaz, "今天的天气真好")
    assert (r.jurisdiction, r.responsible_unit, r.reasons) == (None, None, [])
    r = resolve(gaz, "有人在河边偷排废水", ("生态环境局",))
    assert r.jurisdiction is None and r.responsible_unit == "生态环境局"
    assert "属地待确认" in r.reasons[0]


@pytest.mark.parametrize(
    ("text", "jurisdiction", "unit"),
    [
        ("A市A7县春华镇金鼎村的自来水什么时候通", "A市A7县春华镇", "A市A7县人民政府"),
        ("家住A3区联丰路，楼下烧烤店油烟很大", "A3区", "A3区人民政府"),
        ("市民反映朝阳区某小区物业乱收费", "朝阳区", "朝阳区人民政府"),
        ("A市A2区和A5区之间的公交线路太少", "A市（A2区、A5区）", "A市人民政府"),
        ("我住在小区里，社区不管，景区也很乱", None, None),
        ("在家乡的城乡结合部很多乡镇都这样", None, None),
    ],
)
def test_fallback_recognises_unknown_places(gaz, text: str, jurisdiction: str | None, unit: str | None) -> None:
    r = resolve(gaz, text)
    assert (r.jurisdiction, r.responsible_unit) == (jurisdiction, unit), r.reasons
    if jurisdiction:
        assert "地名库未收录" in r.reasons[0]


def test_fallback_with_lead_unit(gaz) -> None:
    r = resolve(gaz, "B市B1区有家饭店卖过期食品", ("市监局",))
    assert (r.jurisdiction, r.responsible_unit) == ("B市B1区", "B市B1区市监局")


def test_fallback_can_be_switched_off() -> None:
    g = Gazetteer.from_dict({"city": {"name": "某市"}, "fallback": {"enabled": False}})
    assert g.resolve("朝阳区停水", {}, ()).jurisdiction is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "[city] 缺少 name"),
        ({"city": {"name": "某市"}, "format": {"government": "人民政府"}}, "[format] government"),
        ({"city": {"name": "某市"}, "counties": [{"aliases": []}]}, "[[counties]] 第 1 项: 缺少 name"),
        ({"city": {"name": "某市"}, "counties": [{"name": "甲区", "towns": [{"name": "一镇"}]},
                                                {"name": "乙区", "towns": [{"name": "一镇"}]}]},
         "地名「一镇」重复"),
        ({"city": {"name": "某市"}, "landmarks": [{"name": "体育馆", "county": "丙区"}]}, "[[landmarks]] 第 1 项"),
    ],
)
def test_bad_gazetteer_is_refused(raw: dict, message: str) -> None:
    with pytest.raises(RuleError) as err:
        Gazetteer.from_dict(raw)
    assert message in str(err.value)


def test_unit_names_are_the_units_resolve_can_name(gaz) -> None:
    names = gaz.unit_names(["人社局", "生态环境局", "人社局", ""])
    assert names[:3] == ["示例市人民政府", "示例市人社局", "示例市生态环境局"]
    assert len(names) == len(set(names))
    # every county's government and departments, with the file's overrides
    for county in ("青山区", "河西区", "云溪县"):
        assert f"示例市{county}人民政府" in names and f"示例市{county}人社局" in names
    assert "示例市生态环境局河西分局" in names and "示例市河西区生态环境局" not in names
    assert "示例高新区管委会" in names
    # exactly what resolution gives for a post about wages in a county
    r = resolve(gaz, "云溪县桃源镇有工地拖欠工资", ("人社局",))
    assert r.responsible_unit in names
    # without lead units: the governments only
    assert all(n.endswith(("人民政府", "管委会")) for n in gaz.unit_names()) and len(gaz.unit_names()) > 3
