"""Statutory and judicial ceilings on the overall cost of credit.

Owns: the :class:`CostCap` model and the presets a lender may pick for China's judicial
interest lines. Pure: no I/O, no web or CLI imports.

Sources (see ``reference/regulations.md`` in the shared research folder, rule ids in
brackets; ``[mem]`` marks facts recalled, not re-read, during research — re-check against
the official text before showing them to users as "the law"):

* 民法典 Art. 680 — 禁止高利放贷 [cn.civil.usury, confidence high]. Private-lending cap of
  4 × the one-year LPR under the SPC 民间借贷 provisions as amended in 2020
  (法释〔2020〕17号) [cn.civil.usury, "LPR cap [mem] high"].
* The 24 % line: SPC 《关于进一步加强金融审判工作的若干意见》 (法发〔2017〕22号) Art. 2 —
  interest, compound interest, penalties and other fees of a *financial* loan above 24 %
  a year may be reduced at the borrower's request [mem]; NFRA 金规〔2025〕9号 (助贷) is
  "widely read as capping borrower's overall cost at 24 %/yr" [cn.nfra.zhudai_2025,
  confidence medium/low].
* The 36 % line: SPC 民间借贷 provisions of 2015 (法释〔2015〕18号) Art. 26 — agreed interest
  above 36 % a year is void (superseded for private lending in 2020 by 4 × LPR) [mem];
  整治办函〔2017〕141号 bans cash loans whose overall annualised cost exceeds 36 % [mem].
* NIFA 公约 (2018): the part of interest, penalties and fees above the legally permitted
  overall cost must not be collected [cn.nifa2018.excess_cost, confidence medium]. This is
  why the optimizer removes any excess instead of merely flagging it.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CN_ABSOLUTE_36",
    "CN_JUDICIAL_24",
    "CostCap",
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


CN_JUDICIAL_24 = CostCap(
    annual_rate=Decimal("0.24"),
    name="cn.judicial_24",
    citation=(
        "最高人民法院《关于进一步加强金融审判工作的若干意见》(法发〔2017〕22号) 第2条 [mem]; "
        "金规〔2025〕9号 (助贷, read as 24%/yr overall cost); 民法典 第680条"
    ),
    source="reference/regulations.md: cn.civil.usury, cn.nfra.zhudai_2025",
)

CN_ABSOLUTE_36 = CostCap(
    annual_rate=Decimal("0.36"),
    name="cn.absolute_36",
    citation=(
        "法释〔2015〕18号 第26条 (above 36%/yr void; superseded 2020 by 4×LPR) [mem]; "
        "整治办函〔2017〕141号 (cash loans) [mem]"
    ),
    source="reference/regulations.md: cn.civil.usury (LPR cap), cn.nifa2018.excess_cost",
)


def cn_private_lending_4x_lpr(one_year_lpr: Decimal) -> CostCap:
    """The private-lending cap of 4 × the one-year LPR in force when the contract was made.

    The LPR changes monthly, so the caller passes the rate for the contract date
    (e.g. ``Decimal("0.0310")``); nothing here guesses it.
    """
    return CostCap(
        annual_rate=(one_year_lpr * 4).quantize(Decimal("0.000001")),
        name="cn.private_lending_4x_lpr",
        citation="法释〔2020〕17号 (SPC 民间借贷 provisions as amended 2020) [mem]; 民法典 第680条",
        source="reference/regulations.md: cn.civil.usury",
    )
