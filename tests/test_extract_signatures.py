"""Signatures: 【…】 anywhere, ASCII [...] only at the start or end around a name."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.normalize import normalize


def sigs(text: str) -> list[tuple[str, str, str]]:
    ex = extract(normalize(text))
    for s in ex.signatures:
        assert text[s.span[0] : s.span[1]] == s.text
    return [(s.name, s.text, s.position) for s in ex.signatures]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("【招联金融】您的借款已逾期。", [("招联金融", "【招联金融】", "start")]),
        ("您的借款已逾期，请还款【还呗】", [("还呗", "【还呗】", "end")]),
        ("您的借款已逾期，请还款【还呗】。", [("还呗", "【还呗】", "end")]),
        ("  【 小米金融 】您好", [("小米金融", "【 小米金融 】", "start")]),
        ("验证码1234【某某平台】回T退订", [("某某平台", "【某某平台】", "end")]),
        (
            "【福建12345】您的公积金已到账。【泉州某中心】",
            [("福建12345", "【福建12345】", "start"), ("泉州某中心", "【泉州某中心】", "end")],
        ),
        ("请注意【重要提醒】本月账单已出，请按时还款", [("重要提醒", "【重要提醒】", "inner")]),
        ("消费13.20元，可用额度4125.42元。[光大银行]", [("光大银行", "[光大银行]", "end")]),
        ("[CANA金融]您的账单已出", [("cana金融", "[CANA金融]", "start")]),
        ("【ＡＢＣ信贷】全角签名", [("abc信贷", "【ＡＢＣ信贷】", "start")]),
        ("【臺灣銀行】繁体签名", [("台湾银行", "【臺灣銀行】", "start")]),
        # ASCII brackets in the middle, or around a card tail, are not signatures.
        ("您的公积金账号[尾号6864]于10月30日缴存", []),
        ("您的账号[尾号6864]", []),
        ("您好[微笑]请查收账单", []),
        ("[Amazon] Your code is 123456", []),
        ("提示[回TD退订, 回YC夜间免扰]", []),
        ("没有签名的短信", []),
        ("【】空括号", []),
    ],
)
def test_signatures(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert sigs(text) == expected


def test_signature_span_is_original_offsets() -> None:
    text = "\u200b【招联金融】您好"
    ex = extract(normalize(text))
    assert ex.signatures[0].span == (1, 7)
