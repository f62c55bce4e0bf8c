"""Masked runs and template placeholders.

``mask``: characters a source or a sender blanked out — ``***``, ``×××``, ``xxxx``, ``○○``,
``某某`` (and a single 某 after a surname, ``刘某,``), ``REDACTED``, a single ``*`` before a
given name at the start of a clause (``*辉您``). ``placeholder``: template slots left in a
message — ``{0}``, ``{}``, ``{Name}``, ``%s``, ``%1$s``, ``${name}``, ``{{name}}``, ``#code#``.
"""

from __future__ import annotations

import re

from collectguard.extract._common import match_at, orig, word_starts
from collectguard.extract._model import Masked, MaskKind
from collectguard.normalize import NormalizedText

_MASK_RE = re.compile(
    r"(?P<placeholder>\{\{[^{}\n]{1,30}\}\}|\$\{[^{}\n]{1,30}\}|\{[^{}\n]{0,30}\}"
    r"|%[0-9]*\$?[sd](?![a-z])|#[a-z_]{1,20}#)"
    r"|(?P<mask>\*{2,}|×{2,}|(?<![a-z])x{2,}(?![a-z])|[○◯●]+|某{2,}"
    r"|(?<=[\u4e00-\u9fff])某(?=[,:;!。 ]|先生|女士|同志|$)"
    r"|[\[<(]?(?<![a-z])redacted(?![a-z])[\]>)]?"
    r"|(?<![^\s【】\[\]:,;。!?\"'(])\*(?=[\u4e00-\u9fff]))"
)
# Where a mask can start (see `match_at`); a branch of literals, scanned fast.
_ANCHOR_RE = re.compile(r"\*|×|xx|○|◯|●|某|redacted|\[|<|\(|\{|\$\{|%|#")
_QUICK = frozenset("*×x○◯●某{%#$")
_KINDS: dict[str, MaskKind] = {"mask": "mask", "placeholder": "placeholder"}


def find_masked(norm: NormalizedText) -> list[Masked]:
    text = norm.text
    if _QUICK.isdisjoint(text) and "redacted" not in text:
        return []
    out: list[Masked] = []
    redacted = "redacted" in text
    starts = [s for s in word_starts(_ANCHOR_RE, text) if redacted or text[s] not in "[<("]
    for m in match_at(_MASK_RE, text, starts):
        group = m.lastgroup
        if group is None:
            continue
        span, original = orig(norm, *m.span())
        out.append(Masked(span, original, _KINDS[group]))
    return out
