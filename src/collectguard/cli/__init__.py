"""The `collectguard` command line (Typer + Rich).

Owns argument parsing, the readable report, the JSONL batch contract's I/O and exit codes.
All analysis is delegated to `collectguard.analyze`; nothing here decides a verdict.

Exit codes: 0 success; 1 a check found what `--fail-on` asked about, or `rules test` failed;
2 usage or input error (bad option, unreadable file, invalid pack or registry);
3 `check --jsonl` finished but some lines were errors (each has its own error line).
"""

from collectguard.cli.app import app, main

__all__ = ["app", "main"]
