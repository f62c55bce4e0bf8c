"""The consumer's evidence locker and letters on the web: upload → cases with letter and bundle
downloads, keep (a key shown once), open by key on another device, forget, delete for real,
temporary lockers expire; one locker can never read another's (every route); letters from
the verdict card; CSRF on every new form."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from collectguard.evidence.bundle import verify_bundle
from collectguard.web import WebSettings, create_app
from collectguard.web.letters import letter_choices, recommended_kinds
from collectguard.web.locker import new_key, normalise_key
from collectguard.web.locker import router as locker_router
from collectguard.web.models import ConsumerLocker
from webclient import csrf

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
CN = dt.timezone(dt.timedelta(hours=8))
THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您已逾期3天，请还款"
SCAM = "【中国银联】您的征信存在异常，需注销校园贷账户，请点击 http://yl-zx.cc 处理，否则影响征信"


def ms(day: int, hour: int) -> int:
    return int(dt.datetime(2026, 1, day, hour, tzinfo=CN).timestamp() * 1000)


def backup(*rows: tuple[str, int, int, str]) -> bytes:
    body = "".join(
        f'<sms address="{sender}" date="{ms(d, h)}" type="1" body="{text}" />\n'
        for sender, d, h, text in rows
    )
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n{body}</smses>\n".encode()


ZHAOLIAN = backup(
    ("10690000", 14, 23, THREAT), ("10690000", 15, 9, PLAIN), ("10690000", 15, 10, PLAIN)
)
UNIONPAY = backup(("1065000", 16, 12, SCAM), ("1065000", 16, 13, SCAM + "！"))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path: Path, clock: Clock) -> FastAPI:
    return create_app(WebSettings(data_dir=tmp_path, secret_key="locker-test", clock=clock))


def upload(client: TestClient, data: bytes = ZHAOLIAN) -> str:
    r = client.post(
        "/backup", data={"csrf_token": csrf(client, "/backup")}, files={"backup": ("sms.xml", data)}
    )
    assert r.status_code == 200 and str(r.url).endswith("/locker"), (r.status_code, r.url)
    return r.text


def links(page: str) -> list[str]:
    return re.findall(r'href="(/locker/cases/[^"]+)"', page)


def keep_form(client: TestClient) -> dict[str, str]:
    """The "keep" / "replace the key" form of the locker page: CSRF token and key version."""
    page = client.get("/locker").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    version = re.search(r'name="version" value="([^"]*)"', page)
    assert token
    return {"csrf_token": token.group(1), **({"version": version.group(1)} if version else {})}


def keep(client: TestClient) -> str:
    r = client.post("/locker/keep", data=keep_form(client))
    assert r.status_code == 200
    match = re.search(r'data-testid="locker-key">([^<]+)<', r.text)
    assert match
    return match.group(1)


def lockers(app: FastAPI) -> list[ConsumerLocker]:
    with app.state.web.sessions() as db:
        return list(db.scalars(select(ConsumerLocker)).all())


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "letter.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return out.stdout


# ---------------------------------------------------------------- cases, letters, bundle


def test_upload_shows_cases_with_letter_downloads(app: FastAPI) -> None:
    client = TestClient(app)
    page = upload(client)
    assert "我的证据柜" in page and "招联" in page and "新增 3 条" in page
    assert "2026-01-14" in page and 'class="bar-sms w' in page and "威胁恐吓" in page
    hrefs = links(page)
    # a real collector that threatens: lender, regulator and police letters are recommended
    for kind in ("lender_complaint", "regulator_complaint", "police_report", "pboc_objection"):
        assert any(f"/letters/{kind}.zh.pdf" in h for h in hrefs), kind
        assert any(f"/letters/{kind}.zh.docx" in h for h in hrefs), kind
    assert any(h.endswith("/bundle") for h in hrefs)
    assert not any("us_" in h or "cfpb" in h for h in hrefs)  # US letters only for US cases
    assert "临时保存" in page and "保存证据柜（生成钥匙）" in page


def test_letter_pdf_is_chinese_and_docx_is_word(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    hrefs = links(upload(client))
    pdf = next(h for h in hrefs if h.endswith("lender_complaint.zh.pdf"))
    r = client.get(pdf)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="lender_complaint-zh.pdf"')
    assert "filename*=UTF-8''" in disposition
    text = pdf_text(r.content, tmp_path)
    assert "投诉函" in text and "招联金融" in text and "威胁恐吓" in text
    docx = client.get(pdf.replace(".pdf", ".docx"))
    assert docx.status_code == 200 and docx.content[:2] == b"PK"
    with zipfile.ZipFile(io.BytesIO(docx.content)) as z:
        assert "招联金融" in z.read("word/document.xml").decode("utf-8")
    md = client.get(pdf.replace(".pdf", ".md"))
    assert md.status_code == 200 and "# 投诉函" in md.text
    # English versions exist for the Chinese letters; a made-up kind or format does not
    assert client.get(pdf.replace(".zh.pdf", ".en.pdf")).status_code == 200
    for bad in ("no_such.zh.pdf", "lender_complaint.zh.exe", "us_debt_validation.en.pdf"):
        assert client.get(pdf.rsplit("/", 1)[0] + "/" + bad).status_code == 404, bad


def test_bundle_download_verifies(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    upload(client)
    page = upload(client, UNIONPAY)  # a second upload lands in the same locker
    assert "中国银联" in page and "招联" in page
    bundles = [h for h in links(page) if h.endswith("/bundle")]
    assert len(bundles) == 2
    for href in bundles:
        r = client.get(href)
        assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
        target = tmp_path / "bundle.zip"
        target.write_bytes(r.content)
        report = verify_bundle(target)
        assert report.ok, report.describe()
        with zipfile.ZipFile(target) as z:
            assert any(n.startswith("letters/") for n in z.namelist())
    r = client.get("/locker/verify")
    assert r.status_code == 200 and 'data-chain-ok="true"' in r.text


def test_scam_case_recommends_police_and_12321_not_the_lender(app: FastAPI) -> None:
    client = TestClient(app)
    page = upload(client, UNIONPAY)
    section = page.split("中国银联", 1)[1].split("<details>", 1)[0]
    assert "police_report.zh.pdf" in section and "spam_12321.zh.pdf" in section
    # never a complaint accusing the institution the scam posed as, not even under "others"
    case_part = page.split("中国银联", 1)[1].split("</section>", 1)[0]
    assert "pboc_objection" in case_part  # the others are listed here…
    assert "lender_complaint" not in case_part and "regulator_complaint" not in case_part


def test_reimport_is_idempotent(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    page = upload(client)
    assert "新增 0 条，已有 3 条" in page
    assert len(lockers(app)) == 1


def test_cases_are_grouped_once_per_state_of_the_ledger(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collectguard.web import locker

    calls: list[int] = []
    real = locker.build_cases

    def counting(*args: object, **kw: object) -> object:
        calls.append(1)
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(locker, "build_cases", counting)
    client = TestClient(app)
    upload(client)
    first = client.get("/locker").text
    grouped = len(calls)
    assert grouped <= 2 and "招联" in first
    docx = next(h for h in links(first) if h.endswith(".docx"))
    for path in ("/locker", "/locker", docx):  # views of an unchanged locker: no regrouping
        assert client.get(path).status_code == 200
    assert len(calls) == grouped
    upload(client, UNIONPAY)  # new messages move the ledger head: grouped again, nothing stale
    page = client.get("/locker").text
    assert len(calls) == grouped + 1 and "银联" in page and "招联" in page


def test_recommended_letters_by_case() -> None:
    cn = recommended_kinds("cn", scam=False, codes={"night_time"}, severities=set(),
                           is_collection=True)  # fmt: skip
    assert cn == ["lender_complaint", "regulator_complaint", "spam_12321", "pboc_objection"]
    assert recommended_kinds("cn", scam=True, codes={"phishing_link"}, severities={"crime"},
                             is_collection=True) == ["police_report", "spam_12321"]  # fmt: skip
    assert recommended_kinds("cn", scam=False, codes=set(), severities=set(),
                             is_collection=False) == []  # fmt: skip
    us = recommended_kinds("us", scam=False, codes={"threat"}, severities=set(),
                           is_collection=True)  # fmt: skip
    assert us[0] == "cfpb_narrative" and "us_debt_validation" in us
    choices = letter_choices("us", us)
    assert {c.kind for c in choices} == {
        "us_debt_validation", "us_cease_communication", "cfpb_narrative", "us_fraud_report"
    }  # fmt: skip
    assert [c.kind for c in choices if not c.recommended] == ["us_fraud_report"]
    # a scam posing as a US collector: the fraud report only, no letter to the sender
    scam = recommended_kinds("us", scam=True, codes={"false_legal_claim"}, severities=set(),
                             is_collection=True)  # fmt: skip
    assert scam == ["us_fraud_report"]
    assert [c.kind for c in letter_choices("us", scam, scam=True)] == ["us_fraud_report"]


# ---------------------------------------------------------------- keep, open, forget, delete


def test_keep_shows_a_key_once_and_it_opens_the_locker_elsewhere(app: FastAPI) -> None:
    first = TestClient(app)
    upload(first)
    key = keep(first)
    assert re.fullmatch(r"([0-9A-Z]{4}-){5}[0-9A-Z]{4}", key)
    row = lockers(app)[0]
    assert row.expires_at is None and row.key_sha256 and key not in row.key_sha256
    page = first.get("/locker").text
    assert key not in page and f"钥匙尾号 {normalise_key(key)[-4:]}" in page  # never again
    # another device, typing the key loosely
    other = TestClient(app)
    token = csrf(other, "/locker")
    assert "打开我的证据柜" in other.get("/locker").text
    typed = key.lower().replace("-", " ").replace("0", "o")
    r = other.post("/locker/open", data={"csrf_token": token, "key": typed, "remember": "true"})
    assert r.status_code == 200 and "招联" in r.text
    # the cookie brings it back in a new session (browser restarted)
    cookie = other.cookies.get("cg_locker")
    assert cookie
    fresh = TestClient(app, cookies={"cg_locker": cookie})
    assert "招联" in fresh.get("/locker").text
    # a forged cookie opens nothing
    forged = TestClient(app, cookies={"cg_locker": cookie[:-3] + "abc"})
    assert "打开我的证据柜" in forged.get("/locker").text


def test_new_key_replaces_the_old(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    old = keep(client)
    new = keep(client)
    assert old != new
    other = TestClient(app)
    token = csrf(other, "/locker")
    assert other.post("/locker/open", data={"csrf_token": token, "key": old}).status_code == 401
    r = other.post("/locker/open", data={"csrf_token": token, "key": new})
    assert r.status_code == 200 and "招联" in r.text


def test_wrong_keys_are_rate_limited(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client, "/locker")
    codes = [
        client.post("/locker/open", data={"csrf_token": token, "key": new_key()}).status_code
        for _ in range(6)
    ]
    assert codes[:5] == [401] * 5 and codes[5] == 429  # the sign-in limits apply
    r = client.post("/locker/open", data={"csrf_token": token, "key": "x"})
    assert r.status_code == 429 and "尝试次数过多" in r.text


def test_delete_my_data_really_deletes(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    upload(client)
    key = keep(client)
    folders = list((tmp_path / "lockers").iterdir())
    assert len(folders) == 1 and (folders[0] / "evidence.sqlite3").exists()
    href = links(client.get("/locker").text)[0]
    from collectguard.web.locker import _cases_kept

    assert any(str(folders[0]) in url for url, _seq, _hash in _cases_kept)  # viewed: kept
    token = csrf(client, "/locker")
    # without the confirmation box nothing happens
    assert client.post("/locker/delete", data={"csrf_token": token}).status_code == 400
    assert folders[0].exists()
    r = client.post("/locker/delete", data={"csrf_token": token, "confirm": "yes"})
    assert r.status_code == 200 and "已全部删除" in r.text
    assert not folders[0].exists() and lockers(app) == []
    # nothing of it stays in memory either
    assert not any(str(folders[0]) in url for url, _seq, _hash in _cases_kept)
    assert client.get(href).status_code == 404
    other = TestClient(app)
    r = other.post("/locker/open", data={"csrf_token": csrf(other, "/locker"), "key": key})
    assert r.status_code == 401


def test_forget_on_this_device(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    keep(client)
    r = client.post("/locker/close", data={"csrf_token": csrf(client, "/locker")})
    assert r.status_code == 200 and "已在本设备上退出" in r.text and "打开我的证据柜" in r.text
    assert len(lockers(app)) == 1  # kept: still there for its key
    # a temporary locker has no key: forgetting it deletes it
    temp = TestClient(app)
    upload(temp)
    assert len(lockers(app)) == 2
    temp.post("/locker/close", data={"csrf_token": csrf(temp, "/locker")})
    assert len(lockers(app)) == 1


def test_temporary_lockers_expire(app: FastAPI, clock: Clock, tmp_path: Path) -> None:
    client = TestClient(app)
    upload(client)
    assert len(lockers(app)) == 1
    clock.now = NOW + dt.timedelta(hours=2, minutes=1)
    assert "打开我的证据柜" in client.get("/locker").text
    assert lockers(app) == [] and list((tmp_path / "lockers").iterdir()) == []
    # expired lockers of visitors who never come back go at the next new locker or restart
    gone = TestClient(app)
    upload(gone)
    clock.now += dt.timedelta(hours=3)
    create_app(WebSettings(data_dir=tmp_path, secret_key="locker-test", clock=clock))
    assert lockers(app) == []


def test_broken_upload_into_a_new_locker_leaves_nothing(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    broken = b'<?xml version=\'1.0\'?>\n<smses>\n<sms address="1" body="x" date="1'
    r = client.post(
        "/backup",
        data={"csrf_token": csrf(client, "/backup")},
        files={"backup": ("sms.xml", broken)},
    )
    assert r.status_code == 400 and "文件已损坏" in r.text
    assert lockers(app) == []


# ---------------------------------------------------------------- authorization


def locker_routes() -> list[APIRoute]:
    return [r for r in locker_router.routes if isinstance(r, APIRoute)]


def test_one_locker_never_reads_another(app: FastAPI, tmp_path: Path) -> None:
    alice, bob = TestClient(app), TestClient(app)
    upload(alice, ZHAOLIAN)
    upload(bob, UNIONPAY)
    bob_links = links(bob.get("/locker").text)
    bob_case = bob_links[0].split("/")[3]
    alice_case = links(alice.get("/locker").text)[0].split("/")[3]
    assert bob_case != alice_case
    routes = locker_routes()
    data_routes = [r for r in routes if "{cid}" in r.path]
    assert {r.path for r in data_routes} == {
        "/locker/cases/{cid}",
        "/locker/cases/{cid}/letters/{name}",
        "/locker/cases/{cid}/bundle",
    }
    for route in data_routes:
        path = route.path.format(cid=bob_case, name="police_report.zh.md")
        r = alice.get(path)
        assert r.status_code == 404, path
        assert "银联" not in r.text and "yl-zx" not in r.text
    # every page Alice can reach shows only her own data
    gets = [r.path for r in routes if "GET" in r.methods and "{" not in r.path]
    assert set(gets) == {"/locker", "/locker/verify", "/locker/key"}
    for path in [*gets, "/backup"]:
        page = alice.get(path).text
        assert "银联" not in page and "yl-zx" not in page, path
    # Bob's own link works, so the 404s are about ownership, not broken routes
    assert bob.get(bob_links[0]).status_code == 200
    # Alice deleting her data leaves Bob's alone
    token = csrf(alice, "/locker")
    alice.post("/locker/delete", data={"csrf_token": token, "confirm": "yes"})
    assert len(lockers(app)) == 1 and "中国银联" in bob.get("/locker").text
    # and nobody without a locker reads anything
    stranger = TestClient(app)
    for route in data_routes:
        assert stranger.get(route.path.format(cid=bob_case, name="x.zh.pdf")).status_code == 404
    assert stranger.get("/locker/verify").status_code == 404
    assert stranger.get("/locker/key").status_code == 404
    token = csrf(stranger, "/locker")
    for path in ("/locker/keep", "/locker/close", "/locker/delete"):
        r = stranger.post(path, data={"csrf_token": token, "confirm": "yes"})
        assert r.status_code == 404, path
    assert len(lockers(app)) == 1


def test_locker_folders_come_only_from_the_database(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    upload(client)
    # a session naming a folder that is not a locker (or a path) opens nothing
    (tmp_path / "lockers" / "aaaaaaaaaaaaaaaaaaaa").mkdir(parents=True)
    shutil.copy(next((tmp_path / "lockers").glob("*/evidence.sqlite3")),
                tmp_path / "lockers" / "aaaaaaaaaaaaaaaaaaaa" / "evidence.sqlite3")  # fmt: skip
    forged = TestClient(app, cookies={"cg_locker": "aaaaaaaaaaaaaaaaaaaa"})
    assert "打开我的证据柜" in forged.get("/locker").text
    # even correctly signed (a leaked secret), a folder without a locker row opens nothing
    import itsdangerous

    for folder in ("aaaaaaaaaaaaaaaaaaaa", "../../../../etc/passwd"):
        signed = itsdangerous.TimestampSigner("locker-test", salt="cg-locker").sign(folder)
        client = TestClient(app, cookies={"cg_locker": signed.decode()})
        assert "打开我的证据柜" in client.get("/locker").text
        assert client.get("/locker/verify").status_code == 404


def test_every_locker_form_requires_csrf(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    posts = [r for r in locker_routes() if "POST" in r.methods]
    assert {r.path for r in posts} >= {
        "/locker/open", "/locker/keep", "/locker/close", "/locker/delete", "/locker/messages"
    }  # fmt: skip
    for route in [*posts]:
        for data in ({"confirm": "yes", "text": THREAT}, {"csrf_token": "forged", "text": THREAT}):
            r = client.post(route.path, data=data, follow_redirects=False)
            assert r.status_code == 403, (route.path, r.status_code)
    for path in ("/check/letter", "/backup"):
        r = client.post(path, data={"kind": "police_report", "text": THREAT})
        assert r.status_code == 403, path
    assert len(lockers(app)) == 1 and "招联" in client.get("/locker").text


# ---------------------------------------------------------------- from the verdict card


def test_verdict_offers_letters_and_downloads_a_pdf(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    token = csrf(client, "/")
    r = client.post("/check", data={"csrf_token": token, "text": THREAT, "sender": "10690000",
                                    "received_at": "2026-01-14T23:15"})  # fmt: skip
    page = r.text
    assert 'action="/check/letter"' in page and 'action="/locker/messages"' in page
    recommended = page.split('label="推荐"', 1)[1].split("</optgroup>", 1)[0]
    assert 'value="lender_complaint"' in recommended and 'value="police_report"' in recommended
    assert 'name="text" value="【招联金融】' in page
    form = {"csrf_token": token, "text": THREAT, "sender": "10690000",
            "received_at": "2026-01-14T23:15", "kind": "police_report", "lang": "zh"}  # fmt: skip
    r = client.post("/check/letter", data={**form, "fmt": "pdf"})
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    text = pdf_text(r.content, tmp_path)
    assert "报警" in text and "2026-01-14 23:15" in text and "10690000" in text
    r = client.post("/check/letter", data={**form, "fmt": "docx", "kind": "lender_complaint"})
    assert r.status_code == 200 and r.content[:2] == b"PK"
    # a US kind for a Chinese message, an unknown format, no text: refused
    for bad in ({"kind": "us_debt_validation"}, {"fmt": "exe"}, {"text": " "},
                {"received_at": "昨天"}):  # fmt: skip
        assert client.post("/check/letter", data={**form, **bad}).status_code == 400, bad
    assert lockers(app) == []  # the letter kept nothing


def test_scam_verdict_recommends_police_and_harmless_text_offers_none(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client, "/")
    page = client.post("/check", data={"csrf_token": token, "text": SCAM}).text
    recommended = page.split('label="推荐"', 1)[1].split("</optgroup>", 1)[0]
    assert 'value="police_report"' in recommended and "lender_complaint" not in recommended
    assert 'value="lender_complaint"' not in page  # not offered under "others" either
    r = client.post("/check/letter", data={"csrf_token": token, "text": SCAM, "fmt": "md",
                                           "kind": "lender_complaint", "lang": "zh"})  # fmt: skip
    assert r.status_code == 400
    page = client.post("/check", data={"csrf_token": token, "text": "明天一起吃饭吗？"}).text
    assert "/check/letter" not in page


def test_us_message_gets_us_letters(app: FastAPI, tmp_path: Path) -> None:
    client = TestClient(app)
    token = csrf(client, "/")
    us = ("This is a debt collector. If you don't pay today we will call your employer "
          "and have you arrested.")  # fmt: skip
    page = client.post("/check", data={"csrf_token": token, "text": us}).text
    assert 'value="us_debt_validation"' in page and 'value="lender_complaint"' not in page
    r = client.post("/check/letter", data={"csrf_token": token, "text": us, "fmt": "pdf",
                                           "kind": "us_debt_validation", "lang": "zh"})  # fmt: skip
    assert r.status_code == 200 and "validat" in pdf_text(r.content, tmp_path).lower()


def test_keep_a_pasted_message_in_the_locker(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client, "/")
    r = client.post("/locker/messages", data={"csrf_token": token, "text": THREAT,
                                              "sender": "10690000",
                                              "received_at": "2026-01-14T23:15"})  # fmt: skip
    assert r.status_code == 200 and "招联" in r.text and "新增 1 条" in r.text
    assert "2026-01-14 23:15" in r.text  # read as Beijing time
    r = client.post("/locker/messages", data={"csrf_token": token, "text": PLAIN})
    assert "新增 1 条" in r.text and len(lockers(app)) == 1
    r = client.post("/locker/messages", data={"csrf_token": token, "text": "x",
                                              "received_at": "昨天"})  # fmt: skip
    assert r.status_code == 400
    # a message with blank lines is kept as the one message the checker analysed
    two_paragraphs = THREAT + "\n\n点此还款 http://pay.example/x"
    r = client.post("/locker/messages", data={"csrf_token": token, "text": two_paragraphs})
    assert "新增 1 条" in r.text, r.text


def test_a_letter_from_the_checker_lists_the_pasted_message_once(
    app: FastAPI, tmp_path: Path
) -> None:
    client = TestClient(app)
    token = csrf(client, "/")
    text = THREAT + "\n\n详询客服"
    r = client.post("/check/letter", data={"csrf_token": token, "text": text, "fmt": "pdf",
                                           "kind": "lender_complaint", "lang": "zh"})  # fmt: skip
    assert r.status_code == 200
    pdf = pdf_text(r.content, tmp_path)
    # one evidence item (was two: the text was split at its blank line)
    assert "共 1 项" in pdf, pdf


def test_locker_pages_render_in_both_languages(app: FastAPI) -> None:
    client = TestClient(app)
    assert "Open my evidence locker" in client.get("/locker?lang=en").text
    page = upload(client)
    assert '<html lang="en">' in page and "Letters" in page and "Delete my data" in page
    # the buttons say which language each letter is in
    assert ">PDF (Chinese)<" in page and ">Word (Chinese)<" in page and ">PDF (English)<" in page
    assert "Write down your locker key" in client.post("/locker/keep", data=keep_form(client)).text
    assert client.get("/locker").headers["cache-control"] == "no-store"


def test_without_a_cjk_font_pdf_is_refused_clearly(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    import collectguard.web.letters as web_letters
    from collectguard.evidence.errors import EvidenceError

    def no_font(*args: object) -> None:
        raise EvidenceError("no CJK font installed")

    monkeypatch.setattr(web_letters, "write_pdf", no_font)
    client = TestClient(app)
    pdf = next(h for h in links(upload(client)) if h.endswith(".pdf"))
    r = client.get(pdf)
    assert r.status_code == 503 and "暂时无法生成这个文件" in r.text and "Word" in r.text
    assert client.get(pdf.replace(".pdf", ".docx")).status_code == 200  # Word still works
    token = csrf(client, "/")
    r = client.post("/check/letter", data={"csrf_token": token, "text": THREAT, "fmt": "pdf",
                                           "kind": "police_report"})  # fmt: skip
    assert r.status_code == 503 and "Traceback" not in r.text


def session_data(client: TestClient) -> dict[str, object]:
    """What the signed (not encrypted) session cookie carries: anyone holding it can read it."""
    raw = client.cookies.get("cg_session")
    assert raw
    payload = raw.split(".")[0]
    return dict(json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4))))


def test_the_key_page_shows_the_key_only_once(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    form = keep_form(client)
    r = client.post("/locker/keep", data=form, follow_redirects=False)
    # shown in the answer to "keep" itself: the key never travels in the session cookie
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    key = re.search(r'data-testid="locker-key">([^<]+)<', r.text)
    assert key
    canonical = normalise_key(key.group(1))
    assert not any(canonical in normalise_key(str(v)) for v in session_data(client).values())
    assert "new_key" not in session_data(client)
    # a reload re-sends the form: the key is not silently replaced, the locker page says so
    again = client.post("/locker/keep", data=form)
    assert again.status_code == 200 and "没有再次更换" in again.text
    assert key.group(1) not in again.text
    other = TestClient(app)
    r = other.post("/locker/open", data={"csrf_token": csrf(other, "/locker"), "key": key.group(1)})
    assert r.status_code == 200 and "招联" in r.text  # still the key that was shown
    # the old address of the key page shows nothing
    old = client.get("/locker/key", follow_redirects=False)
    assert old.status_code == 303 and old.headers["location"] == "/locker"


# ---------------------------------------------------------------- another device, the key replaced


def test_replacing_the_key_closes_the_locker_on_every_other_device(app: FastAPI) -> None:
    owner = TestClient(app)
    upload(owner)
    old = keep(owner)
    # a second device opens it with the key and is remembered (the box is ticked by default)
    other = TestClient(app)
    r = other.post("/locker/open", data={"csrf_token": csrf(other, "/locker"), "key": old,
                                         "remember": "true"})  # fmt: skip
    assert r.status_code == 200 and "招联" in r.text
    remembered = other.cookies.get("cg_locker")
    assert remembered
    case_link = links(r.text)[0]
    new = keep(owner)  # "换一把新钥匙": the old key leaked
    # the other device's live session no longer opens it ...
    page = other.get("/locker").text
    assert "打开我的证据柜" in page and "招联" not in page and "钥匙尾号" not in page
    assert other.get(case_link).status_code == 404
    assert other.get("/locker/verify").status_code == 404
    # ... nor does its remembered-device cookie in a new session (the next day)
    later = TestClient(app, cookies={"cg_locker": remembered})
    page = later.get("/locker").text
    assert "打开我的证据柜" in page and normalise_key(new)[-4:] not in page
    # the owner's device stays open, in this session and by its own (new) cookie
    assert "招联" in owner.get("/locker").text
    cookie = owner.cookies.get("cg_locker")
    assert cookie and "招联" in TestClient(app, cookies={"cg_locker": cookie}).get("/locker").text
    # and only the new key opens it
    third = TestClient(app)
    token = csrf(third, "/locker")
    assert third.post("/locker/open", data={"csrf_token": token, "key": old}).status_code == 401
    assert "招联" in third.post("/locker/open", data={"csrf_token": token, "key": new}).text


def test_lockers_kept_before_key_nonces_keep_working(tmp_path: Path, clock: Clock) -> None:
    """A web database from before the `key_nonce` column: the column is added on start, old
    rows read None, and a cookie of that time (the folder alone) still opens its locker until
    the key is replaced."""
    import itsdangerous
    from sqlalchemy import create_engine, inspect
    from sqlalchemy import text as sql_text

    settings = WebSettings(data_dir=tmp_path, secret_key="locker-test", clock=clock)
    app = create_app(settings)
    owner = TestClient(app)
    upload(owner)
    keep(owner)
    engine = create_engine(settings.database_url())
    with engine.begin() as conn:  # back to the old schema, with the kept locker in it
        conn.execute(sql_text("ALTER TABLE web_consumer_locker DROP COLUMN key_nonce"))
    assert "key_nonce" not in {c["name"] for c in inspect(engine).get_columns(
        "web_consumer_locker")}  # fmt: skip
    app = create_app(settings)  # a restart on the new code
    assert "key_nonce" in {c["name"] for c in inspect(engine).get_columns("web_consumer_locker")}
    (row,) = lockers(app)
    assert row.key_nonce is None and row.key_sha256
    legacy = itsdangerous.TimestampSigner("locker-test", salt="cg-locker").sign(row.folder)
    device = TestClient(app, cookies={"cg_locker": legacy.decode()})
    assert "招联" in device.get("/locker").text
    keep(device)  # replaced: from now on the old cookie opens nothing
    stale = TestClient(app, cookies={"cg_locker": legacy.decode()})
    assert "打开我的证据柜" in stale.get("/locker").text


def test_the_page_says_whether_this_device_remembers_the_locker(app: FastAPI) -> None:
    owner = TestClient(app)
    upload(owner)
    key = keep(owner)
    page = owner.get("/locker").text
    assert 'data-remembered="yes"' in page and "本设备会记住 90 天" in page
    assert "在公用电脑上用完请点“在本设备上退出”" in page
    shared = TestClient(app)  # a shared computer: "remember" unticked
    r = shared.post("/locker/open", data={"csrf_token": csrf(shared, "/locker"), "key": key})
    assert r.status_code == 200 and shared.cookies.get("cg_locker") is None
    assert 'data-remembered="no"' in r.text and "90 天" not in r.text
    assert "本设备没有记住它" in r.text and "8 小时" in r.text
    english = shared.get("/locker?lang=en").text
    assert "This device does not remember it" in english and "90 days" not in english


# ---------------------------------------------------------------- big lockers stay light


def test_an_upload_stops_at_the_lockers_limit(tmp_path: Path, clock: Clock) -> None:
    app = create_app(WebSettings(data_dir=tmp_path, secret_key="locker-test", clock=clock,
                                 max_locker_messages=5))  # fmt: skip
    client = TestClient(app)
    eight = backup(*[("10690000", 1 + i, 9, f"{PLAIN} #{i}") for i in range(8)])
    page = upload(client, eight)
    assert "新增 5 条" in page and 'data-import="limit"' in page
    assert "最多保存 5 条短信和通话记录" in page and "collectguard evidence import" in page
    assert "证据柜现有 5 条" in page and "短信 5 条" in page
    # the locker is full: a further upload imports nothing and says why
    r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                    files={"backup": ("more.xml", ZHAOLIAN)})  # fmt: skip
    assert (
        r.status_code == 400 and "证据柜已满" in r.text and "collectguard evidence import" in r.text
    )
    assert "短信 5 条" in client.get("/locker").text
    # the stateless bundle reads no more than that either
    r = client.post("/backup/bundle", data={"csrf_token": csrf(client, "/backup")},
                    files={"backup": ("sms.xml", eight)})  # fmt: skip
    assert r.status_code == 400 and "超过 5 条记录" in r.text


def test_a_locker_with_thousands_of_messages_keeps_its_page_small(app: FastAPI) -> None:
    from collectguard import Analyzer
    from collectguard.evidence.ingest import Importer
    from collectguard.web.locker import locker_store

    client = TestClient(app)
    upload(client)
    start = dt.datetime(2025, 10, 1, tzinfo=CN)
    body = "".join(  # 2,500 threats over 100 days, between 08:00 and 21:00
        f'<sms address="10690000" type="1" body="{THREAT}（第{i}次）" date="'
        f'{int((start + dt.timedelta(days=i % 100, hours=8 + i % 14)).timestamp() * 1000)}" />\n'
        for i in range(2500)
    )
    source = app.state.web.settings.data_dir / "big.xml"
    source.write_text(f"<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n{body}</smses>\n")
    with locker_store(app.state.web.settings, lockers(app)[0]) as store:
        Importer(store, Analyzer.default(), timezone="Asia/Shanghai").import_file(source)
    r = client.get("/locker")
    page = r.text
    assert r.status_code == 200 and len(r.content) < 60_000, len(r.content)
    assert page.count("<li><time>") == 20 and "另有 2,481 条" in page  # 2,501 flagged in all
    days = 100 + 2  # and the two days of the first upload
    assert page.count('<th scope="row">') == 31 and f"只列出最近 31 天，共 {days} 天" in page
    case_page = next(h for h in links(page) if h.count("/") == 3)
    full = client.get(case_page)
    assert full.status_code == 200 and full.text.count("<li><time>") == 200
    assert full.text.count('<th scope="row">') == days and "第 1 / 13 页" in full.text
    last = client.get(case_page + "?page=13").text
    assert last.count("<li><time>") == 101 and "上一页" in last and "下一页" not in last
    english = client.get("/locker?lang=en").text
    assert "and 2,481 more" in english and f"The latest 31 of {days} days" in english
    assert client.get(case_page + "?page=0").status_code == 400


# ---------------------------------------------------------------- what an import says


def test_a_file_that_breaks_part_way_keeps_what_was_read(app: FastAPI) -> None:
    rows = [("10690000", 1 + i % 27, 9 + i % 12, f"{PLAIN} #{i}") for i in range(40)]
    full = backup(*rows)
    truncated = full[: int(len(full) * 0.6)]
    # into an open locker
    client = TestClient(app)
    upload(client, ZHAOLIAN)
    page = upload(client, truncated)
    match = re.search(r"已导入 (\d+) 条，文件在第 (\d+) 行处中断", page)
    assert match, page
    kept, line = int(match.group(1)), int(match.group(2))
    assert 0 < kept < 40 and line == kept + 3  # the XML declaration and <smses> come first
    assert "XML 格式错误或文件不完整" in page  # the library's own reason
    assert f"短信 {3 + kept} 条" in page
    # into a new locker: kept too (as the CLI does), not deleted
    fresh = TestClient(app)
    page = upload(fresh, truncated)
    assert f"已导入 {kept} 条，文件在第 {line} 行处中断" in page and f"短信 {kept} 条" in page
    assert len(lockers(app)) == 2
    english = fresh.get("/locker?lang=en").text  # shown once: a reload shows the locker alone
    assert "the file breaks" not in english
    again = upload(fresh, truncated)
    assert f"{kept} imported; the file breaks at line {line}." in again
    assert f"This import: 0 new, {kept} already here" in again


def test_rejected_records_are_listed_with_position_and_reason(app: FastAPI) -> None:
    jsonl = "\n".join([
        json.dumps({"text": PLAIN, "sender": "10690000",
                    "received_at": "2026-01-15T09:00:00+08:00"}, ensure_ascii=False),
        '{"text": "broken',
        "not json at all",
        '{"text": "x", "received_at": "yesterday"}',
        '{"text": ""}',
    ]).encode() + b"\n"  # fmt: skip
    client = TestClient(app)
    r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                    files={"backup": ("m.jsonl", jsonl)})  # fmt: skip
    page = r.text
    assert "无法读取 4 条" in page and 'data-import="rejections"' in page
    for position, reason in (("第2行 / line 2", "不是 JSON / not JSON"),
                             ("第4行 / line 4", "时间无法识别 / unreadable time"),
                             ("第5行 / line 5", "正文为空 / empty message text")):  # fmt: skip
        assert f"<bdi>{position}</bdi>：<bdi>{reason}" in page, position
    csv = ("内容,号码,时间\n" f"{PLAIN},10690000,2026-01-15 09:00\n"
           f'"{THREAT},10690000,2026-01-14 23:00\n' f"{PLAIN}1,10690000,2026-01-16 09:00\n"
           f"{PLAIN}2,10690000,2026-01-17 09:00\n").encode()  # fmt: skip
    r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                    files={"backup": ("e.csv", csv)})  # fmt: skip
    assert "第3行开始的引号没有闭合" in r.text and "第2条（第5行）/ record 2 (line 5)" in r.text
    # many: the first 20, and how many there were
    many = ("\n".join(["not json"] * 25) + "\n").encode()
    r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                    files={"backup": ("n.jsonl", b'{"text": "x"}\n' + many)})  # fmt: skip
    assert "（前 20 条，共 25 条）" in r.text and r.text.count("不是 JSON / not JSON") == 20


def test_impossible_dates_are_flagged(app: FastAPI) -> None:
    seconds = ZHAOLIAN
    for d, h in ((14, 23), (15, 9), (15, 10)):
        seconds = seconds.replace(str(ms(d, h)).encode(), str(ms(d, h) // 1000).encode())
    client = TestClient(app)
    page = upload(client, seconds)
    assert 'data-import="odd-times"' in page and "3 条记录的时间在 2000 年以前或在未来" in page
    assert "1970" in page and "毫秒写成了秒" in page
    assert 'data-import="odd-times"' not in upload(client, ZHAOLIAN)  # right dates: no warning


def test_import_runs_record_the_file_name_not_the_temporary_path(app: FastAPI) -> None:
    from collectguard.evidence.models import ImportRun
    from collectguard.web.locker import locker_store

    client = TestClient(app)
    for name in ("我的短信 2026-01.xml", "C:\\Users\\me\\Desktop\\备份\u202e.xml"):
        r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                        files={"backup": (name, ZHAOLIAN)})  # fmt: skip
        assert r.status_code == 200
    with locker_store(app.state.web.settings, lockers(app)[0]) as store, store.session() as s:
        names = [run.source_name for run in s.scalars(select(ImportRun).order_by(ImportRun.id))]
    assert names == ["我的短信 2026-01.xml", "备份.xml"]


# ---------------------------------------------------------------- English, bidi, iPhone


def test_the_english_locker_page_is_english(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    page = client.get("/locker?lang=en").text
    tags = re.findall(r'<span class="tag">([^<]*)</span>', page)
    assert "Threats and intimidation" in tags and not any(re.search("[一-龥]", t) for t in tags)
    assert "3 messages, 0 calls" in page and "1 message, 0 calls" in page
    assert "1 messages" not in page and "1 cases" not in page and "1 case (one per lender)" in page
    # every letter of this case is recommended: no empty "More letters" box
    assert "<details>" not in page and "More letters" not in page
    assert "<details>" in upload(client, UNIONPAY)  # a scam case has other letters to offer


def test_bidi_controls_in_messages_cannot_reorder_the_page(app: FastAPI) -> None:
    rlo = "\u202e"
    text = f"【招联金融】您的借款已逾期，{rlo}今天再不还款就上门，通知你的家人和单位。"

    def outside_isolation(html: str) -> str:
        for pattern in (r"<bdi>.*?</bdi>", r'<p class="original"[^>]*dir="auto">.*?</p>',
                        r'value="[^"]*"', r"<title>.*?</title>"):  # fmt: skip
            html = re.sub(pattern, "", html, flags=re.S)
        return html

    client = TestClient(app)
    page = upload(client, backup(("10690000", 14, 23, text)))
    assert rlo in page and rlo not in outside_isolation(page)
    case_page = next(h for h in links(page) if h.count("/") == 3)
    full = client.get(case_page).text
    assert rlo in full and rlo not in outside_isolation(full)
    verdict = client.post("/check", data={"csrf_token": csrf(client, "/"), "text": text,
                                          "sender": "10690000"}).text  # fmt: skip
    assert rlo in verdict and rlo not in outside_isolation(verdict)
    original = re.search(r'<p class="original".*?</p>', verdict, flags=re.S)
    assert original is not None and rlo not in original.group()
    assert "[U+202E]今天再不还款" in original.group()  # shown, not obeyed


def _ios_backup(path: Path) -> bytes:
    from iosdb import ios_smsdb

    con = ios_smsdb(path)
    apple = dt.datetime(2001, 1, 1, tzinfo=dt.UTC)
    when = int((dt.datetime(2026, 1, 14, 23, tzinfo=CN) - apple).total_seconds())
    con.execute("INSERT INTO message VALUES (1, 'g1', ?, NULL, 1, ?, 0)", (THREAT, when))
    con.commit()
    con.close()
    return path.read_bytes()


def test_an_iphone_sms_db_is_taken_by_its_content(app: FastAPI, tmp_path: Path) -> None:
    data = _ios_backup(tmp_path / "sms.db")
    for name in ("3d0d7e5fb2ce288813306e4d4636395e047a3d28", "sms.xml", "sms.bin"):
        client = TestClient(app)
        r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                        files={"backup": (name, data)})  # fmt: skip
        assert r.status_code == 200 and "招联" in r.text and "新增 1 条" in r.text, name
    # a file whose suffix says nothing and whose content is not a backup is still refused
    client = TestClient(app)
    for name, content in (("notes", b"a,b,c\n1,2,3\n"), ("photo.png", b"\x89PNG\r\n\x1a\n")):
        r = client.post("/backup", data={"csrf_token": csrf(client, "/backup")},
                        files={"backup": (name, content)})  # fmt: skip
        assert r.status_code == 400 and "无法识别这个文件" in r.text, name


def test_temporary_lockers_are_deleted_on_a_timer(tmp_path: Path, clock: Clock) -> None:
    """The page promises a temporary upload is deleted after two hours: it was deleted only
    when someone created or visited a locker, or at start-up."""
    import time

    app = create_app(
        WebSettings(
            data_dir=tmp_path, secret_key="locker-test", clock=clock, locker_purge_interval_s=0.05
        )
    )
    with TestClient(app) as client:  # runs the app's lifespan: the timer
        upload(client)
        folders = list((tmp_path / "lockers").iterdir())
        assert len(folders) == 1 and len(lockers(app)) == 1
        time.sleep(0.3)
        assert folders[0].exists()  # not yet due
        clock.now += dt.timedelta(hours=2, seconds=1)
        deadline = time.monotonic() + 10
        # the purge removes the folder, then the row (in the timer's thread): wait for both
        while (folders[0].exists() or lockers(app)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not folders[0].exists() and lockers(app) == []


def test_days_over_a_cap_not_yet_in_force_are_explained(app: FastAPI) -> None:
    """Eight missed calls on 2026-01-14 show in the per-day chart, but the CBA cap on
    unanswered calls takes effect on 2026-01-30: the case page says why that is no violation
    (it used to say nothing)."""
    client = TestClient(app)
    upload(client)
    calls = "".join(
        f'<call number="10690000" duration="0" date="{ms(14, 9) + i * 60_000}" type="3" />\n'
        for i in range(8)
    )
    page = upload(client, f"<?xml version='1.0'?>\n<calls>\n{calls}</calls>\n".encode())
    assert "新增 8 条" in page
    assert "超过的日子都早于该规则 2026-01-30 施行，不计为违规：2026-01-14: 8" in page
    assert "每日未接通呼叫超过6次 ×" not in page  # no finding for it
