"""Bank cards, accounts, card tails, ID numbers and order numbers."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.extract._accounts import id_checksum_valid, luhn_valid
from collectguard.normalize import normalize


def accounts(text: str) -> list[tuple[str, str, str]]:
    ex = extract(normalize(text))
    for a in ex.accounts:
        assert text[a.span[0] : a.span[1]] == a.text
    return [(a.text, a.kind, a.digits) for a in ex.accounts]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("您尾号3675的信用卡", [("尾号3675", "card_tail", "3675")]),
        ("您尾号为6666的金融账户", [("尾号为6666", "card_tail", "6666")]),
        ("转出方尾号1234", [("尾号1234", "card_tail", "1234")]),
        ("公积金账号[尾号6864]于", [("尾号6864", "card_tail", "6864")]),
        ("您的借记卡账户6450，于12月28日", [("账户6450", "account", "6450")]),
        ("您账户0561于11月6日", [("账户0561", "account", "0561")]),
        ("您的信用卡6666于2024年", [("信用卡6666", "card_tail", "6666")]),
        ("您的京东白条（订单2537489474）", [("订单2537489474", "order", "2537489474")]),
        ("订单号：20240101123456", [("订单号：20240101123456", "order", "20240101123456")]),
        ("order #123456789 shipped", [("order #123456789", "order", "123456789")]),
        ("card ending in 4321", [("card ending in 4321", "card_tail", "4321")]),
        (
            "收款账户：6222 0212 3456 7890 128",
            [("收款账户：6222 0212 3456 7890 128", "bank_card", "6222021234567890128")],
        ),
        (
            "请转账到6222021234567890128",
            [("6222021234567890128", "bank_card", "6222021234567890128")],
        ),
        ("卡号 4111111111111111", [("卡号 4111111111111111", "bank_card", "4111111111111111")]),
        (
            "身份证号110101199003074514",
            [("身份证号110101199003074514", "id_number", "110101199003074514")],
        ),
        (
            "证件110101199003074514已登记",
            [("110101199003074514", "id_number", "110101199003074514")],
        ),
        ("身份证尾号1234", [("身份证尾号1234", "id_number", "1234")]),
        ("银行账户6222****1234", [("银行账户6222****1234", "account", "6222****1234")]),
        # Not accounts.
        ("储蓄账户尾号****", []),
        ("身份证尾号{1}", []),
        ("你账户上还有3600元", []),
        ("账户余额1000元", []),
        ("信用卡2024年账单", []),
        ("客服95588", []),
    ],
)
def test_accounts(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert accounts(text) == expected


def test_luhn_flag() -> None:
    (valid,) = extract(normalize("卡号4111111111111111")).accounts
    (invalid,) = extract(normalize("卡号4111111111111112")).accounts
    assert (valid.luhn_valid, invalid.luhn_valid) == (True, False)
    assert luhn_valid("6222021234567890128")
    assert not luhn_valid("6222021234567890127")


def test_id_checksum() -> None:
    assert id_checksum_valid("110101199003074514")
    assert not id_checksum_valid("110101199003074515")
    assert id_checksum_valid("11010519491231002x")


def test_accounts_are_not_phones() -> None:
    ex = extract(normalize("账号13800138000，身份证110101199003074514"))
    assert ex.phones == ()
