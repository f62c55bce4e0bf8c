"""Shared test fixtures: a throwaway PostgreSQL server for the stores that can live there
(the evidence store, the ledger). Missing server binaries are a FAILURE (`.ci/run` installs
postgresql), never a skip."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collectguard.evidence.store import EvidenceStore

PG_DIRS = (
    "/usr/local/bin",
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


# ---------------------------------------------------------------------------- PostgreSQL
def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in PG_DIRS:
        if Path(d, name).is_file():
            return str(Path(d, name))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields a base URL without database name."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail(
            "PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in "
            f"{', '.join(PG_DIRS)}; `.ci/run` installs postgresql — run it, or install the "
            "postgresql package (Debian: apt-get install postgresql)"
        )
    base = Path(tempfile.mkdtemp(prefix="cg-pg-"))
    base.chmod(0o755)
    data, sock = base / "data", base / "sock"
    data.mkdir()
    sock.mkdir()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
        ent = pwd.getpwnam(user)
        for p in (base, data, sock):
            os.chown(p, ent.pw_uid, ent.pw_gid)
        run_as = ["runuser", "-u", user, "--"]
    port = _free_port()
    log = base / "server.log"
    subprocess.run(
        [
            *run_as,
            initdb,
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "cg",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
    )
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        [*run_as, pg_ctl, "-D", str(data), "-o", opts, "-l", str(log), "-w", "-t", "60", "start"],
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        detail = log.read_text(errors="replace") if log.exists() else started.stderr
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {started.stderr}\n{detail}")
    try:
        yield f"postgresql+psycopg://cg@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EvidenceStore]:
    """A fresh SQLite evidence store with its attachments folder, closed afterwards (modules
    that need their own store, e.g. on PostgreSQL too, define a `store` fixture of their own)."""
    from collectguard.evidence import open_store

    s = open_store(f"sqlite:///{tmp_path / 'evidence.sqlite3'}", attachments_dir=tmp_path / "a")
    try:
        yield s
    finally:
        s.close()
