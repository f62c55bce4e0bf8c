"""SMS signatures (签名): 【…】 anywhere, and ASCII [...] at the start or end of a message.

A 【…】 at the start or end (ignoring punctuation, spaces and an opt-out tail such as
``回T退订``) is the sender's signature; one in the middle is reported as ``inner``. ASCII
brackets count only at the start or end and only around a name-like content of 2–20
characters with Chinese in it (``[建设银行]``, ``[CANA金融]``), so ``[尾号6864]`` in a
sentence is not a signature.
"""

from __future__ import annotations

import re

from collectguard.extract._common import orig
from collectguard.extract._model import Signature, SignaturePosition
from collectguard.normalize import NormalizedText

_CJK_BRACKET = re.compile(r"【([^【】\n]{1,40})】")
_ASCII_BRACKET = re.compile(r"\[([^\[\]\n]{2,20})\]")
_ASCII_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffa-z0-9 ·&\-]+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

_PUNCT = r"[\s\"'“”‘’「」『』<>《》()。.,:;!?、·…~\-]*"
_HEAD_RE = re.compile(_PUNCT)
_OPT_OUT = r"(?:回复?[a-z0-9]{1,10}(?:退订|拒收)|(?:退订|拒收)请?回复?[a-z0-9]{1,10})"
_TAIL_RE = re.compile(rf"{_PUNCT}(?:{_OPT_OUT}{_PUNCT})?")


def _at_start(text: str, start: int) -> bool:
    return start == 0 or _HEAD_RE.fullmatch(text, 0, start) is not None


def _at_end(text: str, end: int) -> bool:
    return end == len(text) or _TAIL_RE.fullmatch(text, end) is not None


def _ascii_name_ok(inner: str) -> bool:
    if not _ASCII_NAME.fullmatch(inner) or _CJK.search(inner) is None:
        return False
    if inner.startswith("尾号"):
        return False
    digits = sum(c.isdigit() for c in inner)
    return digits * 2 <= len(inner)


def find_signatures(norm: NormalizedText) -> list[Signature]:
    text = norm.text
    out: list[tuple[int, Signature]] = []
    if "【" in text:
        for m in _CJK_BRACKET.finditer(text):
            name = m.group(1).strip()
            if not name:
                continue
            s, e = m.span()
            pos: SignaturePosition
            if _at_start(text, s):
                pos = "start"
            elif _at_end(text, e):
                pos = "end"
            else:
                pos = "inner"
            span, original = orig(norm, s, e)
            out.append((s, Signature(name, span, original, pos)))
    if "[" in text:
        for m in _ASCII_BRACKET.finditer(text):
            s, e = m.span()
            inner = m.group(1).strip()
            if not _ascii_name_ok(inner):
                continue
            if _at_start(text, s):
                pos = "start"
            elif _at_end(text, e):
                pos = "end"
            else:
                continue
            span, original = orig(norm, s, e)
            out.append((s, Signature(inner, span, original, pos)))
        out.sort(key=lambda t: t[0])
    return [sig for _, sig in out]
