"""Dates, times, deadlines and relative days.

Kinds: ``date`` (``2024年10月05日``, ``12月27日``, ``20140301``, ``2017/4/28``, ``29日`` before a
time, ``January 5, 2024``), ``time`` (``11:27``, ``09时15分``, ``5pm``), ``deadline``
(``今日23:00前``, ``24小时内``, ``3日内``, ``明天到期``, ``within 7 days``, ``due today``) and
``relative`` (``今天``, ``次日``, ``tomorrow``). A deadline is reported as one mention; the
date or time inside it is not repeated.

Mentions start at a digit run or at a cue word. Rather than one large pattern tried at every
position (slow in Python's engine), the digit run's neighbour or the cue word picks a small
pattern to try at that position.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from collectguard.extract._common import claim, is_free, orig
from collectguard.extract._model import DateKind, DateMention
from collectguard.normalize import NormalizedText

# (end, kind, iso, offset_days)
_Parsed = tuple[int, DateKind, str | None, int | None]

_REL_OFFSET: dict[str, int | None] = {
    "今天": 0, "今日": 0, "本日": 0, "今晚": 0, "今夜": 0, "明天": 1, "明日": 1, "次日": 1,
    "后天": 2, "昨天": -1, "昨日": -1, "当天": None, "当日": None, "本周": None,
    "下周": None, "本月底": None, "本月末": None, "本月": None, "下月": None, "月底": None,
    "月末": None, "年底": None, "today": 0, "tonight": 0, "tomorrow": 1, "yesterday": -1,
}  # fmt: skip
_REL_CN_WORDS = tuple(w for w in _REL_OFFSET if not w.isascii())
_REL_EN_WORDS = ("today", "tomorrow", "tonight", "yesterday")
_DAYPARTS = ("上午", "下午", "晚上", "中午", "凌晨", "早上", "傍晚", "夜里", "晚")
_PM_DAYPARTS = frozenset({"下午", "晚上", "傍晚", "夜里", "晚"})
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH_EN = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_CN_NUMERALS = "一二两三四五六七八九十半"


def _alt(words: tuple[str, ...]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# Small patterns, each tried with .match at a chosen position.
_TIME_RE = re.compile(
    rf"(?P<dp>{_alt(_DAYPARTS)})?(?P<h>[01]?[0-9]|2[0-4])"
    r"(?:(?P<colon>:)(?P<mi>[0-5][0-9])(?::(?P<sec>[0-5][0-9]))?(?![0-9])"
    r"|[时点](?:(?P<mi2>[0-5]?[0-9])分|(?P<half>半)|整)?"
    r"|(?= ?(?:[ap]m|[ap]\.m\.)(?![a-z])))"
    r"(?: ?(?P<ap>[ap])(?:m|\.m\.)(?![a-z]))?"
)
_CN_DATE_RE = re.compile(
    r"(?:(?P<y>(?:19|20)?[0-9]{2})年)?(?P<mo>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})[日号])?"
)
_NUM_DATE_RE = re.compile(
    r"(?P<y>(?:19|20)[0-9]{2})(?P<sep>[-/.])(?P<mo>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
    r"(?![0-9]|\.[0-9])"
)
_MDY_RE = re.compile(r"(?P<mo>[0-9]{1,2})/(?P<d>[0-9]{1,2})/(?P<y>(?:19|20)[0-9]{2})(?![0-9])")
_DMY_EN_RE = re.compile(
    rf"(?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)? (?:of )?(?P<mon>{_MONTH_EN})"
    r"(?:,? (?P<y>(?:19|20)[0-9]{2}))?(?![a-z])"
)
_MDY_EN_RE = re.compile(
    rf"(?P<mon>{_MONTH_EN})\.? (?P<d>[0-9]{{1,2}})(?:st|nd|rd|th)?(?![0-9a-z])"
    r"(?:,? (?P<y>(?:19|20)[0-9]{2})(?![0-9]))?"
)
_DURATION_RE = re.compile(
    rf"(?:[0-9]+|[{_CN_NUMERALS}]+) ?个?(?:小时|天|日|工作日|分钟|周|星期|月)(?:之内|以内|内)"
)
_WITHIN_RE = re.compile(
    r"within (?:the )?(?:next )?(?:[0-9]+|one|two|three|four|five|six|seven|ten|fourteen"
    r"|thirty) (?:business |working |calendar )?(?:days?|hours?|minutes?|weeks?|months?)"
    r"(?![a-z])"
)
_BY_RE = re.compile(
    r"(?:due|by|before|no later than) (?:(?P<rel>today|tomorrow|tonight)(?![a-z])"
    r"|now|immediately|end of (?:the )?(?:day|week|month)(?![a-z]))?"
)
_AT_RE = re.compile(r" (?:at |by |before )?")
_REL_CN_RE = re.compile(_alt(_REL_CN_WORDS))
_SUFFIX_RE = re.compile(r"(?:之前|以前|前|之内|以内|内|为止|到期|截止)")
_TIME_SUFFIX_RE = re.compile(r"(?:之前|以前|前)")
_CUTOFF_RE = re.compile(r"截止(?:到|至)? ?")

# Where a mention can start besides digit runs: a branch of literals, which the regex
# engine scans fast (English words are checked for a word boundary in `word_starts`).
_WORD_ANCHOR_RE = re.compile(
    rf"{_alt(_REL_CN_WORDS)}|截止|{_alt(_DAYPARTS)}|{'|'.join(_CN_NUMERALS)}"
    r"|within|due|by|before|no later than|today|tomorrow|tonight|yesterday"
    r"|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
)
# Characters after a digit run that can continue a date, time or duration.
_DIGIT_NEXT = frozenset("年月日号:时点小天个分周星工-/.")
_SUFFIX_START = frozenset("之以前内为到截")
_TIME_START = frozenset("0123456789" + "".join(w[0] for w in _DAYPARTS))
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_DAY_BEFORE = frozenset("于在卡")
_DAY_BEFORE2 = frozenset({"本月", "每月", "下月", "当月"})


def _date_iso(y: int | None, mo: int | None, d: int | None) -> str | None:
    """ISO form of a (partial) date; None when it is impossible (13月, 2月30日)."""
    if mo is not None and not 1 <= mo <= 12:
        return None
    if d is not None:
        if not 1 <= d <= (_DAYS_IN_MONTH[mo] if mo else 31):
            return None
        if y is not None and mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 or y % 400 == 0)):
            return None
    if mo is None:
        return f"---{d:02d}" if d is not None else None
    if y is None:
        return f"--{mo:02d}-{d:02d}" if d is not None else f"--{mo:02d}"
    return f"{y:04d}-{mo:02d}-{d:02d}" if d is not None else f"{y:04d}-{mo:02d}"


def _time_iso(m: re.Match[str]) -> str | None:
    dp, h_s, colon, mi_s, sec, mi2, half, ap = m.group(
        "dp", "h", "colon", "mi", "sec", "mi2", "half", "ap"
    )
    h = int(h_s)
    if colon:
        mi = int(mi_s)
    elif mi2:
        mi = int(mi2)
    else:
        mi = 30 if half else 0
    if (ap == "p" or dp in _PM_DAYPARTS) and h < 12:
        h += 12
    elif ap == "a" and h == 12:
        h = 0
    if h > 24 or mi > 59 or (h == 24 and mi):
        return None
    return f"{h:02d}:{mi:02d}:{sec}" if sec else f"{h:02d}:{mi:02d}"


def _int(s: str | None) -> int | None:
    return int(s) if s else None


def _with_tail(text: str, end: int, iso: str | None, offset: int | None, kind: DateKind) -> _Parsed:
    """A date or relative day, extended to a deadline by an optional time and a suffix (前)."""
    if end >= len(text):
        return end, kind, iso, offset
    pos = end + 1 if text[end] == " " else end
    if pos < len(text) and text[pos] in _TIME_START:
        tm = _TIME_RE.match(text, pos)
        if tm is not None:
            suffix = _TIME_SUFFIX_RE.match(text, tm.end())
            if suffix is not None and (t_iso := _time_iso(tm)) is not None:
                both = f"{iso}T{t_iso}" if iso else t_iso
                return suffix.end(), "deadline", both, offset
    if text[end] not in _SUFFIX_START:
        return end, kind, iso, offset
    suffix = _SUFFIX_RE.match(text, end)
    if suffix is not None:
        return suffix.end(), "deadline", iso, offset
    return end, kind, iso, offset


def _time_at(text: str, pos: int) -> _Parsed | None:
    tm = _TIME_RE.match(text, pos)
    if tm is None:
        return None
    iso = _time_iso(tm)
    if iso is None:
        return None
    suffix = _TIME_SUFFIX_RE.match(text, tm.end())
    if suffix is not None:
        return suffix.end(), "deadline", iso, None
    return tm.end(), "time", iso, None


def _cn_date_at(text: str, s: int) -> _Parsed | None:
    m = _CN_DATE_RE.match(text, s)
    if m is None:
        return None
    y_s, d_s = m.group("y"), m.group("d")
    if d_s is None and y_s is None:
        return None  # "12月份" is a month, not a date
    y = _int(y_s)
    if y is not None and y < 100:
        y += 2000
    iso = _date_iso(y, int(m.group("mo")), _int(d_s))
    if iso is None:
        return None
    return _with_tail(text, m.end(), iso, None, "date")


def _en_date(m: re.Match[str]) -> str | None:
    return _date_iso(_int(m.group("y")), _MONTHS[m.group("mon")[:3]], int(m.group("d")))


def _at_digits(text: str, s: int, e: int) -> _Parsed | None:
    """A mention starting at the digit run text[s:e], chosen by the run's neighbour."""
    n = len(text)
    if e >= n:
        if e - s == 8 and text.startswith(("19", "20"), s):
            iso = _date_iso(int(text[s : s + 4]), int(text[s + 4 : s + 6]), int(text[s + 6 : e]))
            return (e, "date", iso, None) if iso else None
        return None
    nxt = text[e]
    if nxt == "年":
        return _cn_date_at(text, s)
    if nxt == "月":
        return _cn_date_at(text, s) or _duration_at(text, s)
    if nxt in ":时点":
        return _time_at(text, s)
    if nxt in "日号":
        dur = _duration_at(text, s)
        if dur is not None:
            return dur
        before = text[s - 1] if s else ""
        if before == "月" or before.isdigit():
            return None
        followed_by_time = e + 1 < n and text[e + 1].isdigit() and _TIME_RE.match(text, e + 1)
        if followed_by_time or before in _DAY_BEFORE or text[max(0, s - 2) : s] in _DAY_BEFORE2:
            iso = _date_iso(None, None, int(text[s:e])) if e - s <= 2 else None
            if iso is None:
                return None
            if followed_by_time:
                return e + 1, "date", iso, None
            return _with_tail(text, e + 1, iso, None, "date")
        return None
    if nxt in "小天个分周星工":
        return _duration_at(text, s)
    if nxt in "-/.":
        m = _NUM_DATE_RE.match(text, s)
        if m is not None:
            iso = _date_iso(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
            return _with_tail(text, m.end(), iso, None, "date") if iso else None
        if nxt == "/":
            m = _MDY_RE.match(text, s)
            if m is not None:
                iso = _date_iso(int(m.group("y")), int(m.group("mo")), int(m.group("d")))
                return _with_tail(text, m.end(), iso, None, "date") if iso else None
        return None
    if e - s == 8 and text.startswith(("19", "20"), s):
        iso = _date_iso(int(text[s : s + 4]), int(text[s + 4 : s + 6]), int(text[s + 6 : e]))
        return _with_tail(text, e, iso, None, "date") if iso else None
    if nxt == " " or "a" <= nxt <= "z":
        t = _time_at(text, s)
        if t is not None:
            return t
        m = _DMY_EN_RE.match(text, s)
        if m is not None:
            iso = _en_date(m)
            return (m.end(), "date", iso, None) if iso else None
    return None


def _duration_at(text: str, s: int) -> _Parsed | None:
    m = _DURATION_RE.match(text, s)
    return (m.end(), "deadline", None, None) if m else None


def _rel_cn(text: str, s: int, word: str) -> _Parsed | None:
    return _with_tail(text, s + len(word), None, _REL_OFFSET[word], "relative")


def _cutoff(text: str, s: int, word: str) -> _Parsed | None:
    m = _CUTOFF_RE.match(text, s)
    if m is None:
        return None
    pos = m.end()
    rel = _REL_CN_RE.match(text, pos)
    if rel is not None:
        return rel.end(), "deadline", None, _REL_OFFSET[rel.group()]
    j = pos
    while j < len(text) and "0" <= text[j] <= "9":
        j += 1
    if j > pos:
        d = _at_digits(text, pos, j)
        if d is not None and d[1] in ("date", "deadline"):
            return d[0], "deadline", d[2], None
    return None


def _daypart(text: str, s: int, word: str) -> _Parsed | None:
    return _time_at(text, s)


def _cn_numeral(text: str, s: int, word: str) -> _Parsed | None:
    return _duration_at(text, s)


def _rel_en(text: str, s: int, word: str) -> _Parsed | None:
    e = s + len(word)
    if e < len(text) and "a" <= text[e] <= "z":
        return None
    return e, "relative", None, _REL_OFFSET[word]


def _within(text: str, s: int, word: str) -> _Parsed | None:
    m = _WITHIN_RE.match(text, s)
    return (m.end(), "deadline", None, None) if m else None


def _by(text: str, s: int, word: str) -> _Parsed | None:
    m = _BY_RE.match(text, s)
    if m is None:
        return None
    rel = m.group("rel")
    offset = _REL_OFFSET[rel] if rel else None
    if m.end() > m.start() + len(word) + 1 and not rel:
        return m.end(), "deadline", None, None  # by now / by end of day
    pos = m.end()
    if rel:
        at = _AT_RE.match(text, pos)
        tm = _TIME_RE.match(text, at.end()) if at is not None else None
        if tm is not None and (iso := _time_iso(tm)) is not None:
            return tm.end(), "deadline", iso, offset
        return pos, "deadline", None, offset
    tm = _TIME_RE.match(text, pos)
    if tm is not None and (iso := _time_iso(tm)) is not None:
        return tm.end(), "deadline", iso, None
    dm = _MDY_EN_RE.match(text, pos) or _DMY_EN_RE.match(text, pos)
    if dm is not None and (iso := _en_date(dm)) is not None:
        return dm.end(), "deadline", iso, None
    return None


def _month_en(text: str, s: int, word: str) -> _Parsed | None:
    m = _MDY_EN_RE.match(text, s)
    if m is None:
        return None
    iso = _en_date(m)
    return (m.end(), "date", iso, None) if iso else None


_Handler = Callable[[str, int, str], _Parsed | None]
_WORD_HANDLERS: dict[str, _Handler] = {w: _rel_cn for w in _REL_CN_WORDS}
_WORD_HANDLERS.update({w: _daypart for w in _DAYPARTS})
_WORD_HANDLERS.update({c: _cn_numeral for c in _CN_NUMERALS})
_WORD_HANDLERS.update({w: _rel_en for w in _REL_EN_WORDS})
_WORD_HANDLERS.update({w: _month_en for w in _MONTHS})
_WORD_HANDLERS.update({w: _by for w in ("due", "by", "before", "no later than")})
_WORD_HANDLERS["within"] = _within
_WORD_HANDLERS["截止"] = _cutoff


def find_dates(
    norm: NormalizedText, claimed: bytearray, runs: list[tuple[int, int]]
) -> list[DateMention]:
    """Dates in the text; `runs` are the spans of its digit runs, in order."""
    text = norm.text
    # (start, run end or -1 for a word anchor, word)
    n = len(text)
    starts: list[tuple[int, int, str]] = []
    for s, e in runs:
        if e - s == 8:
            starts.append((s, e, ""))
        elif e < n:
            c = text[e]
            if (
                c in _DIGIT_NEXT
                or ("a" <= c <= "z")
                or (c == " " and e + 1 < n and "a" <= text[e + 1] <= "z")
            ):
                starts.append((s, e, ""))
    for m in _WORD_ANCHOR_RE.finditer(text):
        s = m.start()
        if s > 0 and "a" <= text[s] <= "z" and "a" <= text[s - 1] <= "z":
            continue
        starts.append((s, -1, m.group()))
    if not starts:
        return []
    starts.sort()
    out: list[DateMention] = []
    last = 0
    for s, e, word in starts:
        if s < last:
            continue
        parsed = _at_digits(text, s, e) if e >= 0 else _WORD_HANDLERS[word](text, s, word)
        if parsed is None:
            continue
        end, kind, iso, offset = parsed
        if end <= s or not is_free(claimed, s, end):
            continue
        claim(claimed, s, end)
        last = end
        span, original = orig(norm, s, end)
        out.append(DateMention(span, original, kind, iso, offset))
    return out
