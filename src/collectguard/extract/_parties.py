"""Third parties named in a message: relatives, employer, contacts, community, authorities,
public exposure.

The term lists live in ``data/parties.yaml``; they are normalized like message text and
compiled once, at import, into one Aho-Corasick automaton. Overlapping hits resolve
leftmost-longest; Latin terms match only as whole words
(and two-letter ones such as ``HR`` only in capitals).
"""

from __future__ import annotations

import ahocorasick

from collectguard._yaml import safe_load as safe_yaml
from collectguard.extract._common import orig, read_data
from collectguard.extract._model import PartyMention, PartyRole
from collectguard.normalize import NormalizedText, normalize

_ROLES: dict[str, PartyRole] = {
    "relative": "relative",
    "employer": "employer",
    "contacts": "contacts",
    "community": "community",
    "authority": "authority",
    "public": "public",
}


def _build() -> tuple[ahocorasick.Automaton, dict[str, PartyRole]]:
    raw = safe_yaml(read_data("parties.yaml"))
    if not isinstance(raw, dict):
        raise ValueError("parties.yaml: expected a mapping of role -> list of terms")
    terms: dict[str, PartyRole] = {}
    for role_name, items in raw.items():
        role = _ROLES.get(str(role_name))
        if role is None or not isinstance(items, list):
            raise ValueError(f"parties.yaml: unknown role or bad list: {role_name!r}")
        for item in items:
            term = normalize(str(item)).text.strip()
            if term:
                terms.setdefault(term, role)
    automaton = ahocorasick.Automaton()
    for term, role in terms.items():
        automaton.add_word(term, (len(term), term, role, term.isascii()))
    automaton.make_automaton()
    return automaton, terms


_AUTOMATON, PARTY_TERMS = _build()


def _word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def find_parties(norm: NormalizedText) -> list[PartyMention]:
    text = norm.text
    hits: list[tuple[int, int, str, PartyRole]] = []
    for end_idx, (length, term, role, latin) in _AUTOMATON.iter(text):
        start = end_idx - length + 1
        end = end_idx + 1
        if latin and (
            (start > 0 and _word_char(text[start - 1]))
            or (end < len(text) and _word_char(text[end]))
        ):
            continue
        if latin and length <= 2 and not norm.original_slice(start, end).isupper():
            continue  # "HR" is the department; "24 hr" is an hour
        hits.append((start, end, term, role))
    if not hits:
        return []
    hits.sort(key=lambda h: (h[0], h[0] - h[1]))
    out: list[PartyMention] = []
    last_end = -1
    for start, end, term, role in hits:
        if start < last_end:
            continue
        last_end = end
        span, original = orig(norm, start, end)
        out.append(PartyMention(role, span, original, term))
    return out
