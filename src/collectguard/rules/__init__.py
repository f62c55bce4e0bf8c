"""Rule packs: the one open rule set both sides are held to.

Owns the pack schema (`model`), loading, overlays and compiled matching (`pack`), and the
Semgrep-style annotated fixtures every rule ships with (`fixtures`). Packs are data
(`packs/*.yaml`); nothing here knows about the CLI, web or storage.
"""

from collectguard.rules.model import (
    HISTORY_BUILTINS,
    Citation,
    Detect,
    Localized,
    Rule,
    RulePackFile,
    Signal,
)
from collectguard.rules.pack import (
    BUILTIN_PACKS,
    Hit,
    RulePack,
    fixture_text,
    history_fixture_text,
    load_builtin,
    load_pack_file,
    resolve_pack,
)

__all__ = [
    "BUILTIN_PACKS",
    "HISTORY_BUILTINS",
    "Citation",
    "Detect",
    "Hit",
    "Localized",
    "Rule",
    "RulePack",
    "RulePackFile",
    "Signal",
    "fixture_text",
    "history_fixture_text",
    "load_builtin",
    "load_pack_file",
    "resolve_pack",
]
