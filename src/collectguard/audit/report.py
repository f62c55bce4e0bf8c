"""Audit reports: HTML (Jinja2 template shipped in the package, inline SVG charts, zh-CN and
English) and the JSON summary for machines. No network, no CDN, no JavaScript."""

from __future__ import annotations

from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from collectguard.audit import svg
from collectguard.audit.scorecard import heat_grid

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "催收通信合规审计报告",
        "generated": "生成于",
        "engine": "引擎",
        "policy": "策略版本",
        "packs": "规则包",
        "log": "日志",
        "overview": "概览",
        "input_rows": "输入行数",
        "audited": "已审计",
        "rejected": "已拒绝",
        "contacts": "外呼/外发联系",
        "violations": "违规条数",
        "rate": "违规率",
        "reconciled": "行数核对（输入 = 已审计 + 已拒绝）",
        "out_of_order": "乱序行（已排序后审计）",
        "rejects_file": "拒绝明细见",
        "reject_reason": "拒绝原因",
        "count": "数量",
        "charts": "图表",
        "over_time": "每周违规数",
        "by_rule": "按规则的违规数",
        "by_agency": "按机构的违规数",
        "heat_contacts": "联系时段热力图（收件人本地时间，周一至周日 × 小时）",
        "heat_violations": "违规时段热力图（收件人本地时间）",
        "rules": "规则",
        "rule": "规则",
        "severity": "严重程度",
        "binding": "效力",
        "citation": "依据",
        "escalation": "屡教不改：升级处理名单",
        "escalation_note": "同一催收员在前一次违规后的窗口期内再次违反同一规则。",
        "agent": "催收员",
        "team": "小组",
        "agency": "机构",
        "repeats": "再犯次数",
        "findings": "违规事件",
        "last": "最近一次",
        "none": "无",
        "cards_agency": "机构评分卡",
        "cards_team": "小组评分卡",
        "cards_agent": "催收员评分卡（违规率最高的 40 名）",
        "violating_events": "违规事件数",
        "by_severity": "按严重程度",
        "top_rules": "主要规则",
        "samples": "违规样例（前 50 条）",
        "event": "事件",
        "time": "时间",
        "evidence": "证据",
        "line": "行",
        "full_table": "完整违规明细：",
        "disclaimer": "本报告依据公开规则自动生成，不构成法律意见。",
    },
    "en": {
        "title": "Collection communications compliance audit",
        "generated": "Generated",
        "engine": "engine",
        "policy": "policy",
        "packs": "rule packs",
        "log": "Log",
        "overview": "Overview",
        "input_rows": "Input rows",
        "audited": "Audited",
        "rejected": "Rejected",
        "contacts": "Outbound contacts",
        "violations": "Violations",
        "rate": "Violation rate",
        "reconciled": "Counts reconciled (input = audited + rejected)",
        "out_of_order": "rows out of order (sorted before auditing)",
        "rejects_file": "rejected rows in",
        "reject_reason": "Reject reason",
        "count": "Count",
        "charts": "Charts",
        "over_time": "Violations per week",
        "by_rule": "Violations by rule",
        "by_agency": "Violations by agency",
        "heat_contacts": "Contacts by recipient's local time (Mon–Sun × hour)",
        "heat_violations": "Violations by recipient's local time",
        "rules": "Rules",
        "rule": "Rule",
        "severity": "Severity",
        "binding": "Binding",
        "citation": "Citation",
        "escalation": "Repeat offenders: escalation list",
        "escalation_note": "The same agent broke the same rule again within the window after "
        "a prior finding.",
        "agent": "Agent",
        "team": "Team",
        "agency": "Agency",
        "repeats": "Repeats",
        "findings": "Violating events",
        "last": "Last",
        "none": "None",
        "cards_agency": "Agency scorecards",
        "cards_team": "Team scorecards",
        "cards_agent": "Agent scorecards (40 highest violation rates)",
        "violating_events": "Violating events",
        "by_severity": "By severity",
        "top_rules": "Top rules",
        "samples": "Sample violations (first 50)",
        "event": "Event",
        "time": "Time",
        "evidence": "Evidence",
        "line": "line",
        "full_table": "Full table:",
        "disclaimer": "Generated automatically from public rules; not legal advice.",
    },
}
WEEKDAYS = {
    "zh-CN": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def charts(
    lang: str, summary: dict[str, Any], contacts: pd.DataFrame, violations: pd.DataFrame
) -> dict[str, Markup]:
    t = LABELS[lang]
    weeks = [(w["week"], float(w["violations"])) for w in summary["weekly"]]
    return {
        "over_time": Markup(svg.columns(t["over_time"], weeks)),
        "by_rule": Markup(
            svg.hbar(t["by_rule"], [(r["rule_id"], float(r["count"])) for r in summary["by_rule"]])
        ),
        "by_agency": Markup(
            svg.hbar(
                t["by_agency"],
                [(a["agency"], float(a["violations"])) for a in summary["by_agency"]],
            )
        ),
        "heat_contacts": Markup(
            svg.heatmap(
                t["heat_contacts"],
                heat_grid(
                    contacts["local_minute"],
                    contacts["local_weekday"],
                    contacts["n"] if "n" in contacts.columns else None,
                ),
                WEEKDAYS[lang],
            )
        ),
        "heat_violations": Markup(
            svg.heatmap(
                t["heat_violations"],
                heat_grid(
                    violations["local_minute"] if len(violations) else pd.Series(dtype="int64"),
                    violations["local_weekday"] if len(violations) else pd.Series(dtype="int64"),
                ),
                WEEKDAYS[lang],
            )
        ),
    }


def render_html(
    lang: str,
    summary: dict[str, Any],
    cards: dict[str, list[dict[str, Any]]],
    escalation: list[dict[str, Any]],
    contacts: pd.DataFrame,
    violations: pd.DataFrame,
) -> str:
    env = Environment(
        loader=PackageLoader("collectguard.audit", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    samples = violations.head(50).astype(object).where(violations.head(50).notna(), "")
    return env.get_template("report.html.j2").render(
        lang=lang,
        t=LABELS[lang],
        summary=summary,
        cards=cards,
        escalation=escalation,
        charts=charts(lang, summary, contacts, violations),
        samples=samples.to_dict("records"),
    )
