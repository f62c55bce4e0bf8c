"""The web app as a person uses it: Playwright drives Debian's chromium against a live server.

A real uvicorn server runs in a thread on a free port with a temporary SQLite database and
the demo seed. Set ``COLLECTGUARD_SCREENSHOTS=1`` to refresh ``docs/screenshots/``;
otherwise the screenshots go to a temporary folder (so a test run leaves git clean).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from collectguard.web import WebSettings, create_app
from collectguard.web.demo import seed_demo

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORDS = {"zhangwei": "zw-secret-1", "lina": "ln-secret-2", "wangfang": "wf-secret-3"}
SCAM = "【中国银联】您的征信存在异常，需注销校园贷账户，请点击 http://yl-zx.cc 处理，否则影响征信"
THREAT = "【招联金融】张先生，您的借款已逾期，再不还款我们将上门并通知你的家人和单位！"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
REPO = Path(__file__).parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("web")
    settings = WebSettings(data_dir=data, secret_key="browser-test")
    app = create_app(settings)
    seed_demo(app.state.web.sessions, now=dt.datetime.now(dt.UTC), passwords=PASSWORDS)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Python package `playwright` is missing: `.ci/run` installs it "
            "(pip install playwright; Debian's chromium is used, no browser download)."
        )
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `.ci/run` installs it (apt-get install -y chromium).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("COLLECTGUARD_SCREENSHOTS") == "1":
        return REPO / "docs" / "screenshots"
    return tmp_path_factory.mktemp("screenshots")


def _page(browser: Any, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def _sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORDS[username])
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_paste_a_scam_message_and_see_the_scam_verdict(
    browser: Any, base_url: str, shots: Path
) -> None:
    page = _page(browser, PHONE)
    page.goto(base_url)
    page.screenshot(path=str(shots / "check-phone.png"))
    page.get_by_label("短信内容").fill(SCAM)
    page.get_by_role("button", name="开始检查").click()
    badge = page.locator("[data-authenticity]")
    assert badge.get_attribute("data-authenticity") == "scam"
    assert "疑似诈骗" in badge.inner_text()
    page.screenshot(path=str(shots / "verdict-scam-phone.png"), full_page=True)
    page.context.close()


def test_violations_are_highlighted_and_script_stays_inert(
    browser: Any, base_url: str, shots: Path
) -> None:
    page = _page(browser, DESKTOP)
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))
    page.goto(base_url)
    page.get_by_label("短信内容").fill(THREAT + "<img src=x onerror=alert(1)>")
    page.get_by_label("发送号码或名称").fill("10690000")
    page.get_by_role("button", name="开始检查").click()
    marks = page.locator("mark.hit")
    assert marks.count() >= 2
    assert "上门" in " ".join(marks.all_inner_texts())
    assert page.locator("[data-testid=original] img").count() == 0 and not alerts
    page.screenshot(path=str(shots / "verdict-violations-desktop.png"), full_page=True)
    # keyboard: the skip link is the first stop and moves focus to the content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.context.close()


def test_borrower_requests_a_plan(browser: Any, base_url: str, shots: Path) -> None:
    page = _page(browser, PHONE)
    page.on("dialog", lambda d: d.accept())
    _sign_in(page, base_url, "zhangwei")
    assert "您好，张伟" in page.inner_text("h1")
    page.screenshot(path=str(shots / "portal-phone.png"), full_page=True)
    page.get_by_role("link", name="查看还款方案").first.click()
    page.get_by_label("月收入（元）").fill("8000")
    page.get_by_label("月必要支出（元）").fill("5000")
    page.get_by_role("button", name="重新计算").click()
    page.screenshot(path=str(shots / "plans-phone.png"), full_page=True)
    page.get_by_role("button", name="申请此方案").last.click()
    page.wait_for_load_state()
    assert "已提交还款方案申请" in page.inner_text("main")
    assert "审核中" in page.inner_text("main")
    page.context.close()


def test_another_borrower_cannot_see_the_first_ones_bills(browser: Any, base_url: str) -> None:
    zhang = _page(browser, DESKTOP)
    _sign_in(zhang, base_url, "zhangwei")
    bill_url = zhang.get_by_role("link", name="账单明细").first.get_attribute("href")
    assert bill_url and bill_url.startswith("/portal/bills/")
    zhang.context.close()

    lina = _page(browser, DESKTOP)
    _sign_in(lina, base_url, "lina")
    assert "安心借 12 期" not in lina.inner_text("main")  # Zhang's bill is not listed
    response = lina.goto(base_url + bill_url)
    assert response is not None and response.status == 404
    assert "找不到页面" in lina.inner_text("main")
    assert "张伟" not in lina.content()
    lina.context.close()


def test_staff_inbox_and_english_switch(browser: Any, base_url: str, shots: Path) -> None:
    page = _page(browser, DESKTOP)
    _sign_in(page, base_url, "wangfang")
    assert "投诉收件箱" in page.inner_text("main")
    page.get_by_role("link", name="English").click()
    assert "Complaints inbox" in page.inner_text("main")
    page.goto(base_url + "/")
    assert "Is this collection message real?" in page.inner_text("h1")
    page.screenshot(path=str(shots / "check-en-desktop.png"))
    page.context.close()


def _backup() -> bytes:
    cn = dt.timezone(dt.timedelta(hours=8))

    def ms(day: int, hour: int) -> int:
        return int(dt.datetime(2026, 1, day, hour, tzinfo=cn).timestamp() * 1000)

    rows = [(14, 23, THREAT), (15, 9, "【招联金融】您已逾期3天，请还款"), (16, 10, THREAT)]
    body = "".join(
        f'<sms address="10690000" date="{ms(d, h)}" type="1" body="{text}" />\n'
        for d, h, text in rows
    )
    return f"<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n{body}</smses>\n".encode()


def test_upload_a_backup_and_download_a_bundle(
    browser: Any, base_url: str, shots: Path, tmp_path: Path
) -> None:
    page = _page(browser, PHONE)
    upload = {"name": "sms.xml", "mimeType": "text/xml", "buffer": _backup()}
    page.goto(f"{base_url}/backup")
    page.get_by_label("备份文件").set_input_files(upload)
    with page.expect_download() as info:
        page.get_by_role("button", name="下载证据包（ZIP）").click()
    target = tmp_path / "bundle.zip"
    info.value.save_as(target)
    assert target.read_bytes()[:2] == b"PK"
    page.context.close()


def test_upload_a_backup_keep_it_and_download_a_letter(
    browser: Any, base_url: str, shots: Path, tmp_path: Path
) -> None:
    page = _page(browser, PHONE)
    upload = {"name": "sms.xml", "mimeType": "text/xml", "buffer": _backup()}
    page.goto(f"{base_url}/backup")
    page.screenshot(path=str(shots / "backup-phone.png"))
    page.get_by_label("备份文件").set_input_files(upload)
    page.get_by_role("button", name="按机构分析").click()
    assert "我的证据柜" in page.inner_text("h1")
    assert "招联" in page.inner_text("main") and page.locator(".bar-sms").count() >= 3
    page.screenshot(path=str(shots / "cases-phone.png"), full_page=True)
    # a letter as PDF: a real PDF with the Chinese text of the complaint
    letter = page.locator("[data-letter=lender_complaint]").first
    with page.expect_download() as info:
        letter.get_by_role("link", name="PDF").click()
    pdf = tmp_path / "letter.pdf"
    info.value.save_as(pdf)
    assert pdf.read_bytes()[:4] == b"%PDF"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "投诉函" in text and "招联金融" in text and "威胁恐吓" in text
    # the bundle of this case
    with page.expect_download() as info:
        page.get_by_role("link", name="下载证据包（ZIP）").first.click()
    bundle = tmp_path / "case.zip"
    info.value.save_as(bundle)
    assert bundle.read_bytes()[:2] == b"PK"
    # keep it: the key is shown once, and opens the locker in another browser
    page.get_by_role("button", name="保存证据柜（生成钥匙）").click()
    key = page.get_by_test_id("locker-key").inner_text().strip()
    page.screenshot(path=str(shots / "locker-key-phone.png"))
    page.context.close()
    other = _page(browser, DESKTOP)
    other.on("dialog", lambda d: d.accept())
    other.goto(f"{base_url}/locker")
    other.get_by_label("证据柜钥匙").fill(key)
    other.get_by_role("button", name="打开").click()
    assert "招联" in other.inner_text("main") and "钥匙尾号" in other.inner_text("main")
    other.screenshot(path=str(shots / "locker-desktop.png"), full_page=True)
    # and "delete my data" really deletes it
    other.get_by_label("我确认永久删除").check()
    other.get_by_role("button", name="永久删除").click()
    assert "已全部删除" in other.inner_text("main")
    other.goto(f"{base_url}/locker")
    assert "打开我的证据柜" in other.inner_text("h1")
    other.context.close()


def test_letter_from_the_verdict_card(browser: Any, base_url: str, tmp_path: Path) -> None:
    page = _page(browser, PHONE)
    page.goto(base_url)
    page.get_by_label("短信内容").fill(THREAT)
    page.get_by_role("button", name="开始检查").click()
    page.get_by_label("信函", exact=True).select_option("police_report")
    with page.expect_download() as info:
        page.get_by_role("button", name="下载 Word").click()
    docx = tmp_path / "letter.docx"
    info.value.save_as(docx)
    with zipfile.ZipFile(docx) as z:
        assert "报警" in z.read("word/document.xml").decode("utf-8")
    page.context.close()


AUDIT_LOG = (
    "event_id,occurred_at,debtor_id,debt_id,recipient_role,recipient_phone,recipient_timezone,"
    "channel,direction,outcome,agent_id,team,agency,jurisdiction,text,state\n"
    "E1,2026-01-05T10:00:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,【XX消费金融】您的账单已逾期，请尽快通过官方App还款。,\n"
    "E2,2026-01-05T23:30:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,再不还钱，我们就上门找你，让你全家不得安宁。,\n"
    "E3,2026-01-06T11:00:00+08:00,D2,L2,debtor,13800000002,Asia/Shanghai,call,outbound,"
    "answered,AG2,华东-2组,华东信和,cn,,\n"
    "E4,2026-01-07T23:45:00+08:00,D1,L1,debtor,13800000001,Asia/Shanghai,sms,outbound,"
    "delivered,AG1,华东-1组,华东信和,cn,今天不还款，明天就派人去你家门口堵你。,\n"
    "E5,2026-01-07T15:00:00+08:00,D3,L3,emergency_contact,13900000003,Asia/Shanghai,sms,"
    "outbound,delivered,AG3,北方-1组,北方正信,cn,你朋友欠钱不还，请转告他尽快还款。,\n"
)


def test_staff_uploads_an_audit_log_and_sees_the_report(
    browser: Any, base_url: str, shots: Path
) -> None:
    page = _page(browser, DESKTOP)
    _sign_in(page, base_url, "wangfang")
    page.get_by_role("link", name="审计报告").first.click()
    log = {"name": "calls-2026-01.csv", "mimeType": "text/csv", "buffer": AUDIT_LOG.encode()}
    page.get_by_label("日志文件").set_input_files(log)
    page.get_by_role("button", name="上传并审计").click()
    # the status page refreshes itself until the background audit is done
    page.wait_for_selector('[data-status="done"]', timeout=120_000)
    main = page.inner_text("main")
    assert "催收员评分卡" in main and "AG1" in main and "cn.content.threat_violence" in main
    page.screenshot(path=str(shots / "audit-desktop.png"), full_page=True)
    phone = _page(browser, PHONE)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(page.url)
    phone.screenshot(path=str(shots / "audit-phone.png"), full_page=True)
    phone.context.close()
    page.get_by_role("link", name="完整报告（中文）").click()
    assert "催收通信合规审计报告" in page.inner_text("h1")
    page.go_back()
    page.get_by_role("link", name="审计报告").first.click()
    assert "calls-2026-01.csv" in page.inner_text("main")
    page.goto(f"{base_url}/staff")
    page.screenshot(path=str(shots / "staff-desktop.png"), full_page=True)
    page.context.close()
