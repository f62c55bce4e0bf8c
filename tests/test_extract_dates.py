"""Dates, times, deadlines and relative days."""

from __future__ import annotations

import pytest

from collectguard.extract import extract
from collectguard.normalize import normalize


def dates(text: str) -> list[tuple[str, str, str | None, int | None]]:
    ex = extract(normalize(text))
    for d in ex.dates:
        assert text[d.span[0] : d.span[1]] == d.text
    return [(d.text, d.kind, d.iso, d.offset_days) for d in ex.dates]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("于2024年10月05日消费", [("2024年10月05日", "date", "2024-10-05", None)]),
        ("24年3月1日到期的账单", [("24年3月1日到期", "deadline", "2024-03-01", None)]),
        ("于12月27日消费", [("12月27日", "date", "--12-27", None)]),
        ("9月15日已停用", [("9月15日", "date", "--09-15", None)]),
        ("截至20140301您的账户", [("20140301", "date", "2014-03-01", None)]),
        ("支票2017/4/28跳票", [("2017/4/28", "date", "2017-04-28", None)]),
        ("on 12/30/2024 we", [("12/30/2024", "date", "2024-12-30", None)]),
        ("2024-10-05还款", [("2024-10-05", "date", "2024-10-05", None)]),
        ("2024.10.05还款", [("2024.10.05", "date", "2024-10-05", None)]),
        ("2024年10月账单", [("2024年10月", "date", "2024-10", None)]),
        ("due on January 5, 2024.", [("January 5, 2024", "date", "2024-01-05", None)]),
        ("by the 5th of May", [("5th of May", "date", "--05-05", None)]),
        (
            "12月27日11:27消费",
            [("12月27日", "date", "--12-27", None), ("11:27", "time", "11:27", None)],
        ),
        (
            "卡29日13:39收入",
            [("29日", "date", "---29", None), ("13:39", "time", "13:39", None)],
        ),
        (
            "于09月27日09时15分完成",
            [("09月27日", "date", "--09-27", None), ("09时15分", "time", "09:15", None)],
        ),
        ("下午3点半到", [("下午3点半", "time", "15:30", None)]),
        ("call at 5pm", [("5pm", "time", "17:00", None)]),
        ("请于今日23:00前还款", [("今日23:00前", "deadline", "23:00", 0)]),
        ("请在24小时内登录", [("24小时内", "deadline", None, None)]),
        ("3日内处理", [("3日内", "deadline", None, None)]),
        ("三个工作日内", [("三个工作日内", "deadline", None, None)]),
        ("一笔款项明天到期", [("明天到期", "deadline", None, 1)]),
        ("您有账单今天到期", [("今天到期", "deadline", None, 0)]),
        ("最迟12月31日前还清", [("12月31日前", "deadline", "--12-31", None)]),
        ("请于2024-10-05 18:00前", [("2024-10-05 18:00前", "deadline", "2024-10-05T18:00", None)]),
        ("截止到明天", [("截止到明天", "deadline", None, 1)]),
        ("本月内前往", [("本月内", "deadline", None, None)]),
        ("pay within 7 days", [("within 7 days", "deadline", None, None)]),
        ("payment is due TODAY.", [("due TODAY", "deadline", None, 0)]),
        ("by tomorrow 5pm", [("by tomorrow 5pm", "deadline", "17:00", 1)]),
        ("今天已是最后付款日", [("今天", "relative", None, 0)]),
        ("将于次日失效", [("次日", "relative", None, 1)]),
        ("call me tomorrow", [("tomorrow", "relative", None, 1)]),
        # Not dates.
        ("您已逾期15天", []),
        ("2022年度的工资", []),
        ("12月份加班补贴", []),
        ("2024年2月30日", []),
        ("13月5日", []),
        ("25:00", []),
        ("余额1,000.28元", []),
        ("订单20240101123456", []),
        ("有效期2分钟", []),
        ("todays special", []),
        ("overdue balance", []),
    ],
)
def test_dates(text: str, expected: list[tuple[str, str, str | None, int | None]]) -> None:
    assert dates(text) == expected
