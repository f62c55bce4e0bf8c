"""Statutory and judicial ceilings on the overall cost of credit.

Owns: the :class:`CostCap` model, the presets a lender may pick for China's judicial interest
lines, and the sourced facts (:class:`CapFact`) each preset rests on. Pure: no I/O, no web or
CLI imports.

Every fact carries its source and confidence, worded as ``reference/regulations.md`` words
them (``high`` = article text read, or two independent reputable sources agree; ``medium`` =
one reputable secondary source; flags ``[2nd]`` secondary, ``[mem]`` from memory). Facts
whose article text could not be found stay flagged ``[mem]`` and are listed in
:data:`UNVERIFIED_FACTS`; every preset's ``citation`` says so in both languages.

Verification of the research sheet's ``[mem]`` items (2026-11, see ``docs/repayment.md``):

* 民法典 第680条 禁止高利放贷 — confirmed (regulations.md ``cn.civil.usury``, high).
* 4 × one-year LPR (民间借贷规定 as amended by 法释〔2020〕17号) — confirmed, article added:
  第25条 (and 第29条 for overdue interest + penalties + fees together), text read in
  LawRefBook/Laws. Corrected: the line dates from 法释〔2020〕6号 (then 第26条), in force
  2020-08-20, not from 〔2020〕17号; the provisions exclude licensed financial institutions
  (第1条第2款).
* 法释〔2015〕18号 第26条 24 % / 36 % — confirmed from verbatim reproductions (medium-high
  [2nd]); "superseded 2020" made precise: replaced on 2020-08-20, still used for interest up
  to 2020-08-19 on loans made before that day (2020-12 text 第31条第2款).
* 《关于规范整顿“现金贷”业务的通知》(2017-12-01) — corrected: the notice ties cash loans'
  overall cost to the SPC private-lending rate rules (then the 36 % line), per secondary
  reports; its document number (recalled as 整治办函〔2017〕141号) was not found and is no
  longer cited.
* 法发〔2017〕22号 第2条 (financial loans: total cost above 24 %/yr reduced on the borrower's
  request) — **unverified**: the instrument (number, August 2017, 30 provisions) is
  confirmed by secondary sources, its Art. 2 wording was not found; kept ``[mem]``.
* NIFA 公约 (2018): the part of interest, penalties and fees above the legally permitted
  overall cost must not be collected [cn.nifa2018.excess_cost, confidence medium]. This is
  why the optimizer removes any excess instead of merely flagging it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CAP_FACTS",
    "CN_ABSOLUTE_36",
    "CN_JUDICIAL_24",
    "UNVERIFIED_FACTS",
    "CapFact",
    "CostCap",
    "cap_basis",
    "cap_facts",
    "cn_private_lending_4x_lpr",
]


class CostCap(BaseModel):
    """A ceiling on the overall annual cost of credit (interest + penalties + fees).

    The cap is applied as simple interest on the original principal over the days from the
    loan's start to the last instalment of a plan — the most a lender may lawfully collect
    beyond the principal.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    annual_rate: Decimal = Field(
        gt=Decimal(0),
        le=Decimal(1),
        description="Annual ceiling as a fraction, e.g. 0.24 for 24 %.",
    )
    name: str = Field(min_length=1, description="Short label, e.g. 'cn.judicial_24'.")
    citation: str = Field(min_length=1, description="Instrument and article the cap rests on.")
    source: str = Field(min_length=1, description="Where the fact was checked.")


_CONFIDENCE_ZH = {"high": "高", "medium-high": "中高", "medium": "中", "low": "低"}


class CapFact(BaseModel):
    """One sourced fact a cap rests on: instrument and article, what it says, the words read.

    ``quote`` is the text as read in ``sources`` (empty when the article was not found);
    ``confidence`` is worded as in ``reference/regulations.md`` (high / medium-high / medium /
    low, one flag ``[2nd]`` or ``[mem]`` kept), what it does not cover said in ``note``
    (corrections to the research sheet too). A fact with ``verified=False`` must be listed in
    :data:`UNVERIFIED_FACTS` and is cited with an explicit "未核实 / unverified" mark.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    instrument_zh: str
    instrument_en: str
    says_zh: str
    says_en: str
    quote: str
    sources: tuple[str, ...]
    confidence: str = Field(pattern=r"^(high|medium-high|medium|low)( \[(2nd|mem)\])?$")
    verified: bool
    in_force: dt.date | None = None
    until: dt.date | None = None
    note: str = ""

    def cite(self, lang: str) -> str:
        """The fact as one citation clause, ``lang`` 'zh-CN' or 'en'."""
        if lang == "zh-CN":
            word, _, flags = self.confidence.partition(" ")
            conf = _CONFIDENCE_ZH[word] + (f" {flags}" if flags else "")
            mark = "" if self.verified else "未核实，"
            return f"{self.instrument_zh}：{self.says_zh}（{mark}可信度：{conf}）"
        mark = "" if self.verified else "unverified, "
        return f"{self.instrument_en}: {self.says_en} ({mark}confidence: {self.confidence})"


_LAWREFBOOK_2020_12 = (
    "LawRefBook/Laws@abe3daaa448d225a37606118eaa4796d05b2c01c:"
    "司法解释/最高人民法院关于审理民间借贷案件适用法律若干问题的规定(2020-12-29).md"
)
_REG_USURY = (
    "reference/regulations.md cn.civil.usury (民法典 from LawRefBook/Laws, read in research)"
)
_ZJBLF = "http://www.zjblf.com/?p=44128 (金道律师事务所 on 金规〔2025〕9号, seen)"
_LAWREFBOOK_2020_08 = (
    "LawRefBook/Laws@3a1021400993b9853b3897efdccf9a1bf3ea0448:"
    "司法解释/最高人民法院关于审理民间借贷案件适用法律若干问题的规定.md"
)

CAP_FACTS: dict[str, CapFact] = {
    f.id: f
    for f in (
        CapFact(
            id="cn.civil_code.680",
            instrument_zh="《民法典》第680条",
            instrument_en="Civil Code Art. 680",
            says_zh="禁止高利放贷，借款的利率不得违反国家有关规定",
            says_en="lending at usurious rates is prohibited; loan rates must not breach "
            "state rules",
            quote="禁止高利放贷，借款的利率不得违反国家有关规定。",
            sources=(_REG_USURY,),
            confidence="high",
            verified=True,
            in_force=dt.date(2021, 1, 1),
        ),
        CapFact(
            id="cn.spc.private_lending.4x_lpr",
            instrument_zh=(
                "最高人民法院《关于审理民间借贷案件适用法律若干问题的规定》"
                "（法释〔2020〕17号修正）第25条、第29条"
            ),
            instrument_en=(
                "SPC Provisions on private-lending cases (as amended by Fa Shi [2020] No. 17) "
                "Arts. 25 and 29"
            ),
            says_zh=(
                "约定利率超过合同成立时一年期贷款市场报价利率（LPR）四倍的部分不予支持；"
                "逾期利息、违约金和其他费用总计超过该四倍的部分亦不予支持；"
                "持牌金融机构发放贷款引发的纠纷不适用（第1条第2款）；2020-08-20起施行"
            ),
            says_en=(
                "interest above 4 × the one-year LPR at the contract date is not upheld, nor "
                "is overdue interest, penalties and other fees together above that line; "
                "loans by licensed financial institutions are excluded (Art. 1 para. 2); "
                "in force since 2020-08-20"
            ),
            quote=(
                "出借人请求借款人按照合同约定利率支付利息的，人民法院应予支持，但是双方约定的"
                "利率超过合同成立时一年期贷款市场报价利率四倍的除外。"
            ),
            sources=(
                _LAWREFBOOK_2020_12,
                _LAWREFBOOK_2020_08 + " (2020-08 text, Art. 26, in force 2020-08-20)",
                "https://www.court.gov.cn/zixun/xiangqing/282621.html (cited in a public "
                "repository, not fetched)",
                _REG_USURY,
            ),
            confidence="high",
            verified=True,
            in_force=dt.date(2020, 8, 20),
            note=(
                "Article text read (high); the document number 法释〔2020〕17号 and its "
                "in-force date 2021-01-01 rest on secondary sources (medium [2nd]). "
                "The 4 × LPR line came with 法释〔2020〕6号 (then Art. 26, in force 2020-08-20); "
                "法释〔2020〕17号 (in force 2021-01-01) renumbered it Art. 25. The research sheet "
                "gave only 〔2020〕17号 with no article."
            ),
        ),
        CapFact(
            id="cn.spc.private_lending_2015.art26",
            instrument_zh=(
                "最高人民法院《关于审理民间借贷案件适用法律若干问题的规定》（法释〔2015〕18号）第26条"
            ),
            instrument_en="SPC Provisions on private-lending cases (Fa Shi [2015] No. 18) Art. 26",
            says_zh=(
                "约定年利率未超过24%的予以支持；超过36%的部分约定无效，借款人可请求返还已付部分；"
                "2020-08-20起民间借贷改按一年期LPR四倍，此前成立的借贷至2020-08-19的利息仍可按此计算"
            ),
            says_en=(
                "agreed interest up to 24 %/yr is upheld; the part above 36 %/yr is void and "
                "paid excess may be reclaimed; replaced for private lending by 4 × LPR on "
                "2020-08-20, still used for interest up to 2020-08-19 on loans made before"
            ),
            quote=(
                "借贷双方约定的利率超过年利率36%，超过部分的利息约定无效。借款人请求出借人返还"
                "已支付的超过年利率36%部分的利息的，人民法院应予支持。"
            ),
            sources=(
                "verbatim copies of the article in eight public repositories (lending "
                "platforms' legal pages), found by exact-string search of the code corpus",
                "http://lnmlw.com/Bankloan/sqanfmaxvi.html (English rendering, seen, low quality)",
                "https://gongbao.court.gov.cn/Details/48786dea74c9545c2f4fb27254ca08.html "
                "(SPC gazette, cited in a public repository, not fetched)",
                _LAWREFBOOK_2020_12 + " Art. 31 para. 2 (transition)",
            ),
            confidence="medium-high [2nd]",
            verified=True,
            in_force=dt.date(2015, 9, 1),
            until=dt.date(2020, 8, 19),
            note=(
                "'Superseded 2020' made precise: 法释〔2020〕6号 replaced it from 2020-08-20; "
                "the 2020-12 text Art. 31 para. 2 keeps it for interest up to 2020-08-19 on "
                "contracts made before 2020-08-20. The reproductions agree word for word; the "
                "official text was not read. In-force date 2015-09-01 from reproductions."
            ),
        ),
        CapFact(
            id="cn.cash_loan_notice_2017",
            instrument_zh=(
                "互联网金融风险专项整治、P2P网贷风险专项整治工作领导小组办公室"
                "《关于规范整顿“现金贷”业务的通知》（2017-12-01）"
            ),
            instrument_en=(
                "Internet-finance and P2P rectification offices' Notice on regulating cash "
                "loans (2017-12-01)"
            ),
            says_zh="现金贷综合资金成本应符合最高人民法院关于民间借贷利率的规定（当时即年化36%）",
            says_en=(
                "cash loans' overall borrowing cost must comply with the SPC's private-lending "
                "rate rules (then 36 %/yr)"
            ),
            quote=(
                "The borrowing costs should comply with the regulation on the interest rate of "
                "private lending as stipulated by the Supreme People's Court, with the maximum "
                "annual rate set at 36 percent."
            ),
            sources=(
                "http://www.szjzcy.com/business/2017-12/05/content_35211970.htm (mirror of a "
                "Xinhua/China Daily report of 2017-12-05, seen)",
                "http://www.plnmw.com/ClothingCompany/syqbzwnaob.html (summary of the notice, "
                "seen, low quality)",
            ),
            confidence="medium [2nd]",
            verified=True,
            in_force=dt.date(2017, 12, 1),
            note=(
                "The research sheet said the notice 'bans cash loans whose overall cost exceeds "
                "36 %'; the reports read say it ties the cost to the SPC rules, which then drew "
                "the 36 % line. The document number recalled (整治办函〔2017〕141号) was found in "
                "no source and is no longer cited; the notice's own text was not read."
            ),
        ),
        CapFact(
            id="cn.spc.financial_trial_2017.art2",
            instrument_zh="最高人民法院《关于进一步加强金融审判工作的若干意见》（法发〔2017〕22号）第2条",
            instrument_en=(
                "SPC Several Opinions on further strengthening financial trials "
                "(Fa Fa [2017] No. 22) Art. 2"
            ),
            says_zh=(
                "金融借款的借款人主张利息、复利、罚息、违约金和其他费用过高，"
                "请求对总计超过年利率24%的部分调减的，应予支持"
            ),
            says_en=(
                "a financial-loan borrower's request to reduce interest, compound interest, "
                "penalty interest, liquidated damages and other fees above 24 %/yr in total "
                "is to be granted"
            ),
            quote="",
            sources=(
                "https://conventuslaw.com/report/china-supreme-court-thirty-opinions-on-trial-"
                "work (instrument: Fa Fa [2017] No. 22, thirty provisions, August 2017; seen)",
                _ZJBLF,
            ),
            confidence="low [mem]",
            verified=False,
            note=(
                "The instrument (法发〔2017〕22号, August 2017, thirty provisions) is confirmed "
                "by secondary sources (medium [2nd]); the wording and number of Art. 2 and its "
                "24 % line were not found in any source read."
            ),
        ),
        CapFact(
            id="cn.nfra.zhudai_2025",
            instrument_zh=(
                "国家金融监督管理总局《关于加强商业银行互联网助贷业务管理提升金融服务质效的通知》"
                "（金规〔2025〕9号）第6条等"
            ),
            instrument_en=(
                "NFRA notice on commercial banks' internet loan facilitation "
                "(Jin Gui [2025] No. 9), Art. 6 and others"
            ),
            says_zh="律所解读：结合最高法金融审判意见，借款人单笔贷款综合融资成本最高为年利率24%",
            says_en=(
                "read by a law firm, together with the SPC financial-trial opinion, as capping "
                "a borrower's overall cost per loan at 24 %/yr"
            ),
            quote=(
                "可解读为商业银行互联网助贷业务中“借款人就单笔贷款支付的综合融资成本”最高为年利率24%"
            ),
            sources=(
                _ZJBLF,
                "reference/regulations.md cn.nfra.zhudai_2025",
            ),
            confidence="low [2nd]",
            verified=True,
            in_force=dt.date(2025, 10, 1),
            note="An interpretation by one law firm; the notice's own text was not read.",
        ),
    )
}
"""Every fact a preset cap rests on, by id."""

UNVERIFIED_FACTS: frozenset[str] = frozenset({"cn.spc.financial_trial_2017.art2"})
"""Facts whose article text was not found: cited with '未核实 / unverified' and ``[mem]``."""

_CAP_FACT_IDS: dict[str, tuple[str, ...]] = {
    "cn.judicial_24": (
        "cn.spc.financial_trial_2017.art2",
        "cn.nfra.zhudai_2025",
        "cn.civil_code.680",
    ),
    "cn.absolute_36": ("cn.spc.private_lending_2015.art26", "cn.cash_loan_notice_2017"),
    "cn.private_lending_4x_lpr": ("cn.spc.private_lending.4x_lpr", "cn.civil_code.680"),
}


def _citation(ids: tuple[str, ...]) -> str:
    facts = [CAP_FACTS[i] for i in ids]
    zh = "；".join(f.cite("zh-CN") for f in facts)
    en = "; ".join(f.cite("en") for f in facts)
    return f"{zh}。 / {en}."


def _source(ids: tuple[str, ...]) -> str:
    seen: dict[str, None] = {}
    for i in ids:
        for s in CAP_FACTS[i].sources:
            seen.setdefault(s, None)
    return "; ".join(seen)


def _preset(name: str, annual_rate: Decimal) -> CostCap:
    ids = _CAP_FACT_IDS[name]
    return CostCap(annual_rate=annual_rate, name=name, citation=_citation(ids), source=_source(ids))


def cap_facts(cap: CostCap) -> tuple[CapFact, ...]:
    """The sourced facts a preset cap rests on; () for a cap a caller defined."""
    return tuple(CAP_FACTS[i] for i in _CAP_FACT_IDS.get(cap.name, ()))


def cap_basis(cap: CostCap) -> tuple[str, str]:
    """What to show a person about the cap's legal basis: (zh-CN, en), sources included.

    For a preset, each fact with its confidence (unverified ones marked); for a cap a caller
    defined, its own ``citation`` and ``source``.
    """
    facts = cap_facts(cap)
    if not facts:
        return (
            f"依据：{cap.citation}（来源：{cap.source}）",
            f"Basis: {cap.citation} (source: {cap.source})",
        )
    zh = "；".join(f"{f.cite('zh-CN')}，来源：{f.sources[0]}" for f in facts)
    en = "; ".join(f"{f.cite('en')}, source: {f.sources[0]}" for f in facts)
    return f"依据：{zh}", f"Basis: {en}"


CN_JUDICIAL_24 = _preset("cn.judicial_24", Decimal("0.24"))
"""24 %/yr overall cost — rests on an unverified article (法发〔2017〕22号 第2条) and on a
law-firm reading of 金规〔2025〕9号; see :data:`UNVERIFIED_FACTS`."""

CN_ABSOLUTE_36 = _preset("cn.absolute_36", Decimal("0.36"))
"""36 %/yr — the 2015 private-lending line (until 2020-08-19) and the 2017 cash-loan notice."""


def cn_private_lending_4x_lpr(one_year_lpr: Decimal) -> CostCap:
    """The private-lending cap of 4 × the one-year LPR in force when the contract was made.

    The LPR changes monthly, so the caller passes the rate for the contract date
    (e.g. ``Decimal("0.0310")``); nothing here guesses it. It does not apply to loans by
    licensed financial institutions (Art. 1 para. 2 of the provisions).
    """
    ids = _CAP_FACT_IDS["cn.private_lending_4x_lpr"]
    return CostCap(
        annual_rate=(one_year_lpr * 4).quantize(Decimal("0.000001")),
        name="cn.private_lending_4x_lpr",
        citation=_citation(ids),
        source=_source(ids),
    )
