"""Normalization: width, 繁→简, invisibles, evasions — and the offset map back to the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.normalize import EvasionLexicon, compact, normalize

EVASIONS = EvasionLexicon({"cs": "催收", "崔收": "催收", "通迅录": "通讯录"})


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("ＡＢＣ１２３", "abc123"),  # full width → half width, lower-case
        ("您的借\u200b款已逾期", "您的借款已逾期"),  # zero-width space dropped
        ("\u202e逾期\u202c", "逾期"),  # bidi controls dropped
        ("郵政局包裹未簽收", "邮政局包裹未签收"),  # traditional → simplified
        ("①②③", "123"),  # circled digits
        ("a  \t b", "a b"),  # whitespace runs collapse
    ],
)
def test_normalize_text(original: str, expected: str) -> None:
    assert normalize(original).text == expected


@pytest.mark.parametrize(
    ("original", "term", "evidence"),
    [
        ("再不还就爆 通*讯 录！", "爆通讯录", "爆 通*讯 录"),
        ("明天安排 CS 上门", "催收", "CS"),
        ("崔收部门通知", "催收", "崔收"),
        ("爆通迅录", "爆通讯录", "爆通迅录"),
        ("您已逾 期-3-天", "逾期", "逾 期"),
    ],
)
def test_compact_maps_back_to_original(original: str, term: str, evidence: str) -> None:
    comp = compact(normalize(original), EVASIONS)
    i = comp.text.index(term)
    assert comp.original_slice(i, i + len(term)) == evidence


def test_latin_evasion_needs_chinese_context() -> None:
    assert "催收" not in compact(normalize("see the docs cs team"), EVASIONS).text
    assert "催收" not in compact(normalize("docs里写着"), EVASIONS).text


def test_sentence_punctuation_stays_a_boundary() -> None:
    # "上，门" must not read as 上门 across a clause break
    assert "上门" not in compact(normalize("我们马上，门口见")).text


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_offsets_always_point_into_the_original(original: str) -> None:
    norm = normalize(original)
    assert len(norm.starts) == len(norm.ends) == len(norm.text)
    for s, e in zip(norm.starts, norm.ends, strict=True):
        assert 0 <= s < e <= len(original)
    comp = compact(norm, EVASIONS)
    for i in range(len(comp.text)):
        for j in range(i, min(len(comp.text), i + 4) + 1):
            s, e = comp.to_original(i, j)
            assert 0 <= s <= e <= len(original)
    # offsets are monotone: matches never map backwards
    assert list(norm.starts) == sorted(norm.starts)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=["Lo"]), min_size=1, max_size=40))
def test_plain_chinese_is_mapped_one_to_one(original: str) -> None:
    norm = normalize(original)
    if len(norm.text) == len(original):
        for i in range(len(original)):
            assert norm.to_original(i, i + 1) == (i, i + 1)


def test_span_outside_text_is_rejected() -> None:
    with pytest.raises(ValueError, match="outside"):
        normalize("abc").to_original(0, 10)


def _load_script(name: str) -> object:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_t2s_triggers_match_installed_opencc() -> None:
    """The shipped trigger set is exactly what the installed OpenCC's dictionaries change
    (rerun scripts/build_t2s_triggers.py after upgrading OpenCC)."""
    from collectguard.normalize import text as text_module

    script = _load_script("build_t2s_triggers")
    assert script.triggers() == set(text_module._T2S_TRIGGERS)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("深沈的夜", "深沉的夜"),  # 沈 changes only inside a phrase
        ("回覆我", "回复我"),
        ("沈先生", "沈先生"),  # a surname stays
        ("您的借款已逾期", "您的借款已逾期"),  # no trigger: OpenCC is skipped, text kept
    ],
)
def test_t2s_phrases_still_convert(original: str, expected: str) -> None:
    assert normalize(original).text == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=12))
def test_t2s_skip_is_exact(original: str) -> None:
    """Skipping OpenCC for trigger-free text gives what OpenCC itself would give."""
    from collectguard.normalize import text as text_module

    converted = text_module._OPENCC.convert(original)
    if len(converted) == len(original):
        assert normalize(original).text == converted


def test_identity_ranges_really_fold_to_themselves() -> None:
    """The fast path leaves these characters alone, so each must fold to itself."""
    from collectguard.normalize import text as text_module

    for first, last in text_module.IDENTITY_RANGES:
        for code in range(ord(first), ord(last) + 1):
            ch = chr(code)
            assert text_module._fold_char(ch) == ch, f"U+{code:04X} does not fold to itself"
            assert ch.isprintable() and (ch == " " or not ch.isspace())


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=40))
def test_fast_fold_equals_the_table(original: str) -> None:
    """Folding only the characters outside the identity ranges gives str.translate's result."""
    from collectguard.normalize import text as text_module

    want = original.translate(text_module._FOLD_TABLE)
    assert text_module._NEEDS_FOLD.sub(text_module._fold_match, original) == want


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=0x3400, max_codepoint=0x2FFFF), max_size=8))
def test_trigger_check_agrees_with_the_set(original: str) -> None:
    from collectguard.normalize import text as text_module

    want = not original.isascii() and not text_module._T2S_TRIGGERS.isdisjoint(original)
    assert text_module._may_convert(original) == want
