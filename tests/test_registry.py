"""Platform registry: shipped data, confidence policy, hotline and domain ownership, search."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import collectguard.registry as registry_pkg
from collectguard.registry import (
    CONFIDENCE_LEVELS,
    Brand,
    Hotline,
    LenderEntry,
    Organization,
    PlatformRegistry,
    Product,
)

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT.parent / "shared" / "reference" / "platforms.yaml"
DATA = files("collectguard.registry").joinpath("data")


@pytest.fixture(scope="module")
def reg() -> PlatformRegistry:
    return PlatformRegistry.default()


def _raw(name: str) -> dict[str, Any]:
    doc = yaml.safe_load(DATA.joinpath(name).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


# --------------------------------------------------------------------------- shipped data


def test_default_is_cached_and_complete(reg: PlatformRegistry) -> None:
    assert PlatformRegistry.default() is reg
    assert len(reg.lenders) == 69
    assert len(reg.organizations) >= 40
    assert len(reg) == len(reg.lenders) + len(reg.organizations)
    assert len(list(reg)) == len(reg)
    assert {e.id for e in reg} == {e.id for e in reg.lenders} | {e.id for e in reg.organizations}
    assert "zhaolian_cfc" in reg and "court" in reg and "nope" not in reg


@pytest.mark.parametrize("filename", ["cn_lenders.yaml", "cn_organizations.yaml"])
def test_every_shipped_hotline_and_domain_has_source_and_confidence(filename: str) -> None:
    # Read the raw YAML, not the models, so this holds whatever the models accept.
    doc = _raw(filename)
    entries = doc.get("lenders", []) + doc.get("organizations", [])
    assert entries
    checked = 0
    for entry in entries:
        for item in entry.get("hotlines", []) + entry.get("domains", []):
            where = f"{filename}: {entry['id']}: {item.get('number') or item.get('domain')}"
            assert isinstance(item.get("source"), str) and item["source"].strip(), where
            assert item.get("confidence") in {"high", "medium", "low"}, where
            checked += 1
    assert checked > 0


def test_every_lender_keeps_legal_name_source(reg: PlatformRegistry) -> None:
    for entry in reg.lenders:
        assert entry.legal_name_source.strip(), entry.id
        for app in entry.apps:
            assert app.source.strip() and app.confidence in CONFIDENCE_LEVELS, entry.id
        for sig in entry.sms_signatures:
            assert sig.source.strip() and sig.confidence in CONFIDENCE_LEVELS, entry.id


def test_lender_hotline_counts_match_the_reference_notes(reg: PlatformRegistry) -> None:
    # platforms-notes.md §1: "Hotline rows: 36 high, 81 medium, 9 low."
    counts = Counter(h.confidence for e in reg.lenders for h in e.hotlines)
    assert counts == {"high": 36, "medium": 81, "low": 9}
    assert sum(len(e.domains) for e in reg.lenders) == 63


@pytest.mark.skipif(not REFERENCE.exists(), reason="research reference not checked out")
def test_shipped_lenders_are_built_from_the_current_reference() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_registry.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.skipif(not REFERENCE.exists(), reason="research reference not checked out")
def test_every_reference_hotline_survives_with_its_provenance(reg: PlatformRegistry) -> None:
    ref = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    for raw in ref:
        entry = reg.get(raw["id"])
        assert isinstance(entry, LenderEntry)
        assert [(h.number, h.confidence) for h in entry.hotlines] == [
            (str(h["number"]), h["confidence"]) for h in raw["hotlines"]
        ]
        assert [h.source for h in entry.hotlines] == [h["source"].strip() for h in raw["hotlines"]]
        assert [d.domain for d in entry.domains] == [d["domain"] for d in raw["domains"]]


def test_product_and_brand_strings_are_structured(reg: PlatformRegistry) -> None:
    zhongyin = reg.get("zhongyin_cfc")
    assert isinstance(zhongyin, LenderEntry)
    assert zhongyin.products == (
        Product(name="新易贷", confidence="low", note="single third-party code listing"),
    )
    jd_cfc = reg.get("jingdong_cfc")
    assert isinstance(jd_cfc, LenderEntry)
    assert Brand(name="捷信", note="former name") in jd_cfc.brands
    icbc = reg.get("icbc")
    assert isinstance(icbc, LenderEntry)
    assert all(not p.matchable for p in icbc.products)  # 'credit cards' is a description
    for entry in reg.lenders:
        names = [b.name for b in entry.brands] + [p.name for p in entry.products]
        for name in names:
            assert "(" not in name, (entry.id, name)


def test_product_aliases(reg: PlatformRegistry) -> None:
    aliases = {a.alias: a for a in reg.product_aliases}
    expected = {
        "借呗": "mayi_cfc",
        "花呗": "mayi_cfc",
        "安逸花": "mashang_cfc",
        "金条": "jd_finance",
        "白条": "jd_finance",
        "微粒贷": "webank",
        "有钱花": "duxiaoman",
        "美团借钱": "meituan_finance",
        "美团生活费": "meituan_finance",
        "分期乐": "lexin_fenqile",
        "360借条": "qifu_jietiao",
        "还呗": "shuhe_huanbei",
    }
    for name, entry_id in expected.items():
        assert aliases[name].entry_id == entry_id
    for alias in reg.product_aliases:
        assert alias.source.strip() and alias.confidence in CONFIDENCE_LEVELS
        if "maintainer knowledge" in alias.source:
            assert alias.confidence == "low", alias.alias


def test_organizations_schema(reg: PlatformRegistry) -> None:
    court = reg.get("court")
    assert isinstance(court, Organization)
    assert court.kind == "court" and court.is_authority and "法院" in court.names
    assert not court.is_lender
    for org in reg.organizations:
        assert org.names, org.id
    kinds = {o.kind for o in reg.organizations}
    assert {"court", "police", "regulator", "courier", "telecom", "platform"} <= kinds
    for org_id in ("sf_express", "cainiao", "china_mobile", "tencent", "unionpay", "v2ex"):
        platform = reg.get(org_id)
        assert isinstance(platform, Organization) and not platform.is_authority


def test_related_links_both_ways(reg: PlatformRegistry) -> None:
    assert "mayi_cfc" in {e.id for e in reg.related("ant_alipay")}
    assert "ant_alipay" in {e.id for e in reg.related("mayi_cfc")}  # reverse link
    with pytest.raises(KeyError, match="unknown registry entry id 'nope'"):
        reg.related("nope")


# --------------------------------------------------------------------------- confidence policy


def test_callable_hotlines_are_high_only(reg: PlatformRegistry) -> None:
    assert [h.number for h in reg.callable_hotlines("icbc")] == ["95588"]
    assert reg.cautioned_hotlines("icbc") == []  # 400-669-5588 is low: never offered
    assert [h.number for h in reg.cautioned_hotlines("mashang_cfc")] == ["400-036-8876"]
    assert reg.callable_hotlines("mashang_cfc") == []


def test_low_confidence_hotlines_are_never_offered(reg: PlatformRegistry) -> None:
    # 招联 has only low-confidence numbers (95786, 400-001-2222).
    zhaolian = reg.get("zhaolian_cfc")
    assert zhaolian is not None and {h.confidence for h in zhaolian.hotlines} == {"low"}
    assert reg.callable_hotlines("zhaolian_cfc") == []
    assert reg.cautioned_hotlines("zhaolian_cfc") == []
    for entry in reg:
        offered = reg.callable_hotlines(entry.id) + reg.cautioned_hotlines(entry.id)
        assert all(h.confidence != "low" for h in offered), entry.id
        assert all(h.confidence == "high" for h in reg.callable_hotlines(entry.id))
        assert all(h.confidence == "medium" for h in reg.cautioned_hotlines(entry.id))


def test_unknown_entry_id_raises(reg: PlatformRegistry) -> None:
    assert reg.get("nope") is None
    for call in (
        lambda: reg.callable_hotlines("nope"),
        lambda: reg.cautioned_hotlines("nope"),
        lambda: reg.is_official_hotline("nope", "95588"),
        lambda: reg.is_official_domain("nope", "example.com"),
    ):
        with pytest.raises(KeyError):
            call()


# --------------------------------------------------------------------------- hotlines


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("95588", ["icbc"]),
        ("955 88", ["icbc"]),
        ("+86 95588", ["icbc"]),
        ("４００-０３６-８８７６", ["mashang_cfc"]),  # full-width digits
        ("4000368876", ["mashang_cfc"]),
        ("95188", ["mayi_cfc", "ant_alipay", "mybank"]),
        ("1010-9955", ["zhongan"]),
        ("96110", ["anti_fraud_center"]),
        ("106980095533", ["ccb"]),  # 106 port ending in 建行 95533
        ("1065502010095555", ["cmb"]),
        ("1069089786401", []),  # observed 马上 port: not a hotline
        ("13800138000", []),
        ("95", []),
        ("", []),
    ],
)
def test_hotline_owner(reg: PlatformRegistry, number: str, expected: list[str]) -> None:
    owners = reg.hotline_owner(number)
    assert [e.id for e, _ in owners] == expected
    for _, hotline in owners:
        assert isinstance(hotline, Hotline)


def test_match_hotline_kinds(reg: PlatformRegistry) -> None:
    kinds = {(m.entry.id, m.kind) for m in reg.match_hotline("106980095533")}
    assert kinds == {("ccb", "port_suffix_match"), ("ccb", "observed_port")}
    # 95533 is both the hotline and a sender seen in real 建行 SMS.
    exact = reg.match_hotline("95533")
    assert [(m.entry.id, m.kind) for m in exact] == [("ccb", "exact"), ("ccb", "observed_port")]
    observed = reg.match_hotline("1069089786401")
    assert [(m.entry.id, m.kind) for m in observed] == [("mashang_cfc", "observed_port")]
    assert observed[0].hotline is None and observed[0].port is not None
    # A 95 number alone is not a port; a 106 prefix too short to hold one is not either.
    assert reg.match_hotline("10695533") == []


def test_is_official_hotline(reg: PlatformRegistry) -> None:
    hotline = reg.is_official_hotline("ccb", "95533")
    assert hotline is not None and hotline.confidence == "high"
    assert reg.is_official_hotline("icbc", "95533") is None
    assert reg.is_official_hotline("ccb", "106980095533") is None
    port = reg.is_official_hotline("ccb", "106980095533", allow_port_suffix=True)
    assert port is not None and port.digits == "95533"
    low = reg.is_official_hotline("zhaolian_cfc", "95786")
    assert low is not None and low.confidence == "low"  # owned, but never to be offered


# --------------------------------------------------------------------------- domains


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("mucfc.com", ["zhaolian_cfc"]),
        ("hqd.mucfc.com", ["zhaolian_cfc"]),
        ("https://www.MUCFC.com:443/path?q=1", ["zhaolian_cfc"]),
        ("mucfc.com.", ["zhaolian_cfc"]),
        ("mucfc.com.evil.cn", []),
        ("evilmucfc.com", []),
        ("jd-finance.cn", []),  # look-alike from the reference's scam notes
        ("jr.jd.com", ["jd_finance", "jd_finance"]),  # jr.jd.com, then jd.com
        ("pay.weixin.qq.com", ["tencent_tenpay"]),
        ("weixin.qq.com", []),  # only the pay. subdomain is listed
        ("zxgk.court.gov.cn", ["court"]),
        ("com", []),
        ("", []),
    ],
)
def test_domain_owner(reg: PlatformRegistry, host: str, expected: list[str]) -> None:
    assert [e.id for e, _ in reg.domain_owner(host)] == expected


def test_is_official_domain(reg: PlatformRegistry) -> None:
    webank = reg.is_official_domain("webank", "www.webank.com")
    assert webank is not None and webank.domain == "webank.com"
    assert reg.is_official_domain("webank", "webank.com.cn") is None
    assert reg.is_official_domain("zhaolian_cfc", "webank.com") is None
    most_specific = reg.is_official_domain("jd_finance", "jr.jd.com")
    assert most_specific is not None and most_specific.domain == "jr.jd.com"


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("招联", "zhaolian_cfc"),
        ("招聯金融", "zhaolian_cfc"),  # traditional
        ("MUCFC", "zhaolian_cfc"),  # domain, any case
        ("95511", "pab"),
        ("400 036 8876", "mashang_cfc"),
        ("微粒贷", "webank"),
        ("X0010H250000001", None),  # institution codes are not searched
        ("法院", "court"),
        ("icbc", "icbc"),
    ],
)
def test_search(reg: PlatformRegistry, query: str, first: str | None) -> None:
    found = reg.search(query)
    if first is None:
        assert found == []
    else:
        assert found and found[0].id == first


def test_search_exact_name_first_then_partial(reg: PlatformRegistry) -> None:
    ids = [e.id for e in reg.search("花呗")]
    assert ids[:2] == ["mayi_cfc", "ant_alipay"]
    assert reg.search("") == [] and reg.search("   ") == []
    assert {e.id for e in reg.search("消费金融")} >= {"beiyin_cfc", "jianxin_cfc"}


def test_public_api_is_pinned() -> None:
    assert set(registry_pkg.__all__) >= {
        "PlatformRegistry",
        "LenderEntry",
        "Organization",
        "Hotline",
        "OfficialDomain",
        "NameHit",
        "HotlineMatch",
        "ProductAlias",
        "load_registry_file",
    }
    for name in registry_pkg.__all__:
        assert hasattr(registry_pkg, name), name


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789", max_size=20),
        st.text(alphabet="0123456789０１２３ -+()١٢", max_size=20),
        st.text(max_size=20),
    )
)
def test_digits_of_fast_path_is_the_folding_definition(number: str) -> None:
    """Plain ASCII digit strings skip folding; every string gets what folding gives."""
    import unicodedata

    from collectguard.registry._models import digits_of

    folded = unicodedata.normalize("NFKC", number)
    assert digits_of(number) == "".join(c for c in folded if "0" <= c <= "9")
