"""Masked runs and template placeholders."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.normalize import normalize


def masks(text: str) -> list[tuple[str, str]]:
    ex = extract(normalize(text))
    for m in ex.masked:
        assert text[m.span[0] : m.span[1]] == m.text
    return [(m.text, m.kind) for m in ex.masked]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("储蓄账户尾号****", [("****", "mask")]),
        ("验证码为：******", [("******", "mask")]),
        ("户主×××是我老公", [("×××", "mask")]),
        ("联系人139xxxx5678", [("xxxx", "mask")]),
        ("你爸媽丙○○、己○○", [("○○", "mask"), ("○○", "mask")]),
        ("【分期金融】刘某某,还贷呗", [("某某", "mask")]),
        ("刘某,你好", [("某", "mask")]),
        ("【福建12345】*辉您公积金", [("*", "mask")]),
        ("name: [REDACTED] owes", [("[REDACTED]", "mask")]),
        ("车辆中心:***.***.cn", [("***", "mask"), ("***", "mask")]),
        ("逾期{0}天", [("{0}", "placeholder")]),
        ("尊敬的{}，您好", [("{}", "placeholder")]),
        (
            "Dear {Name}, your {Client Name}",
            [("{Name}", "placeholder"), ("{Client Name}", "placeholder")],
        ),
        ("尊敬的%s，应还%d元", [("%s", "placeholder"), ("%d", "placeholder")]),
        ("hello ${name} and {{user}}", [("${name}", "placeholder"), ("{{user}}", "placeholder")]),
        ("验证码#code#", [("#code#", "placeholder")]),
        # Not masks.
        ("某银行提醒", []),
        ("炒鸡*支出", []),
        ("2*3=6", []),
        ("text with x and xylophone", []),
        ("50% off", []),
        ("[微笑]", []),
    ],
)
def test_masks(text: str, expected: list[tuple[str, str]]) -> None:
    assert masks(text) == expected
