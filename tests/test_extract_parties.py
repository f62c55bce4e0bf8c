"""Third parties named in a message; the term lists are data."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.normalize import normalize


def parties(text: str) -> list[tuple[str, str]]:
    ex = extract(normalize(text))
    for p in ex.parties:
        assert text[p.span[0] : p.span[1]] == p.text
    return [(p.text, p.role) for p in ex.parties]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("再不还款将通知你的家人和单位", [("家人", "relative"), ("单位", "employer")]),
        (
            "联系你的父母、配偶和子女",
            [("父母", "relative"), ("配偶", "relative"), ("子女", "relative")],
        ),
        ("你爸媽欠錢不還", [("爸媽", "relative")]),
        ("已联系你的紧急联系人", [("紧急联系人", "relative")]),
        (
            "发给你公司领导和同事，HR也知道",
            [("公司领导", "employer"), ("同事", "employer"), ("HR", "employer")],
        ),
        ("将爆你通讯录", [("通讯录", "contacts")]),
        ("在朋友圈曝光你", [("朋友圈曝光", "public")]),
        ("发到朋友圈", [("朋友圈", "contacts")]),
        ("网上公示你的信息", [("网上公示", "public")]),
        ("联合当地村(居)委陪同", [("村(居)委", "community")]),
        ("联合当地村（居）委陪同", [("村（居）委", "community")]),
        (
            "通报户籍地村委会/居委会",
            [("户籍地", "community"), ("村委会", "community"), ("居委会", "community")],
        ),
        ("已向公安机关报案，法院传票", [("公安机关", "authority"), ("法院", "authority")]),
        ("深圳某律师事务所通知", [("律师事务所", "authority")]),
        ("请扫描税务局二维码", [("税务局", "authority")]),
        (
            "We will contact your employer and family.",
            [("employer", "employer"), ("family", "relative")],
        ),
        (
            "your boss, coworkers and neighbors",
            [("boss", "employer"), ("coworkers", "employer"), ("neighbors", "community")],
        ),
        ("Your Friends", [("Friends", "contacts")]),
        # Not parties.
        ("within 24 hr", []),
        ("three threads", []),
        ("courtesy reminder", []),
        ("您的借款已逾期", []),
    ],
)
def test_parties(text: str, expected: list[tuple[str, str]]) -> None:
    assert parties(text) == expected


def test_party_terms_come_from_data() -> None:
    from collectguard.extract._parties import PARTY_TERMS

    roles = set(PARTY_TERMS.values())
    assert roles == {"relative", "employer", "contacts", "community", "authority", "public"}
    assert PARTY_TERMS["紧急联系人"] == "relative"
    assert PARTY_TERMS["hr"] == "employer"
