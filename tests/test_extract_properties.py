"""Properties of `extract` on arbitrary text: it never fails, and every span is honest."""

from __future__ import annotations

import random
from dataclasses import fields

from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.extract import Extraction, classify_sender, extract
from collectguard.normalize import normalize

# Characters that exercise the extractors: digits and their full-width forms, separators,
# CJK and cue characters, brackets, masks, emoji, bidi and zero-width marks, controls.
_ALPHABET = st.sampled_from(
    list("0123456789０１２３４５６７８９ .,:;-/+()@#%$¥{}[]【】*×x○某元万年月日号时点前内天")
    + list("尾号账户订单身份证家人单位通讯录法院今明http:/w.comcnabcRMB")
    + [
        "\u200b",
        "\u200f",
        "\u202e",
        "\ufeff",
        "\x00",
        "\x07",
        "\n",
        "\t",
        "😀",
        "👍",
        "\U0001f3fd",
        "ﷺ",
    ]
)
_TEXT = st.one_of(
    st.text(),
    st.text(alphabet=_ALPHABET, max_size=200),
    st.lists(
        st.sampled_from(
            [
                "【招联金融】",
                "尾号1234",
                "13800138000",
                "95588",
                "021-53866655",
                "t.cn/abc",
                "3600.00元",
                "人民币1,000.28",
                "今日23:00前",
                "12月27日",
                "11:27",
                "{0}",
                "%s",
                "通讯录",
                "家人",
                "x.y",
                "1.2.3.4",
                "+1 866 597 3075",
                "验证码123456",
                " ",
                "**",
                "○",
                "订单2537489474",
                "6222021234567890128",
                "\u200b",
                "😀",
            ]
        ),
        max_size=30,
    ).map("".join),
)


def check(text: str, ex: Extraction) -> None:
    for f in fields(ex):
        items = getattr(ex, f.name)
        assert isinstance(items, tuple)
        previous_end = -1
        for item in items:
            s, e = item.span
            assert 0 <= s < e <= len(text), (f.name, item)
            assert item.text == text[s:e], (f.name, item)
            assert s >= previous_end, (f.name, items)  # in order, no overlaps
            previous_end = e


@settings(max_examples=400, deadline=None)
@given(_TEXT)
def test_extract_never_fails_and_spans_are_honest(text: str) -> None:
    check(text, extract(normalize(text)))


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_classify_sender_never_fails(text: str) -> None:
    info = classify_sender(text)
    assert info.is_personal == (info.kind in ("mobile", "landline"))


def test_one_megabyte_message() -> None:
    rng = random.Random(20240101)
    pieces = [
        "【招联金融】您的借款已逾期15天，应还金额3600.00元，请于今日23:00前还款，",
        "否则将通知您的家人和单位。客服4000-123-456 t.cn/abc 138****1234 {0}元 ",
        "Call 1-866-862-2789 within 7 days. ",
        "\u200f\u202e😀\x00",
    ]
    parts: list[str] = []
    size = 0
    while size < 1_000_000:
        piece = rng.choice(pieces) if rng.random() < 0.8 else chr(rng.randrange(32, 0x2FFFF))
        parts.append(piece)
        size += len(piece)
    text = "".join(parts)
    ex = extract(normalize(text))
    check(text, ex)
    assert len(ex.phones) > 1000
    assert len(ex.links) > 1000


def test_empty_and_blank() -> None:
    assert extract(normalize("")) == Extraction()
    assert extract(normalize("  \n\t ")) == Extraction()
