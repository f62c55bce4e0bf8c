"""Sources, confidence and wording of the repayment cost caps (``repayment/caps.py``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from collectguard.repayment.caps import (
    CAP_FACTS,
    CN_ABSOLUTE_36,
    CN_JUDICIAL_24,
    UNVERIFIED_FACTS,
    CapFact,
    CostCap,
    cap_basis,
    cap_facts,
    cn_private_lending_4x_lpr,
)

PRESETS = (CN_JUDICIAL_24, CN_ABSOLUTE_36, cn_private_lending_4x_lpr(Decimal("0.031")))


def _verified_part(cap: CostCap) -> str:
    """The cap's citation with the clauses of facts listed as unverified removed."""
    text = cap.citation
    for fact in cap_facts(cap):
        if fact.id in UNVERIFIED_FACTS:
            text = text.replace(fact.cite("zh-CN"), "").replace(fact.cite("en"), "")
    return text


@pytest.mark.parametrize("cap", PRESETS, ids=lambda c: c.name)
def test_no_shipped_citation_carries_mem_unless_listed_unverified(cap: CostCap) -> None:
    assert cap_facts(cap), f"{cap.name} has no sourced facts"
    assert "[mem]" not in _verified_part(cap)
    assert "[mem]" not in cap.source


def test_mem_flag_and_unverified_list_agree() -> None:
    assert UNVERIFIED_FACTS <= CAP_FACTS.keys()
    for fact in CAP_FACTS.values():
        flagged = "[mem]" in fact.confidence or "[mem]" in fact.cite("en")
        assert flagged == (fact.id in UNVERIFIED_FACTS), fact.id
        assert fact.verified == (fact.id not in UNVERIFIED_FACTS), fact.id


@pytest.mark.parametrize("fact", list(CAP_FACTS.values()), ids=lambda f: f.id)
def test_each_fact_has_a_source_and_confidence(fact: CapFact) -> None:
    assert fact.sources and all(s.strip() for s in fact.sources)
    assert fact.confidence.split()[0] in {"high", "medium-high", "medium", "low"}
    if fact.verified:
        assert fact.quote, f"{fact.id}: a verified fact quotes what was read"
    else:
        assert not fact.quote, f"{fact.id}: nothing was read, so nothing may be quoted"
        assert "未核实" in fact.cite("zh-CN") and "unverified" in fact.cite("en")


@pytest.mark.parametrize("cap", PRESETS, ids=lambda c: c.name)
def test_each_cap_shows_its_sources_zh_first(cap: CostCap) -> None:
    for fact in cap_facts(cap):
        for source in fact.sources:
            assert source in cap.source, (cap.name, source)
        assert fact.cite("zh-CN") in cap.citation and fact.cite("en") in cap.citation
    zh_part, _, en_part = cap.citation.partition(" / ")
    assert "可信度" in zh_part and "confidence" in en_part
    zh, en = cap_basis(cap)
    assert zh.startswith("依据：") and en.startswith("Basis: ")
    assert cap_facts(cap)[0].sources[0] in zh and cap_facts(cap)[0].sources[0] in en


def test_unverified_24_percent_article_is_marked_in_the_citation() -> None:
    # 法发〔2017〕22号 第2条: instrument confirmed, article text not found.
    assert "cn.spc.financial_trial_2017.art2" in UNVERIFIED_FACTS
    zh, _, en = CN_JUDICIAL_24.citation.partition(" / ")
    assert "法发〔2017〕22号）第2条" in zh and "未核实" in zh
    assert "unverified" in en


def test_4x_lpr_cites_the_article_and_its_limits() -> None:
    # Corrected: article number added (Art. 25, overall line Art. 29), the line dates from
    # 2020-08-20, and licensed lenders are outside it (Art. 1 para. 2).
    cap = cn_private_lending_4x_lpr(Decimal("0.0310"))
    assert cap.annual_rate == Decimal("0.124")
    assert "法释〔2020〕17号修正）第25条、第29条" in cap.citation
    assert "持牌金融机构" in cap.citation and "licensed financial institutions" in cap.citation
    assert "2020-08-20" in cap.citation
    fact = CAP_FACTS["cn.spc.private_lending.4x_lpr"]
    assert fact.in_force == dt.date(2020, 8, 20)
    assert "一年期贷款市场报价利率四倍的除外" in fact.quote
    assert any(s.startswith("LawRefBook/Laws@abe3daa") for s in fact.sources)


def test_36_percent_line_is_dated_and_cash_loan_notice_reworded() -> None:
    art26 = CAP_FACTS["cn.spc.private_lending_2015.art26"]
    assert art26.until == dt.date(2020, 8, 19)
    assert "年利率36%，超过部分的利息约定无效" in art26.quote
    # Corrected: the notice ties cost to the SPC rules; the unconfirmed document number
    # recalled in research is no longer cited.
    assert "整治办函" not in CN_ABSOLUTE_36.citation
    assert "应符合最高人民法院关于民间借贷利率的规定" in CN_ABSOLUTE_36.citation
    assert "2020-08-19" in CN_ABSOLUTE_36.citation


def test_preset_rates_unchanged() -> None:
    assert CN_JUDICIAL_24.annual_rate == Decimal("0.24")
    assert CN_ABSOLUTE_36.annual_rate == Decimal("0.36")


def test_caller_defined_cap_keeps_its_own_basis() -> None:
    cap = CostCap(annual_rate=Decimal("0.2"), name="lender.own", citation="合同第5条", source="x")
    assert cap_facts(cap) == ()
    assert cap_basis(cap) == ("依据：合同第5条（来源：x）", "Basis: 合同第5条 (source: x)")


def test_confidence_outside_the_convention_is_refused() -> None:
    with pytest.raises(ValueError, match="confidence"):
        CapFact(
            id="x",
            instrument_zh="x",
            instrument_en="x",
            says_zh="x",
            says_en="x",
            quote="",
            sources=("x",),
            confidence="sure",
            verified=False,
        )
