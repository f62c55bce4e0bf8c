"""The evidence sub-app: import → cases → case show → verify, exit codes and errors."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import typer
from sqlalchemy import update
from typer.testing import CliRunner

from collectguard.evidence import open_store
from collectguard.evidence.cli import evidence_app
from collectguard.evidence.models import Message

CN = dt.timezone(dt.timedelta(hours=8))
app = typer.Typer()
app.add_typer(evidence_app, name="evidence")
runner = CliRunner()

THREAT = "【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。"
PLAIN = "【招联金融】您的借款已逾期3天，请今日还款。"


def ms(d: int, h: int, mi: int = 0) -> int:
    return int(dt.datetime(2025, 1, d, h, mi, tzinfo=CN).timestamp() * 1000)


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "evidence.sqlite3")


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    f = tmp_path / "sms-backup.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n<smses count=\"3\">\n"
        f'<sms address="10690000" date="{ms(14, 23, 15)}" type="1" body="{THREAT}" />\n'
        f'<sms address="10690000" date="{ms(15, 9)}" type="1" body="{PLAIN}" />\n'
        f'<sms address="13800000000" date="{ms(15, 9)}" type="1" body="晚上吃饭吗" />\n'
        "</smses>\n",
        encoding="utf-8",
    )
    return f


def invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    r = runner.invoke(app, ["evidence", *args], input=stdin)
    return r.exit_code, r.stdout, r.stderr


def test_import_cases_show_verify(db: str, backup: Path) -> None:
    code, out, _ = invoke("import", str(backup), "--db", db, "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["new"], report["duplicate"], report["rejected"]) == (3, 0, 0)
    assert report["status"] == "complete" and len(report["source_sha256"]) == 64

    code, out, _ = invoke("import", str(backup), "--db", db)
    assert code == 0 and "重复 3" in out and "duplicate 3" in out

    code, out, _ = invoke("cases", "--db", db, "--json")
    assert code == 0
    cases = json.loads(out)
    assert len(cases) == 1  # the dinner invitation is no case
    case = cases[0]
    assert case["messages"] == 2 and case["night_messages"] == 1
    assert case["rule_counts"]["cn.hours"] == 1
    assert case["max_severity"] in ("illegal", "crime")

    code, out, _ = invoke("case", "show", case["key"], "--db", db, "--json")
    assert code == 0
    shown = json.loads(out)
    assert [t["kind"] for t in shown["timeline"]] == ["message", "message"]
    assert shown["timeline"][0]["at"].startswith("2025-01-14T15:15")
    assert "cn.hours" in shown["timeline"][0]["violations"]
    assert shown["per_day"] == {
        "2025-01-14": {"sms": 1, "call": 0},
        "2025-01-15": {"sms": 1, "call": 0},
    }

    code, out, _ = invoke("case", "show", case["key"], "--db", db)
    assert code == 0 and "时间线 / timeline" in out and "2025-01-14 23:15" in out
    assert "per day (Asia/Shanghai)" in out  # the text view shows the daily counts too
    rows = [line for line in out.splitlines() if "2025-01-15 " in line and "│" in line]
    assert any(line.split("│")[1].strip() == "2025-01-15" for line in rows), out

    code, out, _ = invoke("verify", "--db", db)
    assert code == 0 and "intact" in out

    store = open_store(db)
    with store.engine.begin() as c:
        c.execute(update(Message).where(Message.id == 2).values(text="已还清"))
    store.close()
    code, out, _ = invoke("verify", "--db", db, "--json")
    assert code == 1
    result = json.loads(out)
    assert not result["ok"]
    assert [(p["item_id"], p["seq"], p["problem"]) for p in result["item_problems"]] == [
        (2, 2, "edited")
    ]


def test_import_of_broken_file_exits_2_and_keeps_what_was_read(db: str, tmp_path: Path) -> None:
    f = tmp_path / "cut.xml"
    f.write_text(
        "<?xml version='1.0'?>\n<smses>\n"
        f'<sms address="10690000" date="{ms(14, 10)}" type="1" body="{THREAT}" />\n'
        f'<sms address="10690000" date="{ms(14, 11)}" type="1" bo',
        encoding="utf-8",
    )
    code, out, err = invoke("import", str(f), "--db", db)
    assert code == 2
    assert "line 4" in err and "错误 / error" in err
    assert "新增 1" in out and "re-run" in out
    code, out, _ = invoke("runs", "--db", db, "--json")
    (run,) = json.loads(out)
    assert code == 0 and run["status"] == "failed" and "line 4" in run["error"]
    assert run["new"] == 1 and "record 1" in run["resume_position"]
    code, out, _ = invoke("runs", "--db", db)
    assert code == 0 and "re-import" in out
    f.write_text(  # the repaired file: a new run finishes the job
        "<?xml version='1.0'?>\n<smses>\n"
        f'<sms address="10690000" date="{ms(14, 10)}" type="1" body="{THREAT}" />\n'
        f'<sms address="10690000" date="{ms(14, 11)}" type="1" body="{PLAIN}" />\n</smses>\n',
        encoding="utf-8",
    )
    code, out, _ = invoke("import", str(f), "--db", db)
    assert code == 0 and "新增 1" in out and "重复 1" in out
    code, out, _ = invoke("runs", "--db", db, "--json")
    first, second = json.loads(out)
    assert second["status"] == "complete"
    assert first["status"] == "failed" and first.get("finished_by") is None  # another file
    code, out, _ = invoke("runs", "--db", db)
    assert "finished by" not in out  # the broken file's hash differs from the repaired one's


def test_pasted_text_from_stdin(db: str) -> None:
    code, out, _ = invoke(
        "import",
        "-",
        "--db",
        db,
        "--sender",
        "10690000",
        "--at",
        "2025-01-14 23:00",
        "--json",
        stdin=f"{THREAT}\n\n【招联金融】您的借款已逾期3天，请尽快还款\n",
    )
    assert code == 0 and json.loads(out)["new"] == 2
    code, out, _ = invoke("cases", "--db", db, "--json")
    assert json.loads(out)[0]["night_messages"] == 2  # 23:00 read in Asia/Shanghai


def test_relatives_messages_are_third_party_contacts(db: str, backup: Path) -> None:
    assert invoke("import", str(backup), "--db", db, "--recipient", "妈妈")[0] == 0
    code, out, _ = invoke("cases", "--db", db, "--json")
    assert code == 0
    case = json.loads(out)[0]
    assert case["third_party_recipients"] == ["妈妈"]
    assert any(f["rule_id"] == "history.third_party" for f in case["findings"])


def test_bad_options_exit_2(db: str, backup: Path, tmp_path: Path) -> None:
    code, _, err = invoke("import", str(backup), "--db", db, "--map", "nonsense")
    assert code == 2 and "FIELD=COLUMN" in err
    code, _, err = invoke("import", str(tmp_path / "missing.xml"), "--db", db)
    assert code == 2 and "no such file" in err
    code, _, err = invoke("case", "show", "nobody", "--db", db)
    assert code == 2 and "no case" in err
    code, _, err = invoke("cases", "--db", "mysql+nodriver://x/y")
    assert code == 2 and "error" in err


def test_csv_wrong_encoding_message(db: str, tmp_path: Path) -> None:
    f = tmp_path / "export.csv"
    f.write_bytes(("内容,号码\n" + f"{THREAT},10690000\n").encode("gb18030"))
    code, _, err = invoke("import", str(f), "--db", db, "--encoding", "utf-8")
    assert code == 2 and "utf-8" in err and "--encoding" in err
    assert "不是utf-8编码" in "".join(err.split())  # one sentence per language
    code, out, _ = invoke("import", str(f), "--db", db, "--json")  # detected: gb18030
    assert code == 0 and json.loads(out)["new"] == 1


def test_attach_command(db: str, backup: Path, tmp_path: Path) -> None:
    assert invoke("import", str(backup), "--db", db)[0] == 0
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"png")
    code, out, _ = invoke("attach", str(shot), "--case", "zhaolian_cfc", "--db", db, "--json")
    assert code == 0 and json.loads(out)["new"] == 1
    code, _, err = invoke("attach", str(shot), "--db", db)
    assert code == 2 and "--case" in err
    code, _, err = invoke("attach", str(shot), "--message", "999", "--db", db)
    assert code == 2 and "no message 999" in err
    assert invoke("verify", "--db", db)[0] == 0


def test_commands_that_read_refuse_a_store_that_is_not_there(tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "evidnce.db"
    for args in (["verify"], ["cases"], ["runs"], ["case", "show", "x"], ["letter", "x"]):
        code, _, err = invoke(*args, "--db", str(typo))
        assert code == 2 and "no evidence store at" in err and "没有证据库" in err, args
    assert not typo.exists() and not typo.parent.exists()  # nothing created on the way


def test_attach_to_a_case_that_does_not_exist_is_refused(
    db: str, backup: Path, tmp_path: Path
) -> None:
    invoke("import", str(backup), "--db", db)
    shot = tmp_path / "shot.png"
    shot.write_bytes(b"\x89PNG fake")
    code, _, err = invoke("attach", str(shot), "--case", "name:nosuch", "--db", db)
    assert code == 2 and "no case 'name:nosuch'" in err
    code, out, _ = invoke("cases", "--db", db, "--json")
    key = json.loads(out)[0]["key"]
    code, out, _ = invoke("attach", str(shot), "--case", key, "--db", db)
    assert code == 0 and "new 1" in out


def test_letter_and_export_check_the_output_path_first(
    db: str, backup: Path, tmp_path: Path
) -> None:
    invoke("import", str(backup), "--db", db)
    code, out, _ = invoke("cases", "--db", db, "--json")
    key = json.loads(out)[0]["key"]
    code, _, err = invoke("letter", key, "--db", db, "-o", str(tmp_path / "nodir" / "x.pdf"))
    assert code == 2 and "no such folder" in err
    folder = tmp_path / "out"
    folder.mkdir()
    code, _, err = invoke("export", key, "--db", db, "-o", str(folder))
    assert code == 2 and "is a folder" in err
    code, _, err = invoke("export", key, "--db", db, "-o", str(tmp_path / "case.txt"))
    assert code == 2 and ".zip" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [
            Path(db).name,
            "out",
            "sms-backup.xml",
            *[p.name for p in tmp_path.glob("*-wal")],
            *[p.name for p in tmp_path.glob("*-shm")],
        ]
    )  # no .part or other leftovers
    assert list(folder.iterdir()) == []


def test_option_mistakes_are_named(db: str, backup: Path, tmp_path: Path) -> None:
    code, _, err = invoke("import", str(backup), "--db", db, "--map", "body=Message")
    assert code == 2 and "unknown --map field 'body'" in err and "received_at" in err
    code, _, err = invoke("import", str(tmp_path), "--db", db)
    assert code == 2 and "is a folder" in err
    invoke("import", str(backup), "--db", db)
    for args in (["verify", "--db", db], ["verify-bundle", str(tmp_path / "x.zip")]):
        code, _, err = invoke(*args, "--head", "c4c22f70")
        plain = " ".join(re.sub(r"[│╭╮╰╯─]", " ", err).split())  # typer boxes the message
        assert code == 2 and "a chain head is 64 hex characters" in plain, args


def test_calls_read_in_words_in_case_show(db: str, backup: Path, tmp_path: Path) -> None:
    calls = tmp_path / "calls.xml"
    calls.write_text(
        "<?xml version='1.0'?>\n<calls>\n"
        f'<call number="10690000" duration="0" date="{ms(15, 22, 30)}" type="3" />\n'
        "</calls>\n"
    )
    invoke("import", str(backup), "--db", db)
    invoke("import", str(calls), "--db", db)
    code, out, _ = invoke("cases", "--db", db, "--json")
    key = json.loads(out)[0]["key"]
    code, out, _ = invoke("case", "show", key, "--db", db, "--json")
    assert code == 0
    (call,) = [t for t in json.loads(out)["timeline"] if t["kind"] == "call"]
    assert call["summary"] == "未接来电，0 秒 / missed call, 0 s"


def test_a_killed_run_reads_as_finished_once_the_same_file_completes(db: str, backup: Path) -> None:
    from collectguard.evidence.models import ImportRun

    invoke("import", str(backup), "--db", db)
    with open_store(db) as s, s.writer() as w, w.begin():  # as `kill -9` leaves it
        w.execute(update(ImportRun).where(ImportRun.id == 1).values(status="running"))
    code, out, _ = invoke("runs", "--db", db)
    assert code == 0 and "#1 running" in out and "re-import the same" in out
    invoke("import", str(backup), "--db", db)
    code, out, _ = invoke("runs", "--db", db, "--json")
    first, second = json.loads(out)
    assert (first["status"], first["finished_by"], second["status"]) == ("running", 2, "complete")
    code, out, _ = invoke("runs", "--db", db)
    assert "finished by run #2" in " ".join(out.split())


def test_times_before_2000_or_in_the_future_are_kept_and_reported(db: str, tmp_path: Path) -> None:
    f = tmp_path / "odd.xml"
    f.write_text(
        "<?xml version='1.0'?>\n<smses>\n"
        f'<sms address="10690000" date="{ms(14, 10)}" type="1" body="{PLAIN}" />\n'
        '<sms address="10690000" date="1767196800" type="1" body="秒当成毫秒" />\n'  # 1970-01-21
        '<sms address="10690000" date="4102444800000" type="1" body="2100 年" />\n'
        "</smses>\n",
        encoding="utf-8",
    )
    code, out, _ = invoke("import", str(f), "--db", db, "--json")
    report = json.loads(out)
    assert code == 0 and report["new"] == 3 and report["odd_times"] == 2
    positions = report["odd_time_positions"]
    assert len(positions) == 2
    assert "record 2 (line 4)" in positions[0] and "record 3 (line 5)" in positions[1]
    code, out, _ = invoke("import", str(f), "--db", db)
    assert "odd times" not in out  # only new items are reported


def test_another_programs_sqlite_file_is_never_written(tmp_path: Path) -> None:
    import hashlib

    from iosdb import ios_smsdb

    sms = tmp_path / "sms.db"
    ios_smsdb(sms).close()  # an iPhone backup's database, given as --db by mistake
    before = hashlib.sha256(sms.read_bytes()).hexdigest()
    for args in (["verify"], ["cases"], ["import", str(sms)]):
        code, _, err = invoke(*args, "--db", str(sms))
        plain = " ".join(err.split())
        assert code == 2 and "belongs to something else" in plain and "message" in plain, args
    assert hashlib.sha256(sms.read_bytes()).hexdigest() == before
    empty = tmp_path / "empty.db"
    empty.touch()
    code, _, err = invoke("verify", "--db", str(empty))
    assert code == 2 and "is empty, not an evidence store" in " ".join(err.split())
    assert empty.stat().st_size == 0
    code, out, _ = invoke("import", "-", "--db", str(empty), stdin="【招联金融】您已逾期。")
    assert code == 0 and "new 1" in out  # an empty file may become a store by importing


def test_texts_and_names_that_look_like_rich_markup_print_as_they_are(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message holding "[/x]" crashed `case show` (Rich read it as a closing tag) and
    "[red]…[/red]" lost its brackets; a bundle member or file name did the same."""
    import zipfile

    monkeypatch.setenv("COLUMNS", "400")  # the timeline's text column whole

    text = "【招联金融】您的借款已逾期，[/x] [red]再不还款[/red]就上门。"
    code, _, err = invoke(
        "import", "-", "--db", db, "--sender", "10690000", "--at", "2025-01-14 23:15", stdin=text
    )
    assert code == 0, err
    (case,) = json.loads(invoke("cases", "--db", db, "--json")[1])
    code, out, err = invoke("case", "show", case["key"], "--db", db)
    assert code == 0, err
    assert "[/x]" in out and "[red]" in out
    code, out, _ = invoke("cases", "--db", db)
    assert code == 0 and case["key"] in out
    code, _, err = invoke("case", "show", "x[/y]", "--db", db)
    assert code == 2 and "x[/y]" in err

    bundle = tmp_path / "b.zip"
    assert invoke("export", case["key"], "--db", db, "-o", str(bundle))[0] == 0
    with zipfile.ZipFile(bundle, "a") as z:
        z.writestr("a[/x][red]b", b"planted")
    code, out, _ = invoke("verify-bundle", str(bundle))
    assert code == 1 and "a[/x][red]b" in out and "inserted" in out
