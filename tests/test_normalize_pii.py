"""Text normalisation (hostile HTML → safe plain text, traditional → simplified) and PII masking."""

from __future__ import annotations

import pytest

from analysis.normalize import content_hash, html_to_text, normalize_text
from analysis.pii import find_pii, mask, mask_many, mask_pii


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<svg>..</svg><noscript>n</noscript><script>z</script><p>ok</p>", "ok"),
        ("<p>前</p><script>alert(1)</script><style>p{}</style><p>后</p>", "前\n后"),
        ('<a href="javascript:alert(1)" onclick="x()">链接</a>', "链接"),
        ("<img src=x onerror=alert(1)>图", "图"),
        ("&lt;script&gt;alert(1)&lt;/script&gt;正文", "正文"),  # doubly escaped markup is stripped too
        ("<div>未闭合<p>段落", "未闭合\n段落"),
        ("<<<>>>", "<<<>>>"),
    ],
)
def test_hostile_html_becomes_plain_text(raw, expected):
    out = normalize_text(raw)
    assert out == expected
    assert "<script" not in out.lower() and "onerror" not in out


def test_traditional_to_simplified_and_whitespace():
    assert normalize_text("網路　謠言\u00a0\u00a0已經   闢謠\r\n\r\n\r\n第二段") == "网路 谣言 已经 辟谣\n第二段"
    assert normalize_text("ＡＢＣ１２３，全角") == "ABC123，全角"  # letters/digits fold, Chinese punctuation stays
    assert normalize_text("控制\x00字符\x07") == "控制字符"


def test_content_hash_ignores_punctuation_and_spacing():
    assert content_hash("小区 停水了！") == content_hash("小区停水了")
    assert content_hash("小区停水了") != content_hash("小区停电了")


def test_html_to_text_empty_and_plain():
    assert html_to_text("") == ""
    assert html_to_text("纯文本") == "纯文本"


@pytest.mark.parametrize(
    ("text", "kind", "masked"),
    [
        ("电话13812345678", "mobile", "电话138****5678"),
        ("电话 +86 139-1234-5678 找我", "mobile", "139-****-5678"),
        ("身份证110101199003071234", "id_card", "110101********1234"),
        ("身份证11010119900307123X号", "id_card", "110101********123X"),
        ("邮箱 someone@example.com", "email", "s***@example.com"),
    ],
)
def test_personal_numbers_are_masked(text, kind, masked):
    out, kinds = mask_pii(text)
    assert kind in kinds
    assert masked in out


def test_ordinary_numbers_are_not_masked():
    text = "2019年共投入资金12345678元，编号20190425，楼号3栋502室"
    assert mask(text) == text
    assert find_pii(text) == []


def test_mask_many_masks_each_text_as_mask_does():
    """Batch masking joins the texts for one scan: a number split over two texts (or over a
    line break inside one) must not be masked, one inside any text must be, and texts without
    a candidate come back unchanged, None as ""."""
    texts = ["电话13812345678", None, "", "普通文本", "13812\n345678", "1381234", "5678 邮箱 a@b.cn",
             "身份证110101199003071234号\n第二行 0571-88889999", "2019年投入12345678元", "@"]
    out = mask_many(texts)
    assert out == [mask(t) for t in texts]
    assert out[0] == "电话138****5678" and out[1] == "" and out[3] == "普通文本"
    assert out[4] == "13812\n345678" and out[5] == "1381234" and out[6] == "5678 邮箱 a***@b.cn"
    assert "110101********1234" in out[7] and "88889999" not in out[7]
    assert mask_many([]) == []


@pytest.mark.parametrize(
    ("text", "masked", "kinds"),
    [
        ("电话86 13812345678", "电话86 138****5678", ["mobile"]),
        ("电话+8613812345678结束", "电话+86138****5678结束", ["mobile"]),
        ("身份证860101199003071234", "身份证860101********1234", ["id_card"]),  # an ID may start with 86
        ("身份证110101900307123号", "身份证110101*****7123号", ["id_card"]),  # the old 15-digit form
        ("卡号6222021234567890", "卡号6222********7890", ["bank_card"]),
        ("卡号6222 0212 3456 7890 123，谢谢", "卡号6222 **** **** ***0 123，谢谢", ["bank_card"]),
        ("座机0571-87654321转", "座机****-******21转", ["landline"]),
        # a number inside an e-mail address is masked once, as the number it is
        ("联系13812345678@qq.com", "联系138****5678@qq.com", ["mobile"]),
        ("a@b.cn13812345678", "a***@b.cn138****5678", ["email", "mobile"]),  # touching, not overlapping
    ],
)
def test_each_kind_is_masked_exactly(text, masked, kinds):
    assert mask_pii(text) == (masked, kinds)


def test_matches_come_in_text_order_and_are_immutable():
    import dataclasses

    text = "邮箱a@b.cn 电话13812345678 身份证110101199003071234 卡6222021234567890"
    found = find_pii(text)
    assert [(p.kind, p.start, p.end) for p in found] == [
        ("email", 2, 8), ("mobile", 11, 22), ("id_card", 26, 44), ("bank_card", 46, 62)]
    assert mask(text) == "邮箱a***@b.cn 电话138****5678 身份证110101********1234 卡6222********7890"
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].start = 0
    assert find_pii("没有号码") == [] and mask_pii("没有号码") == ("没有号码", [])
    assert mask_pii(None) == ("", []) and mask(None) == ""


def test_mask_many_finds_the_text_that_holds_each_number():
    assert mask_many(["ab", "13812345678"]) == ["ab", "138****5678"]
    assert mask_many(["甲", "乙乙", "丙", "13812345678", "丁", "x 13912345678"]) == [
        "甲", "乙乙", "丙", "138****5678", "丁", "x 139****5678"]
    # a number after many short texts and before another: each text's offset counts its line break
    assert mask_many(["a", "b", "c", "d", "e", "13812345678", "f"]) == ["a", "b", "c", "d", "e", "138****5678", "f"]
