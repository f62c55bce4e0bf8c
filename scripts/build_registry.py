#!/usr/bin/env python3
"""Build the shipped lender registry from the research reference.

    python scripts/build_registry.py                  # write src/.../data/cn_lenders.yaml
    python scripts/build_registry.py --check          # exit 1 if the shipped file is stale

Reads ``../shared/reference/platforms.yaml`` (69 entries, every hotline/domain with its
source and confidence) and writes ``src/collectguard/registry/data/cn_lenders.yaml``:

* every field of every entry is kept, including each hotline's, domain's, app's and
  signature's ``source`` and ``confidence`` and each ``legal_name_source``;
* brand strings like ``'捷信 (former name)'`` become ``{name, note}``; product strings like
  ``'新易贷 (low: single third-party code listing)'`` become ``{name, confidence, note}``;
  a few free-text products are split or marked ``matchable: false`` by hand (`PRODUCTS`);
* hotlines get their ``digits``;
* `ALIASES` adds the product-alias list. Each alias cites where in the reference it comes
  from; the few added from general knowledge are ``confidence: low`` with
  ``source: "maintainer knowledge, unverified"``.

The output is validated with the registry's own loader before it is written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from collectguard.errors import RegistryError
from collectguard.registry import LenderEntry, PlatformRegistry, digits_of, parse_registry_text
from collectguard.registry import split_parenthetical as split

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "platforms.yaml"
DEFAULT_OUT = ROOT / "src" / "collectguard" / "registry" / "data" / "cn_lenders.yaml"
ORGANIZATIONS = DEFAULT_OUT.parent / "cn_organizations.yaml"

REF = "reference platforms.yaml"
KNOWLEDGE = "maintainer knowledge, unverified"

# Free-text product strings that the generic "name (note)" split does not handle well.
PRODUCTS: dict[str, list[dict[str, Any]]] = {
    "捷信 legacy POS instalment loans and cash loans (run-off / migration status unverified)": [
        {
            "name": "捷信",
            "note": "legacy POS instalment loans and cash loans "
            "(run-off / migration status unverified)",
        }
    ],
    "信用购/信用贷 (bank-funded, separated from 花呗/借呗 names)": [
        {
            "name": "信用购",
            "note": "bank-funded, separated from 花呗/借呗 names; generic term, not matched",
            "matchable": False,
        },
        {
            "name": "信用贷",
            "note": "bank-funded, separated from 花呗/借呗 names; generic term, not matched",
            "matchable": False,
        },
    ],
    "有钱花 / 度小满 信用贷": [{"name": "有钱花", "note": "also sold as 度小满 信用贷"}],
    "美团借钱 (美团生活费)": [
        {"name": "美团借钱", "note": "also called 美团生活费"},
        {"name": "美团生活费", "note": "other name of 美团借钱"},
    ],
    "奇富借条 (formerly 360借条)": [
        {"name": "奇富借条"},
        {"name": "360借条", "note": "former name (renamed 奇富借条 in 2024-07)"},
    ],
    "借钱 / 滴水贷": [
        {"name": "滴水贷"},
        {"name": "借钱", "note": "generic word, not matched", "matchable": False},
    ],
    "loan & credit-card marketplace (not a lender)": [
        {"name": "loan & credit-card marketplace", "note": "not a lender", "matchable": False}
    ],
    "百信银行 consumer loans": [
        {"name": "百信银行 consumer loans", "note": "description", "matchable": False}
    ],
    "credit-guarantee insurance for loans": [
        {"name": "credit-guarantee insurance for loans", "note": "description", "matchable": False}
    ],
    "credit cards": [{"name": "credit cards", "note": "description", "matchable": False}],
    "consumer loans": [{"name": "consumer loans", "note": "description", "matchable": False}],
}

# Brands whose link the reference itself doubts.
BRAND_CONFIDENCE = {("xiaomi_cfc", "天星金融"): "low"}


def _alias(
    alias: str, entry_id: str, confidence: str, source: str, note: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "alias": alias,
        "entry_id": entry_id,
        "source": source,
        "confidence": confidence,
    }
    if note:
        out["note"] = note
    return out


ALIASES: list[dict[str, Any]] = [
    _alias(
        "花呗",
        "mayi_cfc",
        "high",
        f"{REF}: mayi_cfc.products and signature 【花呗】 (real SMS-inbox samples, high); "
        "mayi_cfc.notes: Ant-funded 花呗/借呗 moved into this CFC (redian.news, medium)",
        "platform side is ant_alipay; bank-funded parts no longer carry the name",
    ),
    _alias(
        "借呗",
        "mayi_cfc",
        "medium",
        f"{REF}: mayi_cfc.products and signature 【借呗】 (test fixture, medium); mayi_cfc.notes",
        "platform side is ant_alipay",
    ),
    _alias(
        "支付宝",
        "ant_alipay",
        "high",
        f"{REF}: ant_alipay.brands; 95188 from Alipay help-centre text (high)",
        "the platform; the licensed lender of 花呗/借呗 is mayi_cfc",
    ),
    _alias(
        "安逸花", "mashang_cfc", "medium", f"{REF}: mashang_cfc.products and app 安逸花 (medium)"
    ),
    _alias(
        "白条",
        "jd_finance",
        "medium",
        f"{REF}: jd_finance.products; legal_name_source 91haoming.cn "
        "('白条''金条'的放贷主体是…京东盛际小贷); "
        "SMS mock '【京东金融】（还款提醒）您本期白条账单…' (medium)",
        "expected to migrate gradually to 天津京东消费金融 (jingdong_cfc)",
    ),
    _alias(
        "金条",
        "jd_finance",
        "medium",
        f"{REF}: jd_finance.products; SMS '【京东金融】（借款到账）您申请的金条借款…' "
        "in public code (medium)",
        "expected to migrate gradually to 天津京东消费金融 (jingdong_cfc)",
    ),
    _alias(
        "微粒贷",
        "webank",
        "high",
        f"{REF}: webank.products; real 微粒贷 disbursement SMS signed 【微众银行】 (high); "
        "xincainet.com ('微粒贷客服电话为95384…微众银行统一客服电话')",
        "no standalone app; any app named 微粒贷 is fake",
    ),
    _alias("微业贷", "webank", "medium", f"{REF}: webank.products"),
    _alias(
        "小鹅花钱",
        "webank",
        "medium",
        f"{REF}: webank.products and apps note (qcwzx.cn)",
        "no standalone app",
    ),
    _alias(
        "网商贷",
        "mybank",
        "high",
        f"{REF}: mybank.products; real SMS '【网商银行】网商贷额度有机会提升…' (high)",
    ),
    _alias(
        "有钱花",
        "duxiaoman",
        "medium",
        f"{REF}: duxiaoman.brands/products; borrower's notes '百度有钱花 … 95055'",
    ),
    _alias("百度有钱花", "duxiaoman", "medium", f"{REF}: duxiaoman.brands (old name)", "old name"),
    _alias("美团借钱", "meituan_finance", "medium", f"{REF}: meituan_finance.brands/products"),
    _alias(
        "美团生活费",
        "meituan_finance",
        "medium",
        f"{REF}: meituan_finance.products ('美团借钱 (美团生活费)') and brands",
    ),
    _alias("美团月付", "meituan_finance", "medium", f"{REF}: meituan_finance.brands/products"),
    _alias(
        "分期乐",
        "lexin_fenqile",
        "high",
        f"{REF}: lexin_fenqile.products; signature 【分期乐】 (real SMS-inbox samples, high)",
    ),
    _alias("乐花卡", "lexin_fenqile", "medium", f"{REF}: lexin_fenqile.brands/products"),
    _alias(
        "360借条",
        "qifu_jietiao",
        "medium",
        f"{REF}: qifu_jietiao.brands/products; rename 360借条 → 奇富借条 2024-07 "
        "(DoNews via outputnews, medium)",
        "former name; not related to 融360 (rong360)",
    ),
    _alias("奇富借条", "qifu_jietiao", "medium", f"{REF}: qifu_jietiao.products and app (medium)"),
    _alias(
        "还呗",
        "shuhe_huanbei",
        "medium",
        f"{REF}: shuhe_huanbei.products and app 还呗 (e212.com article, medium)",
    ),
    _alias(
        "好期贷",
        "zhaolian_cfc",
        "medium",
        f"{REF}: zhaolian_cfc.products; hqd.mucfc.com labelled '招联好期贷' in public code",
    ),
    _alias("信用付", "zhaolian_cfc", "medium", f"{REF}: zhaolian_cfc.products"),
    _alias(
        "分付",
        "tencent_tenpay",
        "low",
        f"{REF}: tencent_tenpay.brands/products (its lender name there is from memory)",
    ),
    _alias("拿去花", "ctrip_finance", "medium", f"{REF}: ctrip_finance.brands/products"),
    _alias("借去花", "ctrip_finance", "medium", f"{REF}: ctrip_finance.brands/products"),
    _alias(
        "放心借",
        "douyin_finance",
        "medium",
        f"{REF}: douyin_finance.products; platforms-notes §4 (抖音 放心借/月付/DOU分期: lender "
        "深圳市中融小额贷款)",
        "much volume is 助贷 funded by partner banks/CFCs, which may send the SMS",
    ),
    _alias("抖音月付", "douyin_finance", "medium", f"{REF}: douyin_finance.products"),
    _alias("DOU分期", "douyin_finance", "medium", f"{REF}: douyin_finance.products"),
    _alias("滴水贷", "didi_finance", "medium", f"{REF}: didi_finance.brands/products"),
    _alias("任性付", "suning_finance", "medium", f"{REF}: suning_finance.brands/products"),
    _alias(
        "任性贷",
        "suning_finance",
        "medium",
        f"{REF}: suning_finance.brands/products",
        "legacy 苏宁消费金融 loans are now 南银法巴消费金融 (nanyin_faba_cfc)",
    ),
    _alias("好人贷", "xinwang_bank", "medium", f"{REF}: xinwang_bank.brands/products"),
    _alias(
        "你我贷",
        "jiayin_niwodai",
        "low",
        f"{REF}: jiayin_niwodai.products (entry: nothing verified during research)",
    ),
    _alias(
        "宜人贷", "yiren", "low", f"{REF}: yiren.brands (entry: nothing verified during research)"
    ),
    _alias("小赢卡贷", "xiaoying", "low", f"{REF}: xiaoying.products (entry: little verified)"),
    _alias(
        "洋钱罐",
        "yangqianguan",
        "medium",
        f"{REF}: yangqianguan.brands; 哈银消金 助贷 partner list (61.152.230.22, medium)",
    ),
    _alias("众安贷", "zhongan", "medium", f"{REF}: zhongan.brands/products"),
    _alias(
        "小蓉花",
        "weipin_fubang_cfc",
        "medium",
        f"{REF}: weipin_fubang_cfc.products ('小蓉花消费分期', 163.com, medium)",
    ),
    _alias("小蓉贷", "weipin_fubang_cfc", "medium", f"{REF}: weipin_fubang_cfc.products"),
    _alias(
        "新易贷",
        "zhongyin_cfc",
        "low",
        f"{REF}: zhongyin_cfc.products (low: single third-party code listing)",
    ),
    _alias("邮你贷", "zhongyou_cfc", "low", f"{REF}: zhongyou_cfc.products (low: SEO pages only)"),
    _alias(
        "捷信",
        "jingdong_cfc",
        "medium",
        f"{REF}: jingdong_cfc.brands (former name); rename approved 2025-05-26 (news reposts, "
        "medium)",
        "legacy 捷信 loans still exist",
    ),
    _alias(
        "苏宁消费金融",
        "nanyin_faba_cfc",
        "medium",
        f"{REF}: nanyin_faba_cfc.brands (former name); platforms-notes §4",
        "former name",
    ),
    _alias(
        "华融消费金融",
        "ningyin_cfc",
        "medium",
        f"{REF}: ningyin_cfc.brands (former name); platforms-notes §4",
        "former name",
    ),
    _alias(
        "天星金融",
        "xiaomi_cfc",
        "low",
        f"{REF}: xiaomi_cfc.brands (relation from memory, unverified)",
    ),
    _alias(
        "浦发信用卡",
        "spdb",
        "medium",
        "platforms-notes.md §6 (浦发信用卡 hotlines, two lists and metowolf/vCards)",
    ),
    _alias(
        "民生信用卡",
        "cmbc",
        "medium",
        "platforms-notes.md §2.1 (民生信用卡短信 ports, metowolf/vCards)",
    ),
    _alias(
        "马上消金",
        "mashang_cfc",
        "low",
        KNOWLEDGE,
        "common short form, like the 'X消金' brands the reference lists for other CFCs",
    ),
    _alias("中邮钱包", "zhongyou_cfc", "low", KNOWLEDGE, "app name of 中邮消费金融"),
]

HEADER = """\
# collectguard lender registry — GENERATED by scripts/build_registry.py; do not edit by hand.
# Source: the project's research reference platforms.yaml (see platforms-notes.md there):
# Chinese consumer finance companies (NFRA list as of 2025-06-30), banks, digital banks and
# lending platforms. Every hotline, domain, app and signature keeps its source and confidence.
#
# Confidence: high = official text or >=2 independent decent sources; medium = one decent
# source or >=2 weak ones; low = single weak source or memory. Only high numbers are offered
# as "call this"; medium ones only with a caution to confirm in the official app; low ones are
# never shown as numbers to call (matching hints only). Hotlines were not checked live.
"""


def _convert_entry(raw: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "brands":
            brands = []
            for b in value:
                name, graded, note = split(b)
                item: dict[str, Any] = {"name": name}
                if note:
                    item["note"] = note
                conf = graded or BRAND_CONFIDENCE.get((raw["id"], name))
                if conf:
                    item["confidence"] = conf
                brands.append(item)
            entry["brands"] = brands
        elif key == "products":
            products: list[dict[str, Any]] = []
            for p in value:
                if p in PRODUCTS:
                    products.extend(PRODUCTS[p])
                    continue
                name, conf, note = split(p)
                item = {"name": name}
                if conf:
                    item["confidence"] = conf
                if note:
                    item["note"] = note
                products.append(item)
            entry["products"] = products
        elif key == "hotlines":
            entry["hotlines"] = [
                {
                    "number": str(h["number"]),
                    "digits": digits_of(str(h["number"])),
                    **{k: v for k, v in h.items() if k != "number"},
                }
                for h in value
            ]
        elif key == "sms_ports_observed":
            entry[key] = [{**p, "port": str(p["port"])} for p in value]
        else:
            entry[key] = value
    return entry


def build(reference: Path) -> str:
    raw = yaml.safe_load(reference.read_text(encoding="utf-8"))
    if not isinstance(raw, list):
        raise SystemExit(f"{reference}: expected a list of entries")
    doc = {
        "schema_version": 1,
        "description": "Chinese lenders and banks with official hotlines, domains, signatures "
        "(built from the research reference platforms.yaml)",
        "lenders": [_convert_entry(e) for e in raw],
        "product_aliases": ALIASES,
    }
    text = HEADER + yaml.safe_dump(
        doc, allow_unicode=True, sort_keys=False, width=100, default_flow_style=False
    )
    lenders = parse_registry_text(text, "cn_lenders.yaml (generated)")
    _check_complete(raw, lenders.lenders)
    # Cross-file references (aliases → entries, orgs → lenders) must hold with the org file.
    orgs = parse_registry_text(ORGANIZATIONS.read_text(encoding="utf-8"), ORGANIZATIONS.name)
    PlatformRegistry(lenders.lenders, orgs.organizations, lenders.product_aliases)
    return text


def _check_complete(raw: list[dict[str, Any]], built: Sequence[LenderEntry]) -> None:
    """Nothing from the reference may be lost: every hotline/domain with its provenance."""

    def require(ok: bool, what: str) -> None:
        if not ok:
            raise SystemExit(f"build_registry: {what} differs from the reference")

    require(len(raw) == len(built), "entry count")
    for src, dst in zip(raw, built, strict=True):
        require(src["id"] == dst.id, f"id of {dst.id}")
        require(src["legal_name_source"] == dst.legal_name_source, f"{dst.id}.legal_name_source")
        hotlines = [(h.number, h.source, h.confidence, h.note) for h in dst.hotlines]
        expected = [
            (str(h["number"]), h["source"].strip(), h["confidence"], h.get("note"))
            for h in src["hotlines"]
        ]
        require(hotlines == expected, f"{dst.id}.hotlines")
        domains = [(d.domain, d.source, d.confidence, d.note) for d in dst.domains]
        expected = [
            (d["domain"], d["source"].strip(), d["confidence"], d.get("note"))
            for d in src["domains"]
        ]
        require(domains == expected, f"{dst.id}.domains")
        require(len(dst.apps) == len(src["apps"]), f"{dst.id}.apps")
        require(len(dst.sms_signatures) == len(src["sms_signatures"]), f"{dst.id}.sms_signatures")
        ports = src.get("sms_ports_observed", [])
        require(len(dst.sms_ports_observed) == len(ports), f"{dst.id}.sms_ports_observed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="fail if --out is out of date")
    args = parser.parse_args(argv)
    try:
        text = build(args.reference)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run scripts/build_registry.py", file=sys.stderr)
            return 1
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
