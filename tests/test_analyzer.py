"""The analyzer end to end: verdicts, attribution, spans, advice, and hostile input."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collectguard import Analyzer, CheckInput, InputError
from collectguard.analyze.analyzer import infer_jurisdiction


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer.default()


@pytest.mark.parametrize(
    ("text", "sender", "collection", "authenticity", "codes"),
    [
        (
            "【招联金融】您的借款已逾期15天，再不还款我们将上门催收并通知你的家人和单位。",
            None,
            True,
            "genuine",
            {"threat", "contacts_relatives_or_employer"},
        ),
        (
            "您尾号1234的信用卡12月1日消费人民币35.00元，可用额度8000.00元。【建设银行】",
            "95533",
            False,
            "genuine",
            set(),
        ),
        (
            "【工商银行】您的电子密码器将于次日失效，请登录 icbc-safe-update.com 升级。",
            "13800138000",
            False,
            "scam",
            {"phishing_link"},
        ),
        (
            "您的借款已逾期，请将欠款转到以下个人账户，户主张某。",
            None,
            True,
            None,
            {"pay_to_personal_account"},
        ),
        (
            "Your account is past due. Pay today with gift cards or you will be arrested.",
            None,
            True,
            "scam",
            {"false_legal_claim", "pay_to_personal_account", "other"},
        ),
    ],
)
def test_verdict_table(
    analyzer: Analyzer,
    text: str,
    sender: str | None,
    collection: bool,
    authenticity: str | None,
    codes: set[str],
) -> None:
    r = analyzer.check(text, sender=sender)
    assert r.is_collection is collection
    if authenticity:
        assert r.authenticity == authenticity
    assert {v.code for v in r.violations} == codes
    for v in r.violations:
        if v.span:
            assert text[v.span[0] : v.span[1]] == v.evidence


def test_platform_attribution_from_product_alias(analyzer: Analyzer) -> None:
    r = analyzer.check("您的安逸花借款已逾期2天，请及时还款。")
    assert r.platform is not None
    assert r.platform.id == "mashang_cfc"
    assert r.platform.claimed_name == "安逸花"
    assert r.platform.legal_name and "马上消费" in r.platform.legal_name


def test_unknown_signature_is_still_the_claimed_name(analyzer: Analyzer) -> None:
    r = analyzer.check("【青柠随借】您的借款已逾期，请及时还款。")
    assert r.platform is not None
    assert r.platform.claimed_name == "青柠随借" and r.platform.id is None
    assert r.platform.span is not None


def test_sender_hotline_consistency_supports_genuine(analyzer: Analyzer) -> None:
    r = analyzer.check("【工商银行】您的信用卡已逾期，请尽快还款。", sender="95588")
    assert r.platform is not None and r.platform.id == "icbc"
    assert "sender_hotline" in r.platform.matched_by
    assert r.authenticity == "genuine"


def test_advice_never_repeats_a_number_from_the_message(analyzer: Analyzer) -> None:
    text = "【招联金融】您的借款已逾期，请立即回电 13912345678 处理，否则上门。"
    r = analyzer.check(text)
    for a in r.advice:
        assert a.number is None or a.number not in text
        assert "13912345678" not in a.text_zh
    assert any(a.number == "12378" for a in r.advice)


def test_scam_advice_routes_to_anti_fraud(analyzer: Analyzer) -> None:
    r = analyzer.check(
        "【某某贷】您的校园贷账户未注销，会影响征信，请联系客服注销并将资金转入安全账户。"
    )
    assert r.authenticity == "scam"
    assert {"96110"} <= {a.number for a in r.advice}


def test_night_time_needs_collection(analyzer: Analyzer) -> None:
    at = dt.datetime(2025, 1, 14, 23, 15, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    notice = analyzer.check(
        "您的信用卡消费人民币275.00元，可用余额1000元。【中国银行】", received_at=at
    )
    assert "night_time" not in {v.code for v in notice.violations}
    dun = analyzer.check("您的借款已逾期3天，请立即还款。", received_at=at)
    assert "night_time" in {v.code for v in dun.violations}


@pytest.mark.parametrize(
    ("text", "sender", "expected"),
    [
        ("您的借款已逾期", None, "cn"),
        ("您的借款已逾期", "+12025550100", "cn"),
        ("Your payment is past due", None, "us"),
        ("123456", "+12025550100", "us"),
        ("123456", None, "cn"),
    ],
)
def test_jurisdiction_inference(text: str, sender: str | None, expected: str) -> None:
    assert infer_jurisdiction(text, sender) == expected


def test_explicit_jurisdiction_wins(analyzer: Analyzer) -> None:
    assert analyzer.check("Your payment is past due", jurisdiction="cn").jurisdiction == "cn"
    with pytest.raises(InputError, match="no rule pack"):
        analyzer.check("hello", jurisdiction="fr")


def test_traditional_chinese_works_like_simplified(analyzer: Analyzer) -> None:
    simp = analyzer.check("你的欠款已逾期，再不还就通知你的家人和单位。")
    trad = analyzer.check("你的欠款已逾期，再不還就通知你的家人和單位。")
    assert {v.code for v in simp.violations} == {v.code for v in trad.violations} != set()


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\x02逾期\x7f",
        "\u202e逾期欠款\u202c 上门",
        "😀😀 您的借款已逾期 🔥🔥",
        "<script>alert('x')</script>您的借款已逾期<img src=x onerror=alert(1)>",
        "逾期" * 50_000,
    ],
)
def test_hostile_input_gives_a_verdict(analyzer: Analyzer, text: str) -> None:
    r = analyzer.check(text)
    for f in r.findings:
        if f.span:
            assert 0 <= f.span[0] <= f.span[1] <= len(text)


def test_megabyte_text_is_bounded(analyzer: Analyzer) -> None:
    big = "您的借款已逾期。" * 130_000  # 1.04 M characters, over the limit
    with pytest.raises(InputError, match="limit"):
        analyzer.check(big)


def test_check_input_passes_extra_fields_through(analyzer: Analyzer) -> None:
    r = analyzer.check(CheckInput(text="您的借款已逾期", case_id="A-1"))  # type: ignore[call-arg]
    assert r.input["case_id"] == "A-1"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=300),
    st.one_of(st.none(), st.text(max_size=30)),
)
def test_fuzz_never_crashes_and_spans_are_valid(text: str, sender: str | None) -> None:
    r = Analyzer.default().check(text, sender=sender)
    assert 0.0 <= r.collection_score <= 1.0 and 0.0 <= r.scam_score <= 1.0
    for f in r.findings:
        if f.span:
            s, e = f.span
            assert 0 <= s <= e <= len(text)
            assert f.evidence == text[s:e]


def test_every_public_channel_is_bilingual_and_sourced() -> None:
    """channels.yaml is data a person acts on: names in both languages, a source and a
    confidence for every channel (a stray comma in a YAML flow mapping once cut a name)."""
    from collectguard.analyze.advice import channels

    for cid, c in channels().items():
        assert set(c["name"]) == {"zh", "en"}, cid
        assert all(isinstance(v, str) and v.strip() for v in c["name"].values()), cid
        assert c["source"] and c["confidence"] in {"high", "medium", "low"}, cid
        if c.get("number"):
            assert str(c["number"]).replace("-", "").isdigit(), cid


@pytest.mark.parametrize(
    ("text", "not_claimed"),
    [
        ("你长期拖欠借款，我方已向公安机关报案。", "police"),
        ("您的校园贷账户尚未注销，请添加客服微信 kf2025 办理注销。", "tencent"),
    ],
)
def test_an_organisation_merely_mentioned_is_not_the_sender(
    analyzer: Analyzer, text: str, not_claimed: str
) -> None:
    r = analyzer.check(text)
    assert r.platform is None or r.platform.id != not_claimed


def test_an_authority_in_the_speakers_place_is_claimed(analyzer: Analyzer) -> None:
    r = analyzer.check("【人民法院】通知：你拖欠借款一案已立案，请于三日内还款，否则强制执行。")
    assert r.platform is not None and r.platform.kind == "court"
    assert r.authenticity == "scam"


def test_results_round_trip_through_validation(analyzer: Analyzer) -> None:
    """Every result dumps to data that validates back to the same result."""
    from collectguard.analyze.result import CheckResult

    texts = [
        "【招联金融】您的借款已逾期15天，再不还款我们将上门催收并通知你的家人和单位。",
        "【中国人民法院】您已被起诉，请点击 http://fayuan-cx.top 查看传票，验证码 482913。",
        "您好，您在我平台的借款已严重逾期，今晚22点前不还将联系你通讯录所有人，你这个老赖",
        "This is Acme Recovery. Pay now or we will have you arrested. Call 800-555-0199.",
        "",
    ]
    for t in texts:
        got = analyzer.check(t, sender="95188", received_at="2026-03-02T23:10:00+08:00")
        dumped = got.model_dump()
        assert CheckResult.model_validate(dumped).model_dump() == dumped


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../../etc/passwd", "Asia/Shang hai"])
def test_unknown_timezone_is_an_input_error(analyzer: Analyzer, zone: str) -> None:
    """A recipient zone nobody can resolve is refused, with or without a receive time,
    instead of silently never judging the hours."""
    from collectguard.errors import InputError

    with pytest.raises(InputError, match="time zone"):
        analyzer.check("您的借款已逾期", timezone=zone)
    with pytest.raises(InputError, match="time zone"):
        analyzer.check("您的借款已逾期", timezone=zone, received_at="2026-03-02T23:10:00+08:00")
    assert analyzer.check("您的借款已逾期", timezone="America/New_York").input["timezone"]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789 -.()*+中号码电话致电", max_size=40))
def test_callable_number_shortcut_never_hides_a_phone(text: str) -> None:
    """Attribution skips phone extraction when `_CALLABLE_NUMBER` finds nothing: then the
    extractor must indeed find no unmasked mobile or landline number."""
    from collectguard.analyze.attribution import _CALLABLE_NUMBER
    from collectguard.extract import extract
    from collectguard.normalize import normalize

    norm = normalize(text)
    if _CALLABLE_NUMBER.search(norm.text):
        return
    phones = extract(norm).phones
    assert not [p for p in phones if p.kind in ("mobile", "landline") and not p.masked]
