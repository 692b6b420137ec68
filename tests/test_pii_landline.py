"""Landline numbers in the ways people write them (area code in brackets, full-width brackets,
a split local number, an extension) are masked; dates, amounts, case numbers and ordinary
numbers next to them are not."""

from __future__ import annotations

import pytest

from analysis.pii import find_pii, mask, mask_many, mask_pii


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("座机(010)12345678", "座机(***)******78"),
        ("座机（010）12345678", "座机（***）******78"),  # full-width brackets
        ("(0731)8888 6666", "(****)**** **66"),
        ("（0731） 8888-6666转", "（****） ****-**66转"),
        ("电话( 0571 )87654321。", "电话( **** )******21。"),
        ("010-12345678", "***-******78"),
        ("0731-88886666转123", "****-******66转123"),  # the extension alone names no one
        ("电话 0731 8888 6666", "电话 **** **** **66"),
        ("拨打0731-8888-6666咨询", "拨打****-****-**66咨询"),
        ("(010)1234567", "(***)*****67"),  # a seven-digit local number
    ],
)
def test_landlines_are_masked_however_written(text, masked):
    assert mask_pii(text) == (masked, ["landline"])
    assert mask_many([text]) == [masked]


@pytest.mark.parametrize(
    "text",
    [
        "2023-01-05 通报",
        "2019-2023年共投入资金12345678元",
        "金额1234567.89元，编号20190425",
        "案号(2023)湘0102民初1234号",
        "（2024）京01刑终123号判决",
        "区号(0731)，分机8888",  # an area code alone
        "(010)123456",  # too short for a local number
        "(010)123456789",  # too long: not a landline
        "(1010)12345678",  # brackets that hold no area code
        "第(3)项 12345678元",
    ],
)
def test_dates_amounts_and_case_numbers_are_not_masked(text):
    assert find_pii(text) == []
    assert mask(text) == text


def test_a_bracketed_landline_right_after_a_mobile_is_masked_too():
    """The bracket lets a landline begin exactly where a mobile number ends: both are masked."""
    text = "13812345678(010)12345678"
    assert mask_pii(text) == ("138****5678(***)******78", ["mobile", "landline"])
    assert [(p.start, p.end) for p in find_pii(text)] == [(0, 11), (11, 24)]
