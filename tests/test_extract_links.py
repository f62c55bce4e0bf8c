"""Links: scheme URLs, www hosts, bare domains with a known public suffix; no network."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from collectguard.extract import extract
from collectguard.normalize import normalize


def links(text: str) -> list[tuple[str, str, str | None]]:
    ex = extract(normalize(text))
    for link in ex.links:
        assert text[link.span[0] : link.span[1]] == link.text
    return [(link.text, link.host, link.registered_domain) for link in ex.links]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("请登入icbcack.com我行系统", [("icbcack.com", "icbcack.com", "icbcack.com")]),
        (
            "快速查账戳 n.95508.com/OTVBav2y7",
            [("n.95508.com/OTVBav2y7", "n.95508.com", "95508.com")],
        ),
        ("年终好礼 cmbt.cn/a/DX25 。", [("cmbt.cn/a/DX25", "cmbt.cn", "cmbt.cn")]),
        (
            "访问https://Example.com/a?b=1，谢谢",
            [("https://Example.com/a?b=1", "example.com", "example.com")],
        ),
        (
            "点击 http://example.com/path).",
            [("http://example.com/path", "example.com", "example.com")],
        ),
        ("打开www.jd.com查看", [("www.jd.com", "www.jd.com", "jd.com")]),
        ("打开 WWW.JD.COM/x 查看", [("WWW.JD.COM/x", "www.jd.com", "jd.com")]),
        (
            "官网gov.cn.example.com.cn",
            [("gov.cn.example.com.cn", "gov.cn.example.com.cn", "example.com.cn")],
        ),
        ("前往车辆中心:***.***.cn重新办理", [("***.***.cn", "***.***.cn", "***.cn")]),
        ("短链t.cn/A6abc点击", [("t.cn/A6abc", "t.cn", "t.cn")]),
        ("visit bit.ly/3xYz now", [("bit.ly/3xYz", "bit.ly", "bit.ly")]),
        (
            "登录http://192.168.1.1:8080/login",
            [("http://192.168.1.1:8080/login", "192.168.1.1", None)],
        ),
        ("登录 10.0.0.1/pay", [("10.0.0.1/pay", "10.0.0.1", None)]),
        (
            "ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ全角",
            [("ｗｗｗ．ｅｘａｍｐｌｅ．ｃｏｍ", "www.example.com", "example.com")],
        ),
        # Not links.
        ("余额1,000.28元", []),
        ("e.g. this", []),
        ("请查看a.txt和readme.md", []),
        ("邮箱 john.doe@qq.com 联系", []),
        ("mail me: service@cmbchina.com", []),
        ("版本1.2.3.4发布", []),
        ("Please pay.Thank you", []),
        ("(此处为链接)", []),
        ("U.S. law", []),
    ],
)
def test_links(text: str, expected: list[tuple[str, str, str | None]]) -> None:
    assert links(text) == expected


def test_link_flags() -> None:
    ex = extract(
        normalize("点 t.cn/abc 或 https://1.2.3.4/x 或 ***.***.cn 或 www.xxx.com 或 jd.com")
    )
    flags = [(x.host, x.is_shortlink, x.is_ip, x.is_masked) for x in ex.links]
    assert flags == [
        ("t.cn", True, False, False),
        ("1.2.3.4", False, True, False),
        ("***.***.cn", False, False, True),
        ("www.xxx.com", False, False, True),
        ("jd.com", False, False, False),
    ]


def test_url_keeps_case_and_folds_width() -> None:
    (link,) = extract(normalize("戳 ｎ.95508.com/OTVBav2y7")).links
    assert link.url == "n.95508.com/OTVBav2y7"
    assert link.suffix == "com"


def test_shortlink_list_is_data() -> None:
    from collectguard.extract._links import SHORTLINK_HOSTS

    assert {"t.cn", "url.cn", "dwz.cn", "bit.ly", "tinyurl.com", "suo.im"} <= SHORTLINK_HOSTS
    assert all(h == h.strip().lower() and not h.startswith("#") for h in SHORTLINK_HOSTS)


def test_suffix_list_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import tldextract

    from collectguard.extract import _links

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    fresh = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    assert fresh("a.b.example.co.uk").suffix == "co.uk"
    assert _links._TLD.suffix_list_urls == ()
    assert links("访问 abc.example.org.cn/x") == [
        ("abc.example.org.cn/x", "abc.example.org.cn", "example.org.cn")
    ]
