"""The consumer's evidence locker and letters on the web: upload → cases with letter and bundle
downloads, keep (a key shown once), open by key on another device, forget, delete for real,
temporary lockers expire; one locker can never read another's (every route); letters from
the verdict card; CSRF on every new form."""

from __future__ import annotations

import datetime as dt
import io
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


def keep(client: TestClient) -> str:
    r = client.post("/locker/keep", data={"csrf_token": csrf(client, "/locker")})
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
        "us_debt_validation", "us_cease_communication", "cfpb_narrative"
    }  # fmt: skip
    assert all(c.recommended for c in choices)


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
    assert '<html lang="en">' in page and "Letters" in page and "English version" in page
    assert "Delete my data" in page
    assert (
        "Write down your locker key"
        in client.post("/locker/keep", data={"csrf_token": csrf(client, "/locker")}).text
    )
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


def test_the_key_page_shows_the_key_only_once(app: FastAPI) -> None:
    client = TestClient(app)
    upload(client)
    r = client.post(
        "/locker/keep", data={"csrf_token": csrf(client, "/locker")}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/locker/key"
    key = re.search(r'data-testid="locker-key">([^<]+)<', client.get("/locker/key").text)
    assert key
    again = client.get("/locker/key", follow_redirects=False)  # a reload
    assert again.status_code == 303 and again.headers["location"] == "/locker"
    assert key.group(1) not in client.get("/locker").text
    assert client.get("/locker/key").headers["cache-control"] == "no-store"
