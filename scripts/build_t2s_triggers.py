"""Rebuild ``collectguard/normalize/data/t2s_triggers.txt`` from the installed OpenCC.

A trigger is a character that OpenCC's ``t2s`` conversion can change: a key of its
character dictionaries whose value differs, or a character that one of its phrase entries
rewrites (``深沈`` → ``深沉`` changes 沈, which alone stays 沈). A text with no trigger
character converts to itself, so `normalize` skips OpenCC for it. The test
``tests/test_normalize.py::test_t2s_triggers_match_installed_opencc`` runs this derivation
against the installed OpenCC and fails when the shipped file is stale.

Usage: .venv/bin/python scripts/build_t2s_triggers.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import opencc

OUT = Path(__file__).resolve().parents[1] / "src/collectguard/normalize/data/t2s_triggers.txt"


def _dict_files() -> list[Path]:
    share = Path(opencc.__file__).parent / "clib" / "share" / "opencc"
    config = json.loads((share / "t2s.json").read_text(encoding="utf-8"))
    files = [d["dict"]["file"] for d in config.get("normalization", [])]
    for step in config["conversion_chain"]:
        d = step["dict"]
        files.extend(x["file"] for x in d.get("dicts", [d]))
    return [share / f for f in files]


def _entries(ocd2: Path) -> list[tuple[str, str]]:
    clib = Path(opencc.__file__).parent / "clib"
    env = dict(os.environ, LD_LIBRARY_PATH=str(clib / "lib64"))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dict.txt"
        command = [str(clib / "bin" / "opencc_dict"), "-i", str(ocd2), "-o", str(out)]
        subprocess.run(
            [*command, "-f", "ocd2", "-t", "text"],
            check=True,
            env=env,
            capture_output=True,
        )
        rows = []
        for line in out.read_text(encoding="utf-8").splitlines():
            key, _, values = line.partition("\t")
            rows.append((key, values.split(" ")[0]))
        return rows


def triggers() -> set[str]:
    """Every character the installed OpenCC ``t2s`` conversion may change."""
    out: set[str] = set()
    for path in _dict_files():
        for key, value in _entries(path):
            if len(key) == 1:
                if value != key:
                    out.add(key)
            elif len(key) != len(value):
                out.update(key)
            else:
                out.update(k for k, v in zip(key, value, strict=True) if k != v)
    return out


def main() -> int:
    chars = sorted(triggers())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("".join(chars) + "\n", encoding="utf-8")
    print(f"wrote {len(chars)} trigger characters to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
