"""A bundle unzipped and zipped again (zip -r, Windows' "Send to compressed folder", macOS'
"Compress") still verifies: directory entries, another member order or compression and
macOS' extras change no file the manifest lists. Anything else not listed is inserted."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from collectguard.evidence import open_store
from collectguard.evidence.bundle import verify_bundle
from collectguard.evidence.cli import evidence_app
from collectguard.evidence.errors import EvidenceError
from collectguard.evidence.ingest import Importer
from test_evidence_bundle import export, ms

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One exported bundle (with letters/ and attachments/ folders) for every variant."""
    import base64

    tmp = tmp_path_factory.mktemp("rezip")
    store = open_store(f"sqlite:///{tmp / 'e.sqlite3'}")
    f = tmp / "b.xml"
    f.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<smses>\n"
        f'<sms address="10690000" date="{ms(14, 23)}" type="1" '
        'body="【招联金融】您的借款已逾期，今天再不还款就上门，通知你的家人和单位。" />\n'
        f'<mms date="{ms(16, 12)}" msg_box="1" address="10690000"><parts>'
        '<part ct="text/plain" text="【招联金融】您已逾期，见附件律师函，再不还款就上门" />'
        f'<part ct="image/png" cl="a.png" data="{base64.b64encode(PNG).decode()}" />'
        "</parts></mms>\n</smses>\n",
        encoding="utf-8",
    )
    Importer(store).import_file(f)
    path = tmp / "case.zip"
    export(store, path)
    store.close()
    assert verify_bundle(path).ok
    yield path


def files_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(
    src: Path,
    dst: Path,
    *,
    dirs: bool = True,
    extra: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    shuffle: int | None = None,
    folder: str = "",
) -> Path:
    """`src` unzipped and zipped again as an archiver does: a directory entry before the
    files of each folder, `extra` members, another compression or member order."""
    files = files_of(src)
    names = list(files)  # the exported order
    if shuffle is not None:
        random.Random(shuffle).shuffle(names)
    with zipfile.ZipFile(dst, "w", compression) as z:
        if folder:
            z.writestr(zipfile.ZipInfo(folder), b"")
        made: set[str] = set()
        for name in names:
            parent = name.rpartition("/")[0]
            if dirs and parent and parent + "/" not in made:
                made.add(parent + "/")
                z.writestr(zipfile.ZipInfo(folder + parent + "/"), b"")
            z.writestr(folder + name, files[name])
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return dst


APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)


def test_directory_entries_are_ignored(bundle: Path, tmp_path: Path) -> None:
    path = rezip(bundle, tmp_path / "re.zip")
    with zipfile.ZipFile(path) as z:  # the variant really has them
        assert {"letters/", "attachments/"} <= set(z.namelist())
    report = verify_bundle(path)
    assert report.ok, report.problems  # was: "letters/: not in the manifest (inserted)"
    assert report.ignored == [] and report.files == len(files_of(bundle)) - 1
    assert report.describe().startswith("证据包完整 / bundle intact")
    assert "letters/" not in report.describe()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
@pytest.mark.parametrize("shuffle", [None, 1, 2])
def test_member_order_and_compression_do_not_matter(
    bundle: Path, tmp_path: Path, compression: int, shuffle: int | None
) -> None:
    path = rezip(bundle, tmp_path / "re.zip", compression=compression, shuffle=shuffle)
    with zipfile.ZipFile(path) as z:
        stored = [i for i in z.infolist() if not i.is_dir()]
    assert {i.compress_type for i in stored} == {compression}
    with zipfile.ZipFile(bundle) as z:
        exported = z.namelist()
    assert sorted(i.filename for i in stored) == sorted(exported)
    assert ([i.filename for i in stored] != exported) == (shuffle is not None)
    report = verify_bundle(path)
    assert report.ok, report.problems


def test_macos_extras_are_ignored_and_named(bundle: Path, tmp_path: Path) -> None:
    extra = {
        "__MACOSX/": b"",
        "__MACOSX/._manifest.json": APPLE_DOUBLE,
        "__MACOSX/letters/._lender_complaint.zh.md": APPLE_DOUBLE,
        ".DS_Store": b"Bud1" + bytes(32),
        "letters/.DS_Store": b"Bud1" + bytes(32),
    }
    path = rezip(bundle, tmp_path / "re.zip", extra=extra)
    report = verify_bundle(path)
    assert report.ok, report.problems
    named = [n for n in extra if not n.endswith("/")]
    assert report.ignored == named
    text = report.describe()
    assert text.startswith("证据包完整 / bundle intact")
    for name in named:
        assert (
            f"  {name}: 压缩软件附加的文件，不在清单中，已忽略 / added by the archiving tool"
            in text
        )
    # the CLI's JSON carries them too
    app = typer.Typer()
    app.add_typer(evidence_app, name="evidence")
    r = CliRunner().invoke(app, ["evidence", "verify-bundle", str(path), "--json"])
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout)["ignored"] == named


def test_a_bundle_folder_zipped_whole_verifies(bundle: Path, tmp_path: Path) -> None:
    """Finder's "Compress" of the unzipped folder puts every file under that folder."""
    extra = {"__MACOSX/case/._manifest.json": APPLE_DOUBLE, "case/.DS_Store": b"Bud1"}
    path = rezip(bundle, tmp_path / "re.zip", folder="case/", extra=extra)
    report = verify_bundle(path)
    assert report.ok, report.problems
    assert report.folder == "case/" and report.files == len(files_of(bundle)) - 1
    assert "every file is inside the folder case/" in report.describe()
    # a file beside the folder is not the bundle's: no folder is assumed, no manifest found
    rezip(bundle, tmp_path / "two.zip", folder="case/", extra={"other.txt": b"x"})
    with pytest.raises(EvidenceError, match=r"no manifest\.json"):
        verify_bundle(tmp_path / "two.zip")
    # a file inside the folder that the manifest does not list is inserted
    rezip(bundle, tmp_path / "ins.zip", folder="case/", extra={"case/letters/x.md": b"x"})
    bad = verify_bundle(tmp_path / "ins.zip")
    assert not bad.ok and "letters/x.md: 清单外的文件 / not in the manifest (inserted)" in (
        bad.problems
    )


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"notes.txt": b"hi"}, "notes.txt: 清单外的文件 / not in the manifest (inserted)"),
        ({"letters/forged.md": b"x"}, "letters/forged.md: 清单外的文件"),
        ({"DS_Store": b"x"}, "DS_Store: 清单外的文件"),
        ({"MACOSX/._x": b"x"}, "MACOSX/._x: 清单外的文件"),
        ({"x__MACOSX/._x": b"x"}, "x__MACOSX/._x: 清单外的文件"),
        ({"letters/.DS_Store.md": b"x"}, "letters/.DS_Store.md: 清单外的文件"),
        # a directory entry with content is a file, whatever its name
        ({"letters/": b"not empty"}, "letters/: 清单外的文件"),
    ],
)
def test_other_files_are_still_inserted(
    bundle: Path, tmp_path: Path, extra: dict[str, bytes], problem: str
) -> None:
    path = rezip(bundle, tmp_path / "re.zip", dirs=False, extra=extra)
    report = verify_bundle(path)
    assert not report.ok
    assert any(p.startswith(problem) for p in report.problems), report.problems
    assert report.ignored == []


def test_extras_do_not_hide_tampering(bundle: Path, tmp_path: Path) -> None:
    files = files_of(bundle)
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(edited, "w") as z:
        for name, data in files.items():
            z.writestr(name, data + b"x" if name == "messages.csv" else data)
    path = rezip(edited, tmp_path / "re.zip", extra={"__MACOSX/._messages.csv": APPLE_DOUBLE})
    report = verify_bundle(path)
    assert not report.ok and report.ignored == ["__MACOSX/._messages.csv"]
    text = report.describe()
    assert text.startswith("证据包被改动 / bundle tampered")
    assert (
        "messages.csv: 内容与清单哈希不符" in text and "__MACOSX/._messages.csv: 压缩软件" in text
    )


def test_a_name_held_twice_is_reported(bundle: Path, tmp_path: Path) -> None:
    path = rezip(bundle, tmp_path / "re.zip")
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "a") as z:
        z.writestr("report.pdf", files_of(bundle)["report.pdf"])
    report = verify_bundle(path)
    assert not report.ok
    assert "report.pdf: 在证据包中出现 2 次 / held 2 times in the bundle (inserted)" in (
        report.problems
    )


@pytest.mark.parametrize("flags", [["-qr"], ["-qr0"], ["-qrD"]])
def test_info_zip_rezip_verifies(bundle: Path, tmp_path: Path, flags: list[str]) -> None:
    """The QA report: `unzip bundle.zip -d rz; cd rz; zip -qr ../re.zip .`."""
    if shutil.which("zip") is None or shutil.which("unzip") is None:
        pytest.fail("zip and unzip not found: `.ci/run` installs them (Debian: zip, unzip)")
    rz = tmp_path / "rz"
    subprocess.run(["unzip", "-q", str(bundle), "-d", str(rz)], check=True)
    (rz / ".DS_Store").write_bytes(b"Bud1")
    subprocess.run(["zip", *flags, str(tmp_path / "re.zip"), "."], cwd=rz, check=True)
    app = typer.Typer()
    app.add_typer(evidence_app, name="evidence")
    r = CliRunner().invoke(app, ["evidence", "verify-bundle", str(tmp_path / "re.zip")])
    assert r.exit_code == 0, r.stdout
    assert "证据包完整 / bundle intact" in r.stdout and ".DS_Store: 压缩软件附加的文件" in r.stdout
