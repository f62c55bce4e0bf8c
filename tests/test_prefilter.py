"""The hyperscan prefilter never changes what a pack finds, only how fast."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectguard.normalize import compact, normalize
from collectguard.rules import BUILTIN_PACKS, fixture_text, load_builtin
from collectguard.rules.fixtures import parse_fixtures
from collectguard.rules.prefilter import Prefilter


def _hits(pack_name: str, text: str, prefilter: bool) -> list[tuple[str, int, int]]:
    pack = load_builtin(pack_name)
    comp = compact(normalize(text), pack.evasions)
    return [(h.item.id, h.start, h.end) for h in pack.scan(comp, prefilter=prefilter)]


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_prefilter_is_exact_on_every_fixture(name: str) -> None:
    for case in parse_fixtures(fixture_text(name), name):
        assert _hits(name, case.text, True) == _hits(name, case.text, False), case.line


# Text drawn from the packs' own vocabulary, so patterns really fire and nearly fire.
_VOCAB = sorted(
    {
        tok
        for name in BUILTIN_PACKS
        for item in (*load_builtin(name).rules, *load_builtin(name).signals)
        for tok in item.detect.terms
    }
    | set("逾期还款通知家人单位上门征信链接验证码，。 0123456789")
    | {"gift card", "arrest", "debt", "your", "wife", "tell her", " "}
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_VOCAB), max_size=25), st.sampled_from(BUILTIN_PACKS))
def test_prefilter_is_exact_on_generated_text(tokens: list[str], name: str) -> None:
    text = "".join(tokens)
    assert _hits(name, text, True) == _hits(name, text, False)


def test_lone_surrogates_fall_back_to_every_pattern() -> None:
    pf = Prefilter([(0, "abc"), (1, "逾期")])
    assert pf.candidates("x\ud800y") == {0, 1}
    if pf.accelerated:
        assert pf.candidates("逾期了") == {1}


def test_a_pattern_hyperscan_refuses_always_runs() -> None:
    pf = Prefilter([(0, "x{70000}"), (1, "逾期")])  # hyperscan: "bounded repeat is too large"
    assert 0 in pf.candidates("zzz")
    assert 1 not in pf.candidates("zzz") or not pf.accelerated
