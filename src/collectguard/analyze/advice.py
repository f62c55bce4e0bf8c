"""Advice: what to do next, naming the right official channel.

Numbers offered come from two places only: the registry's hotlines of the claimed lender
(high confidence → "call this"; medium → with a caution to confirm in the official app; low
→ never) and the public channels in `channels.yaml` (each with its source). A number found
in the message under test is never offered.
"""

from __future__ import annotations

import functools
import importlib.resources
from typing import Any

from collectguard._yaml import safe_load as safe_yaml
from collectguard.analyze.result import Advice
from collectguard.registry import LenderEntry, Organization, PlatformRegistry


@functools.lru_cache(maxsize=1)
def channels() -> dict[str, dict[str, Any]]:
    raw = (importlib.resources.files("collectguard.analyze") / "channels.yaml").read_text("utf-8")
    data = safe_yaml(raw)
    return {c["id"]: c for c in data["channels"]}


def _channel(cid: str, why_zh: str, why_en: str) -> Advice:
    c = channels()[cid]
    where_zh = " ".join(x for x in (c.get("number"), c.get("url")) if x)
    return Advice(
        id=cid,
        text_zh=f"{why_zh}：{c['name']['zh']}" + (f"（{where_zh}）" if where_zh else ""),
        text_en=f"{why_en}: {c['name']['en']}" + (f" ({where_zh})" if where_zh else ""),
        channel=c["name"]["zh"],
        number=c.get("number"),
        url=c.get("url"),
        source=c["source"],
        confidence=c["confidence"],
    )


def _lender_hotline(entry: LenderEntry, registry: PlatformRegistry) -> list[Advice]:
    out: list[Advice] = []
    name = entry.legal_name
    for h in registry.callable_hotlines(entry.id)[:2]:
        out.append(
            Advice(
                id="lender.official_hotline",
                text_zh=f"通过官方客服核实这条信息：{name} 官方热线 {h.number}（来源：registry）",
                text_en=f"Check this message with the official line of {name}: {h.number}",
                channel=name,
                number=h.number,
                source=h.source,
                confidence=h.confidence,
            )
        )
    if not out:
        for h in registry.cautioned_hotlines(entry.id)[:1]:
            out.append(
                Advice(
                    id="lender.cautioned_hotline",
                    text_zh=(
                        f"{name} 的客服号码可能是 {h.number}（可信度中等），"
                        "请先在其官方App或官网中确认后再拨打"
                    ),
                    text_en=(
                        f"{name}'s service number may be {h.number} (medium confidence): "
                        "confirm it in the official app or website before calling"
                    ),
                    channel=name,
                    number=h.number,
                    source=h.source,
                    confidence=h.confidence,
                )
            )
    if not out:
        out.append(
            Advice(
                id="lender.find_official_channel",
                text_zh=f"请在 {name} 的官方App或官网查找客服电话核实，不要拨打短信中的号码",
                text_en=(
                    f"Look up {name}'s service number in its official app or website; "
                    "do not call numbers from the message"
                ),
                channel=name,
            )
        )
    return out


def advise(
    *,
    jurisdiction: str,
    is_collection: bool,
    authenticity: str,
    codes: set[str],
    entry: LenderEntry | Organization | None,
    registry: PlatformRegistry,
) -> list[Advice]:
    if jurisdiction == "us":
        return _advise_us(is_collection, authenticity, codes)
    out: list[Advice] = []
    if authenticity == "scam":
        out.append(
            Advice(
                id="scam.do_not_act",
                text_zh="这很可能是诈骗：不要转账、不要点击链接、不要提供验证码或共享屏幕，不要回拨短信里的号码",
                text_en=(
                    "This is very likely a scam: do not transfer money, click links, share codes "
                    "or your screen, and do not call numbers in the message"
                ),
            )
        )
        out.append(_channel("cn.96110", "咨询或举报诈骗", "Ask about or report the scam"))
        out.append(_channel("cn.fanzha_app", "举报诈骗短信和链接", "Report the SMS and link"))
    elif authenticity == "suspicious":
        out.append(
            Advice(
                id="suspicious.verify",
                text_zh="这条信息与所称机构的官方渠道不一致，请通过官方App或官网核实，不要使用短信中的号码和链接",
                text_en=(
                    "This message does not match the claimed organisation's official channels; "
                    "verify in its official app or website, not via the message"
                ),
            )
        )
    if isinstance(entry, LenderEntry):
        out.extend(_lender_hotline(entry, registry))
    if "threat" in codes or "impersonates_authority" in codes:
        out.append(
            _channel("cn.110", "受到威胁或有人冒充公检法", "For threats or fake police/court")
        )
    if "false_legal_claim" in codes:
        out.append(
            _channel(
                "cn.12368", "核实是否真的被起诉或立案", "Check whether a lawsuit really exists"
            )
        )
    if is_collection and authenticity != "scam":
        if codes - {"other"}:
            out.append(
                Advice(
                    id="evidence.keep",
                    text_zh="保留证据：截图并保存原短信（含发送号码和时间），不要删除",
                    text_en=(
                        "Keep evidence: screenshot and keep the original SMS with sender and time"
                    ),
                )
            )
            license_type = entry.license_type if isinstance(entry, LenderEntry) else None
            if license_type in (None, "bank", "consumer_finance_company"):
                out.append(
                    _channel(
                        "cn.12378",
                        "先向机构投诉；未解决可向金融监管投诉",
                        "Complain to the lender first, then to the regulator",
                    )
                )
            if license_type in ("microloan", "platform_guarantee", "other", None):
                out.append(_channel("cn.nifa", "网络借贷平台可举报至", "Report online lenders to"))
            if license_type in ("microloan", "platform_guarantee"):
                out.append(
                    _channel(
                        "cn.local_fin", "小额贷款公司的监管部门", "Regulator of microloan companies"
                    )
                )
        if codes & {"third_party_disclosure", "contacts_relatives_or_employer"}:
            out.append(
                _channel(
                    "cn.12321", "亲友收到骚扰短信可举报", "Relatives who got messages can report to"
                )
            )
        if codes & {"false_legal_claim"} or not codes:
            out.append(
                _channel(
                    "cn.credit_objection",
                    "征信记录有误可提出异议",
                    "If your credit record is wrong, file an objection",
                )
            )
        out.append(_channel("cn.12348", "需要法律帮助", "For legal help"))
    return out


def _advise_us(is_collection: bool, authenticity: str, codes: set[str]) -> list[Advice]:
    out: list[Advice] = []
    if authenticity == "scam":
        out.append(
            Advice(
                id="scam.do_not_act",
                text_zh="这很可能是诈骗：不要付款或提供个人信息，不要回拨信息中的号码",
                text_en=(
                    "This is likely a scam: do not pay or give personal information, and do not "
                    "call numbers in the message"
                ),
            )
        )
        out.append(_channel("us.ftc", "举报诈骗", "Report fraud"))
    if is_collection and authenticity != "scam":
        out.append(
            Advice(
                id="us.validation",
                text_zh=(
                    "可在收到债务验证通知后30天内书面要求催收方验证债务"
                    "（FDCPA §809；12 CFR 1006.34）"
                ),
                text_en=(
                    "You may dispute the debt in writing and ask for validation within the "
                    "30-day validation period (FDCPA §809; 12 CFR 1006.34)"
                ),
            )
        )
        if codes - {"other"}:
            out.append(
                Advice(
                    id="us.cease",
                    text_zh="可书面要求停止联系（FDCPA §805(c)）",
                    text_en=(
                        "You may tell the collector in writing to stop contacting you "
                        "(FDCPA §805(c))"
                    ),
                )
            )
            out.append(_channel("us.cfpb", "投诉催收违规", "Complain about the collector"))
            out.append(_channel("us.state_ag", "也可投诉至", "You may also complain to"))
    return out
