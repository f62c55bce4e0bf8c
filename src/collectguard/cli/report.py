"""Readable terminal report of a verdict, with the offending words highlighted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from collectguard.analyze.result import CheckResult

_AUTH = {
    "genuine": ("与所称机构一致", "consistent with the claimed organisation", "green"),
    "suspicious": (
        "可疑：与官方渠道不符",
        "suspicious: conflicts with official channels",
        "yellow",
    ),
    "scam": ("很可能是诈骗", "very likely a scam", "bold red"),
    "unknown": ("无法判断来源", "sender cannot be established", "dim"),
}


def highlighted(result: CheckResult) -> Text:
    text = Text(str(result.input["text"]))
    for v in result.violations:
        if v.span:
            text.stylize("bold white on red", v.span[0], v.span[1])
    for f in result.findings:
        if f.kind == "scam_cue" and f.span:
            text.stylize("underline yellow", f.span[0], f.span[1])
    return text


def render(result: CheckResult, console: Console, lang: str = "zh") -> None:
    zh = lang == "zh"
    console.print(Panel(highlighted(result), title="短信 / message", expand=False))
    auth_zh, auth_en, style = _AUTH[result.authenticity]
    summary = Table.grid(padding=(0, 2))
    summary.add_row(
        "催收短信 / collection",
        f"{'是 yes' if result.is_collection else '否 no'} ({result.collection_score:.2f})",
    )
    if result.platform:
        p = result.platform
        who = p.claimed_name
        if p.legal_name:
            who += f" → {p.legal_name}"
        if p.id:
            who += f" [{p.id}]"
        summary.add_row(  # names come from the message: text, never Rich markup
            "机构 / platform", Text(f"{who} (by {', '.join(p.matched_by)}; {p.confidence:.2f})")
        )
    else:
        summary.add_row("机构 / platform", "未署名 / none named")
    summary.add_row(
        "真实性 / authenticity",
        Text(f"{auth_zh if zh else auth_en} ({result.scam_score:.2f})", style=style),
    )
    summary.add_row("规则包 / rules", result.rule_pack)
    console.print(summary)
    if result.violations:
        t = Table(title="违规 / violations", show_lines=True)
        t.add_column("code", no_wrap=True)
        for col in ("原文 / evidence", "规则 / rule", "依据 / citation"):
            t.add_column(col, overflow="fold")
        by_rule: dict[str, list[Any]] = {}
        for v in result.violations:  # one row per rule, all its evidence together
            by_rule.setdefault(v.rule_id, []).append(v)
        for rule_id, group in by_rule.items():
            v = group[0]
            evidence = " / ".join(dict.fromkeys(g.evidence for g in group if g.evidence))
            t.add_row(v.code, Text(evidence), Text(f"{v.title}\n{rule_id}"), Text(v.citation))
        console.print(t)
    else:
        console.print("未发现违规 / no violation found")
    cues = [f for f in result.findings if f.kind in ("scam_cue", "genuine_cue")]
    if cues:
        console.print("真实性依据 / authenticity reasons:")
        for f in cues:
            sign = "+" if f.kind == "scam_cue" else "−"
            console.print(f"  {sign}{f.score:.1f} {f.cue}", highlight=False, markup=False)
    if result.advice:
        console.print("建议 / what to do:")
        for a in result.advice:
            console.print(f"  • {a.text_zh if zh else a.text_en}", highlight=False, markup=False)


def registry_table(entries: Sequence[Any]) -> Table:
    t = Table(title="registry")
    for col in ("id", "name", "type", "hotlines (confidence)"):
        t.add_column(col, overflow="fold")
    for e in entries:
        name = getattr(e, "legal_name", None) or ", ".join(getattr(e, "names", [])[:3])
        kind = getattr(e, "license_type", None) or getattr(e, "kind", "")
        hotlines = ", ".join(f"{h.number} ({h.confidence})" for h in getattr(e, "hotlines", [])[:4])
        t.add_row(e.id, name, str(kind), hotlines)
    return t
