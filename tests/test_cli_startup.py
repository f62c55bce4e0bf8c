"""Start-up cost of the package and the CLI: what gets imported, not how long it takes.

Importing `collectguard` must not compile the analyzer, and a command must import only what
it uses: `--help` of the evidence, gateway, audit and plan commands never loads the
analyzer, the letter/PDF stack, FastAPI or DuckDB. Each check runs in a fresh interpreter,
since this test process has long imported everything. Timings are measured, not tested.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ANALYZER = "collectguard.analyze.analyzer"

# Loaded by no `--help`: the analyzer, the letter/bundle/PDF/DOCX/chart stack, the web
# framework and server, the audit's DuckDB.
NOT_FOR_HELP = (
    ANALYZER,
    "collectguard.evidence.bundle",
    "collectguard.evidence.letters",
    "collectguard.evidence.ingest",
    "weasyprint",
    "matplotlib",
    "docx",
    "fastapi",
    "uvicorn",
    "duckdb",
)

# Runs the console-script entry point with the given arguments, then prints the exit code
# and the names in sys.modules as the last line.
_RUN_CLI = """
import json, sys
sys.argv = ["collectguard", *json.loads(sys.argv[1])]
from collectguard.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
print()
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _python(code: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _run_cli(*args: str) -> tuple[int, str, set[str]]:
    out = _python(_RUN_CLI, json.dumps(args))
    text, _, last = out.rstrip("\n").rpartition("\n")
    data = json.loads(last)
    return int(data["code"]), text, set(data["modules"])


def test_importing_the_package_does_not_load_the_analyzer() -> None:
    out = _python(
        "import sys, collectguard\n"
        "from collectguard import CollectguardError, InputError, __version__\n"
        f"print({ANALYZER!r} in sys.modules, 'collectguard.analyze.result' in sys.modules)\n"
    )
    assert out.split() == ["False", "False"]


def test_importing_the_cli_app_does_not_load_the_analyzer() -> None:
    # The sub-apps mounted depend on the command line; a core command mounts none of them.
    out = _python(
        "import sys\n"
        "sys.argv = ['collectguard', 'check', '--help']\n"
        "import collectguard, collectguard.cli.app\n"
        f"print({ANALYZER!r} in sys.modules)\n"
    )
    assert out.split() == ["False"]


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("evidence", "verify", "--help"), "Verify the evidence chain"),
        (("evidence", "--help"), "verify-bundle"),
        (("evidence", "letter", "--help"), "cfpb_narrative"),
        (("gateway", "--help"), "Pre-send compliance gateway"),
        (("audit", "--help"), "generate"),
        (("plan", "--help"), "propose"),
        (("check", "--help"), "--jsonl"),
        (("--help",), "serve"),  # every sub-app mounted, the web package's `serve` included
    ],
)
def test_help_imports_only_what_it_shows(args: tuple[str, ...], expect: str) -> None:
    code, text, modules = _run_cli(*args)
    assert code == 0, text
    assert expect in text
    assert sorted(modules.intersection(NOT_FOR_HELP)) == []


def test_verifying_a_store_does_not_load_the_analyzer(tmp_path: Path) -> None:
    from collectguard.evidence.store import open_store

    db = tmp_path / "evidence.sqlite3"
    with open_store(str(db)) as store:
        store.ledger.append("message", {"kind": "message", "text": "您的借款已逾期"})
    code, text, modules = _run_cli("evidence", "verify", "--db", str(db))
    assert code == 0, text
    assert "intact: 1 entries" in text
    assert ANALYZER not in modules and "collectguard.evidence.ingest" not in modules


def test_a_gateway_check_does_not_load_the_web_framework(tmp_path: Path) -> None:
    code, text, modules = _run_cli(
        "gateway",
        "check",
        "--db",
        str(tmp_path / "gateway.db"),
        "--text",
        "【招联金融】您的借款已到期，请通过招联金融App还款。",
        "--phone",
        "13812345678",
        "--tz",
        "Asia/Shanghai",
        "--jurisdiction",
        "cn",
        "--at",
        "2030-01-07T10:00:00+08:00",
    )
    assert code == 0, text
    assert "allow" in text
    assert "fastapi" not in modules and "uvicorn" not in modules


def test_version_does_not_load_the_analyzer() -> None:
    code, text, modules = _run_cli("version")
    assert code == 0, text
    assert text.startswith("collectguard ") and "rule packs: cn@" in text
    assert ANALYZER not in modules


def test_public_api_still_resolves() -> None:
    out = _python(
        "import collectguard\n"
        "from collectguard import Analyzer, CheckInput, CheckResult, Finding, Span\n"
        "result = Analyzer.default().check('您的借款已逾期')\n"
        "assert isinstance(result, CheckResult), type(result)\n"
        "assert isinstance(result.is_collection, bool), type(result.is_collection)\n"
        "assert CheckInput(text='x').text == 'x'\n"
        "assert Span == tuple[int, int] and Finding.__name__ == 'Finding'\n"
        "assert all(hasattr(collectguard, name) for name in collectguard.__all__)\n"
        "assert set(collectguard.__all__) <= set(dir(collectguard))\n"
        "try:\n"
        "    collectguard.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    assert out.strip() == "module 'collectguard' has no attribute 'no_such_name'"


def test_public_names_are_unchanged() -> None:
    import collectguard
    from collectguard.analyze.analyzer import Analyzer
    from collectguard.analyze.result import CheckInput, CheckResult
    from collectguard.findings import Finding

    assert collectguard.__all__ == [
        "Analyzer",
        "CheckInput",
        "CheckResult",
        "CollectguardError",
        "Finding",
        "InputError",
        "RegistryError",
        "RulePackError",
        "Span",
        "__version__",
    ]
    assert collectguard.Analyzer is Analyzer
    assert collectguard.CheckInput is CheckInput
    assert collectguard.CheckResult is CheckResult
    assert collectguard.Finding is Finding


def test_evidence_cli_help_constants_match_their_sources() -> None:
    """The evidence CLI copies these for its option help (the originals load too much)."""
    from collectguard.evidence import cli, letters, sources

    assert cli._FORMATS == sources.FORMATS
    assert cli._LETTER_KINDS == tuple(letters.LETTER_KINDS)


def test_the_heap_is_frozen_before_the_interpreter_shuts_down() -> None:
    """`main` hands what a command built to the OS: the collector's shutdown passes would
    otherwise walk all of it (≈ 0.5 s after an `evidence` command)."""
    out = _python(
        "import gc, sys\n"
        "sys.argv = ['collectguard', 'version']\n"
        "from collectguard.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(gc.get_freeze_count())\n"
    )
    assert int(out.strip().splitlines()[-1]) > 10_000
