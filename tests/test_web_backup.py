"""Phone-backup upload: into the visitor's (temporary) evidence locker, shown as cases per
lender with a timeline; the stateless evidence bundle download; file type and size checks,
CSRF, and that the uploaded file itself is never kept (only the imported messages, in the
locker, until it expires or the person deletes it)."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette ≥ 1.x prefers the `httpx2` package and warns when it falls back to httpx
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from fastapi.testclient import TestClient

from fastapi import FastAPI

from collectguard.web import WebSettings, create_app
from webclient import csrf

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
CN = dt.timezone(dt.timedelta(hours=8))
THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您已逾期3天，请还款"


def ms(day: int, hour: int) -> int:
    return int(dt.datetime(2026, 1, day, hour, tzinfo=CN).timestamp() * 1000)


BACKUP = (
    "<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n"
    f'<sms address="10690000" date="{ms(14, 23)}" type="1" body="{THREAT}" />\n'
    f'<sms address="10690000" date="{ms(15, 9)}" type="1" body="{PLAIN}" />\n'
    f'<sms address="10690000" date="{ms(15, 10)}" type="1" body="{PLAIN}" />\n'
    f'<sms address="95555" date="{ms(15, 11)}" type="1" body="您的验证码是1234" />\n'
    "</smses>\n"
).encode()


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(WebSettings(data_dir=tmp_path, secret_key="t", clock=lambda: NOW))


def _uploads_left() -> set[str]:
    """The web app's own temporary folders (uploads, bundles, letters) — not those of other
    collectguard processes that may run at the same time (an audit's work folder)."""
    return {
        p.name
        for prefix in ("cg-upload-", "cg-bundle-", "cg-letter-")
        for p in Path(tempfile.gettempdir()).glob(prefix + "*")
    }


def test_backup_becomes_cases_per_lender_with_a_timeline(app: FastAPI, tmp_path: Path) -> None:
    before = _uploads_left()
    client = TestClient(app)
    r = client.post(
        "/backup",
        data={"csrf_token": csrf(client, "/backup")},
        files={"backup": ("sms.xml", BACKUP)},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/locker"  # reload-safe
    page = client.get("/locker").text
    assert "我的证据柜" in page and "招联" in page and "共 1 个案件" in page
    assert "2026-01-14" in page and "2026-01-15" in page and 'class="bar-sms w' in page
    assert "威胁恐吓" in page and "临时保存" in page
    assert _uploads_left() == before  # the uploaded file itself is not kept
    assert [p.name for p in (tmp_path / "lockers").iterdir()]  # the messages are, in the locker


def test_bundle_download_is_a_zip(app: FastAPI) -> None:
    client = TestClient(app)
    r = client.post(
        "/backup/bundle",
        data={"csrf_token": csrf(client, "/backup")},
        files={"backup": ("sms.xml", BACKUP)},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="evidence-')
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        names = z.namelist()
    assert names and any(n.endswith(".json") for n in names)


def test_wrong_type_empty_and_broken_files_get_clear_errors(app: FastAPI) -> None:
    client = TestClient(app)
    token = csrf(client, "/backup")
    for name, data, message in (
        ("photo.png", b"\x89PNG\r\n\x1a\n", "无法识别这个文件"),
        ("sms.xml", b"", "文件是空的"),
        ("sms.db", b"not sqlite at all", "无法识别这个文件"),
    ):
        r = client.post("/backup", data={"csrf_token": token}, files={"backup": (name, data)})
        assert r.status_code == 400 and message in r.text, (name, r.status_code)
        assert "Traceback" not in r.text
    r = client.post(
        "/backup/bundle", data={"csrf_token": token}, files={"backup": ("a.txt", "你好".encode())}
    )
    assert r.status_code == 400 and "没有找到催收信息" in r.text
    assert not (tmp_path_of(app) / "lockers").exists()  # refused uploads open no locker


def tmp_path_of(app: FastAPI) -> Path:
    data_dir: Path = app.state.web.settings.data_dir
    return data_dir


def test_upload_size_limit_and_csrf(tmp_path: Path) -> None:
    settings = WebSettings(data_dir=tmp_path, secret_key="t", max_upload_bytes=2048)
    client = TestClient(create_app(settings))
    token = csrf(client, "/backup")
    big = BACKUP + b"<!--" + b"x" * 4096 + b"-->"
    r = client.post("/backup", data={"csrf_token": token}, files={"backup": ("sms.xml", big)})
    assert r.status_code == 413
    r = client.post("/backup", files={"backup": ("sms.xml", BACKUP)})
    assert r.status_code == 403


def test_a_chunked_upload_over_the_limit_gets_413(tmp_path: Path) -> None:
    """A body without Content-Length is counted while it is read: past the limit the answer
    is the same 413 as for a declared length, and nothing is imported."""
    settings = WebSettings(data_dir=tmp_path, secret_key="t", max_upload_bytes=2048)
    client = TestClient(create_app(settings))
    token = csrf(client, "/backup")
    boundary = "cg-test-boundary"

    def body(payload: bytes) -> bytes:
        return (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{token}\r\n--{boundary}\r\n"
                'Content-Disposition: form-data; name="backup"; filename="sms.xml"\r\n'
                "Content-Type: text/xml\r\n\r\n"
            ).encode()
            + payload
            + f"\r\n--{boundary}--\r\n".encode()
        )

    def chunked(data: bytes) -> Iterator[bytes]:  # no length: sent as it is produced
        for start in range(0, len(data), 512):
            yield data[start : start + 512]

    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    big = BACKUP + b"<!--" + b"x" * 4096 + b"-->"
    r = client.post("/backup", content=chunked(body(big)), headers=headers)
    assert r.status_code == 413 and r.text == "请求内容过大 / Request body too large"
    assert not (tmp_path / "lockers").exists()
    # a small chunked upload still goes through
    r = client.post("/backup", content=chunked(body(BACKUP)), headers=headers)
    assert r.status_code == 200 and "我的证据柜" in r.text
