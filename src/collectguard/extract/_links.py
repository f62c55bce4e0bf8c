"""Links: URLs with a scheme, ``www.`` hosts and bare domains such as ``icbcack.com``.

A bare domain counts only when its suffix is on the public-suffix list (tldextract's bundled
snapshot, never fetched), so decimals (``1,000.28``), ``e.g.`` and file names (``a.txt``,
``readme.md``) are not links; e-mail addresses are skipped. Hosts blanked by the source
(``***.***.cn``) are kept with ``is_masked``. Short-link hosts come from
``data/shortlink_hosts.txt``.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import NamedTuple

import tldextract

from collectguard.extract._common import claim, data_lines, match_at, orig
from collectguard.extract._model import Link
from collectguard.normalize import NormalizedText

# No network and no cache directory: the suffix list is the snapshot bundled with tldextract.
_TLD = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

SHORTLINK_HOSTS: frozenset[str] = frozenset(h.lower() for h in data_lines("shortlink_hosts.txt"))

_URL_CHARS = r"[a-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]"
_LABEL = r"[a-z0-9*×](?:[a-z0-9*×\-]{0,61}[a-z0-9*×])?"
_LINK_RE = re.compile(
    rf"(?P<scheme>(?:https?|ftp)://){_URL_CHARS}+"
    rf"|(?<![a-z0-9@._\-*×])(?P<host>(?:{_LABEL}\.)+[a-z]{{2,24}}|[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}})"
    rf"(?P<port>:[0-9]{{2,5}})?(?P<path>[/?#]{_URL_CHARS}*)?(?![a-z0-9@_\-])"
)
# Where a link can start (see `match_at`): a scheme, or the start of the host run before a
# dot that is followed by a letter (hosts end in a letter suffix) or by an IP's digits.
_SCHEME_ANCHOR_RE = re.compile(r"https://|http://|ftp://")
_DOT_RE = re.compile(r"\.[a-z*×0-9]")
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.*×")
_BARE_IP_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])")
_IP_RE = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_MASK_LABEL = re.compile(r"[*×]+|x{2,}")
_TRAIL = ".,;:!?'\""

# Suffixes that are also common file extensions: a bare "readme.md" is a file name.
_FILE_SUFFIXES = frozenset({"md", "py", "sh", "zip", "mov", "rs", "pl", "so", "ps", "cs", "ts"})
# Long generic suffixes seen in SMS links; any other suffix longer than three letters needs a
# scheme, "www." or a path, since "pay.today" is more likely a missing space than a domain.
_LONG_SUFFIXES = frozenset(
    {
        "info", "mobi", "asia", "club", "shop", "site", "online", "store", "live", "work",
        "wang", "link", "life", "world", "cloud", "space", "website", "press", "fund",
        "loan", "loans", "finance", "money", "bank", "credit", "cash", "help", "center",
        "email", "group", "ltd", "tech", "today",
    }
)  # fmt: skip


class _HostInfo(NamedTuple):
    is_ip: bool
    is_masked: bool
    registered: str | None
    suffix: str | None
    is_short: bool
    last_label: str
    n_labels: int


@functools.lru_cache(maxsize=4096)
def _host_info(host: str) -> _HostInfo:
    labels = host.split(".")
    is_ip = _IP_RE.fullmatch(host) is not None
    is_masked = any(_MASK_LABEL.fullmatch(label) for label in labels)
    registered: str | None = None
    suffix: str | None = None
    if not is_ip:
        r = _TLD(host)
        if r.domain and r.suffix:
            registered, suffix = f"{r.domain}.{r.suffix}", r.suffix
    bare = host[4:] if host.startswith("www.") else host
    is_short = bare in SHORTLINK_HOSTS or registered in SHORTLINK_HOSTS
    return _HostInfo(is_ip, is_masked, registered, suffix, is_short, labels[-1], len(labels))


def _trim(text: str, start: int, end: int) -> int:
    """End of a URL without trailing punctuation or an unbalanced closing bracket."""
    while end > start:
        ch = text[end - 1]
        if ch in _TRAIL:
            end -= 1
        elif ch == ")" and text.count("(", start, end) < text.count(")", start, end):
            end -= 1
        elif ch == "]" and text.count("[", start, end) < text.count("]", start, end):
            end -= 1
        else:
            break
    return end


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[1] if "://" in url else url
    for sep in "/?#":
        rest = rest.split(sep, 1)[0]
    rest = rest.rsplit("@", 1)[-1]
    if rest.startswith("["):  # IPv6 literal
        return rest.split("]", 1)[0] + "]"
    return rest.split(":", 1)[0]


def _display_url(original: str) -> str:
    if original.isascii():
        return original
    folded = unicodedata.normalize("NFKC", original)
    return "".join(c for c in folded if unicodedata.category(c)[0] != "C")


def find_links(norm: NormalizedText, claimed: bytearray) -> list[Link]:
    text = norm.text
    if "." not in text:
        return []
    starts: list[int] = []
    last_dot = last_start = -1
    for dot in _DOT_RE.finditer(text):
        j = dot_pos = dot.start()
        if j == 0 or text[j - 1] not in _HOST_CHARS:
            continue
        ip_like = "0" <= text[j + 1] <= "9"
        if ip_like and not "0" <= text[j - 1] <= "9":
            continue  # "e.1" is no host; "1.2" may be an IP
        while j > 0 and text[j - 1] in _HOST_CHARS:
            j -= 1
            if j == last_dot:  # same host run as the previous dot: reuse its start
                j = last_start
                break
        last_dot, last_start = dot_pos, j
        if ip_like and _BARE_IP_RE.match(text, j) is None:
            continue  # a decimal such as 1000.00
        if not starts or starts[-1] != j:
            starts.append(j)
    if not starts:
        return []
    if "://" in text:
        starts.extend(m.start() for m in _SCHEME_ANCHOR_RE.finditer(text))
        starts.sort()
    out: list[Link] = []
    for m in match_at(_LINK_RE, text, starts):
        s = m.start()
        if m.group("scheme") is not None:
            e = _trim(text, s, m.end())
            host = _host_of(text[s:e])
            if not host:
                continue
            explicit = True
        else:
            host = m.group("host")
            e = m.end() if m.group("path") else m.end("port") if m.group("port") else m.end("host")
            e = _trim(text, s, e)
            explicit = host.startswith("www.")
        info = _host_info(host)
        bare_host_only = not explicit and m.group("path") is None and m.group("port") is None
        if info.is_ip:
            if bare_host_only:
                continue  # "1.2.3.4" alone is a version number more often than a host
        elif info.registered is None:
            if not explicit:
                continue
        elif bare_host_only:
            last = info.last_label
            if last in _FILE_SUFFIXES and info.n_labels == 2:
                continue
            if len(last) > 3 and last not in _LONG_SUFFIXES:
                continue
        span, original = orig(norm, s, e)
        claim(claimed, s, e)
        out.append(
            Link(
                url=_display_url(original),
                host=host,
                registered_domain=info.registered,
                suffix=info.suffix,
                span=span,
                text=original,
                is_shortlink=info.is_short,
                is_ip=info.is_ip,
                is_masked=info.is_masked,
            )
        )
    return out
