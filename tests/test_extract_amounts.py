"""Amounts of money: units, currency marks, amount cues, Chinese numerals, placeholders."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.extract._amounts import chinese_number
from collectguard.normalize import normalize


def amounts(text: str) -> list[tuple[str, float | None, str]]:
    ex = extract(normalize(text))
    for a in ex.amounts:
        assert text[a.span[0] : a.span[1]] == a.text
    return [(a.text, a.value, a.currency) for a in ex.amounts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("你账户上还有3600元需要清空。", [("3600元", 3600.0, "CNY")]),
        (
            "交易人民币12000.00，余额14805.04。",
            [("人民币12000.00", 12000.0, "CNY"), ("14805.04", 14805.04, "CNY")],
        ),
        ("消费RMB138.20元。", [("RMB138.20元", 138.2, "CNY")]),
        (
            "余额1,000.28元，收入1,000元",
            [("1,000.28元", 1000.28, "CNY"), ("1,000元", 1000.0, "CNY")],
        ),
        ("透支102.10人民币", [("102.10人民币", 102.1, "CNY")]),
        ("Pay $1,234.50 today", [("$1,234.50", 1234.5, "USD")]),
        ("owe 250 dollars", [("250 dollars", 250.0, "USD")]),
        ("USD 99.90 due", [("USD 99.90", 99.9, "USD")]),
        ("your KES {Amount} payment", [("KES {Amount}", None, "KES")]),
        ("Ksh 5,000 is due", [("Ksh 5,000", 5000.0, "KES")]),
        ("Rs. 2,000 pending", [("Rs. 2,000", 2000.0, "INR")]),
        ("应还金额{0}元。", [("{0}元", None, "CNY")]),
        ("应还金额%s元", [("%s元", None, "CNY")]),
        ("本期需偿还{}元", [("{}元", None, "CNY")]),
        ("欠款三千元", [("三千元", 3000.0, "CNY")]),
        ("一万二千五百元", [("一万二千五百元", 12500.0, "CNY")]),
        ("借款1.2万元", [("1.2万元", 12000.0, "CNY")]),
        ("借了5万，还没还", [("5万", 50000.0, "CNY")]),
        ("￥99.00已扣", [("￥99.00", 99.0, "CNY")]),
        ("港币500元", [("港币500元", 500.0, "HKD")]),
        ("100美元", [("100美元", 100.0, "USD")]),
        ("资费0元", [("0元", 0.0, "CNY")]),
        ("交易后余额5200【中国银行】", [("5200", 5200.0, "CNY")]),
        ("消费 1169.00，关注公众号", [("1169.00", 1169.0, "CNY")]),
        ("余额1000元，5000元", [("1000元", 1000.0, "CNY"), ("5000元", 5000.0, "CNY")]),
        # Not amounts.
        ("您已逾期15天", []),
        ("逾期{0}天", []),
        ("累计131580分", []),
        ("可用余额已低于20%", []),
        ("5万人参加", []),
        ("单元测试", []),
        ("统一元旦活动", []),
        ("您账户7632于12月10日", []),
        ("消费 3个月内", []),
        ("一块去吃饭", []),
        ("please reference ${name}", []),
    ],
)
def test_amounts(text: str, expected: list[tuple[str, float | None, str]]) -> None:
    assert amounts(text) == expected


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("三千", 3000.0),
        ("十", 10.0),
        ("十五", 15.0),
        ("两百", 200.0),
        ("一万二千", 12000.0),
        ("三十万", 300000.0),
        ("一亿二千万", 120000000.0),
        ("一二三", 123.0),
        ("壹佰", 100.0),
        ("", None),
    ],
)
def test_chinese_number(numeral: str, value: float | None) -> None:
    assert chinese_number(numeral) == value
