"""Rule packs: schema validation with readable errors, overlays, and every shipped fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectguard import Analyzer, CheckInput, RulePackError
from collectguard.rules import (
    BUILTIN_PACKS,
    HISTORY_BUILTINS,
    Rule,
    fixture_text,
    history_fixture_text,
    load_builtin,
    load_pack_file,
)
from collectguard.rules.fixtures import (
    FixtureCase,
    parse_fixtures,
    parse_history_fixtures,
    run_case,
)

BAD = Path(__file__).parent / "data" / "packs_bad"


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_builtin_pack_loads_with_facts(name: str) -> None:
    pack = load_builtin(name)
    assert pack.rules
    for rule in pack.rules:
        assert rule.citation and all(c.strip() for c in rule.citation), rule.id
        assert rule.confidence in ("high", "medium", "low")
        assert rule.title.zh and rule.title.en and rule.explain.zh and rule.explain.en


def _cases() -> list[tuple[str, FixtureCase]]:
    return [
        (name, case)
        for name in BUILTIN_PACKS
        for case in parse_fixtures(fixture_text(name), f"{name}.fixtures.txt")
    ]


@pytest.mark.parametrize(
    ("pack", "case"), _cases(), ids=lambda v: v if isinstance(v, str) else f"line{v.line}"
)
def test_fixture(pack: str, case: FixtureCase) -> None:
    analyzer = Analyzer.default()
    known = {r.id for r in load_builtin(pack).rules}
    outcome = run_case(
        case,
        lambda c: analyzer.check(
            CheckInput(
                text=c.text, sender=c.sender, received_at=c.at, timezone=c.tz, jurisdiction=pack
            )
        ),
        known,
    )
    assert not outcome.false_negatives, f"rule(s) should fire: {outcome.false_negatives}"
    assert not outcome.false_positives, f"unannotated rule(s) fired: {outcome.false_positives}"
    assert not outcome.wrong_expectations, outcome.wrong_expectations


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_every_rule_has_positive_and_negative_fixture(name: str) -> None:
    cases = parse_fixtures(fixture_text(name), name)
    fires = set().union(*(c.must_fire | c.todo_fire for c in cases))
    oks = set().union(*(c.must_not_fire for c in cases))
    for case in parse_history_fixtures(history_fixture_text(name), name):
        fires |= case.must_fire
        oks |= case.must_not_fire
    for rule in load_builtin(name).rules:
        assert rule.id in fires, f"{rule.id} has no '# ruleid:' fixture"
        assert rule.id in oks, f"{rule.id} has no '# ok:' fixture"


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_history_fixtures(name: str) -> None:
    """Timeline fixtures of the history-aware rules (daily caps), judged as the evidence
    locker judges a lender's contacts."""
    from collectguard.evidence.history import evaluate_timeline

    pack = load_builtin(name)
    history_ids = {r.id for r in pack.rules if r.detect.builtin in HISTORY_BUILTINS}
    for case in parse_history_fixtures(history_fixture_text(name), name):
        fired = {f.rule_id for f in evaluate_timeline(case.events, pack, case.tz).findings}
        where = f"{name} history case {case.index}"
        assert case.must_fire <= fired, f"{where}: should fire {case.must_fire - fired}"
        assert not fired & case.must_not_fire, f"{where}: fired {fired & case.must_not_fire}"
        unannotated = (fired & history_ids) - case.must_fire
        assert not unannotated, f"{where}: unannotated history rule(s) fired: {unannotated}"


def test_history_fixture_errors_name_the_case() -> None:
    with pytest.raises(RulePackError, match="case 1: each event needs exactly one"):
        parse_history_fixtures("- {ruleid: [a], events: [{at: '2026-01-01T00:00:00+08:00'}]}", "t")
    with pytest.raises(RulePackError, match="needs a UTC offset"):
        parse_history_fixtures("- {ok: [a], events: [{sms: x, at: '2026-01-01T00:00'}]}", "t")
    with pytest.raises(RulePackError, match="annotate it"):
        parse_history_fixtures("- {events: []}", "t")


@pytest.mark.parametrize(
    ("filename", "message"),
    [
        ("unknown_code.yaml", "unknown violation code 'harassment'"),
        ("bad_regex.yaml", "does not compile"),
        ("no_detect.yaml", "detect needs at least one of terms, patterns or builtin"),
        ("not_mapping.yaml", "must be a YAML mapping"),
        ("broken.yaml", "not valid YAML"),
        ("duplicate_id.yaml", "duplicate id 'cn.test.a'"),
    ],
)
def test_broken_pack_errors_name_the_problem(filename: str, message: str) -> None:
    with pytest.raises(RulePackError) as exc:
        load_pack_file(BAD / filename)
    assert message in str(exc.value)
    assert filename in str(exc.value)


def test_error_names_the_rule_id() -> None:
    with pytest.raises(RulePackError, match=r"rules\[cn\.test\.bad\]\.code"):
        load_pack_file(BAD / "unknown_code.yaml")


def test_overlay_tightens_base_pack(tmp_path: Path) -> None:
    overlay = tmp_path / "cn-strict.yaml"
    overlay.write_text(
        """
pack: cn-strict
version: "1"
extends: cn
jurisdiction: CN
languages: [zh]
timezone: Asia/Shanghai
title: {zh: 更严的夜间规则, en: stricter night window}
rules:
  - id: cn.hours
    code: night_time
    title: {zh: 夜间催收（21:00–09:00）, en: Night-time collection (21:00-09:00)}
    binding: self_regulatory
    severity: standard
    check: time_window
    citation: ["lender policy"]
    in_force: 2025-01-01
    confidence: high
    explain: {zh: 本机构政策, en: house policy}
    detect:
      builtin: night_time
      context: collection
      params: {forbidden_start: "21:00", forbidden_end: "09:00"}
""",
        encoding="utf-8",
    )
    pack = load_pack_file(overlay)
    assert pack.name == "cn-strict" and "+cn-strict" in pack.version
    assert len(pack.rules) == len(load_builtin("cn").rules)
    analyzer = Analyzer({"cn": pack, "us": load_builtin("us")})
    import datetime as dt

    at = dt.datetime(2025, 3, 2, 21, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    strict = analyzer.check("您的借款已逾期5天，请立即还款。", received_at=at)
    assert "night_time" in {v.code for v in strict.violations}
    base = Analyzer.default().check("您的借款已逾期5天，请立即还款。", received_at=at)
    assert "night_time" not in {v.code for v in base.violations}


def test_fixture_parser_rejects_unknown_annotation() -> None:
    with pytest.raises(RulePackError, match="unknown annotation"):
        parse_fixtures("# rule: x\ntext\n", "f.txt")
    with pytest.raises(RulePackError, match="without annotations"):
        parse_fixtures("just text\n", "f.txt")


def test_rule_objects_are_typed() -> None:
    assert all(isinstance(r, Rule) for r in load_builtin("cn").rules)


def test_history_rules_are_left_to_the_locker_and_gateway(tmp_path: Path) -> None:
    """A `frequency` rule needs many messages: one check skips it instead of failing."""
    overlay = tmp_path / "cn-freq.yaml"
    overlay.write_text(
        """
pack: cn-freq
version: "1"
extends: cn
jurisdiction: CN
languages: [zh]
timezone: Asia/Shanghai
title: {zh: 频次, en: frequency}
rules:
  - id: cn.freq.daily
    code: excessive_frequency
    title: {zh: 频繁催收, en: Too many messages}
    binding: self_regulatory
    severity: standard
    check: rate_limit
    citation: ["lender policy"]
    in_force: 2025-01-01
    confidence: high
    explain: {zh: 本机构政策, en: house policy}
    detect:
      builtin: frequency
      params: {max_per_day: 3, channel: sms}
""",
        encoding="utf-8",
    )
    pack = load_pack_file(overlay)
    analyzer = Analyzer({"cn": pack, "us": load_builtin("us")})
    r = analyzer.check("您的借款已逾期5天，再不还款我们将上门。")
    assert "threat" in {v.code for v in r.violations}
    assert "excessive_frequency" not in {v.code for v in r.violations}


def test_the_fast_yaml_loader_reads_every_shipped_file_as_the_pure_python_one_does() -> None:
    """`collectguard._yaml.safe_load` uses libyaml when present: every YAML file the package
    ships must come out exactly as PyYAML's pure-Python safe loader reads it."""
    import yaml

    from collectguard import _yaml

    files = sorted((Path(__file__).parents[1] / "src" / "collectguard").rglob("*.yaml"))
    assert len(files) >= 8
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert _yaml.safe_load(text) == yaml.load(text, Loader=yaml.SafeLoader), f.name
    assert _yaml.SafeLoader is getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ---------------------------------------------------------------------------- dated citations
CITATION_TEXTS_SHA256 = {
    "cn": "783b9f4bcd3a3166d4070d253bdf894fdd843ef4da382ad6a782401cd58dd2b8",
    "us": "55329452e45235a5c50380c0ec39144433134d3c63555e8dec1d50d254a89732",
}
"""Digest of every rule's citation texts (us: as before citations were dated, pack 2026.11.1;
cn: since pack 2026.11.4 split the two citations that joined instruments of different dates,
so each is dated on its own). The analyzer, gateway and audit cite these texts in every
per-message output: change one only on purpose, and update the digest with it."""


@pytest.mark.parametrize("name", BUILTIN_PACKS)
def test_dating_citations_left_every_cited_text_as_it_was(name: str) -> None:
    import hashlib
    import json

    rules = load_builtin(name).spec.rules
    texts = {r.id: list(r.citation) for r in sorted(rules, key=lambda r: r.id)}
    blob = json.dumps(texts, ensure_ascii=False, sort_keys=True)
    assert hashlib.sha256(blob.encode()).hexdigest() == CITATION_TEXTS_SHA256[name]
    analyzer = Analyzer.default()
    for rule in rules:
        assert tuple(c.text for c in rule.citations) == rule.citation, rule.id
    dated = [c for r in rules for top in r.citations for c in top.versions() if c.dated]
    assert dated, "the pack dates its citations"
    assert all(c.sources and c.confidence for c in dated)  # each date says where it is from
    # what the analyzer writes is still the texts joined
    r = analyzer.check(
        "您的借款已逾期，再不还款我们将上门。"
        if name == "cn"
        else "This is a debt collector. We will come to your home if you do not pay.",
        jurisdiction=name,
    )
    (v,) = [v for v in r.violations if v.code == "threat"]
    rule = load_builtin(name).get(v.rule_id)
    assert isinstance(rule, Rule) and v.citation == "；".join(rule.citation)


def test_the_2025_public_security_law_supersedes_the_2012_one_before_2026() -> None:
    import datetime as dt

    cited = 0
    for rule in load_builtin("cn").rules:
        for c in rule.citations:
            if "治安管理处罚法（2025修订）第50条" not in c.text:
                continue
            cited += 1
            assert c.in_force == dt.date(2026, 1, 1)
            old = c.supersedes
            assert old is not None and old.text == "治安管理处罚法（2012）第42条"
            assert old.until == dt.date(2025, 12, 31) and "[mem]" in (old.confidence or "")
            assert old.text not in rule.citation  # letters cite it; the analyzer does not
            assert [v.text for v in c.versions()] == [old.text, c.text]
            assert old.applies_on(dt.date(2025, 12, 31)) and not c.applies_on(dt.date(2025, 12, 31))
            assert c.applies_on(dt.date(2026, 1, 1)) and not old.applies_on(dt.date(2026, 1, 1))
        cba = [c for c in rule.citations if c.text.startswith("中国银行业协会")]
        assert all(c.in_force == dt.date(2026, 1, 30) for c in cba), rule.id
    assert cited == 4  # threats, criminal intimidation, insults, insults (model)
    regf = [c for r in load_builtin("us").rules for c in r.citations if "CFR 1006" in c.text]
    assert regf and all(c.in_force == dt.date(2021, 11, 30) for c in regf)


_DATED_PACK = """
pack: cn
version: "1"
jurisdiction: CN
languages: [zh]
timezone: Asia/Shanghai
title: {{zh: 测试, en: test}}
rules:
  - id: cn.test.a
    code: threat
    title: {{zh: 测试, en: test}}
    binding: law
    severity: illegal
    check: content_prohibited
    citation:
      - "plain text"
{entry}
    in_force: 2020-01-01
    confidence: high
    explain: {{zh: 测试, en: test}}
    detect: {{terms: [测试]}}
"""


def test_a_citation_is_text_or_a_dated_mapping(tmp_path: Path) -> None:
    import datetime as dt

    f = tmp_path / "dated.yaml"
    f.write_text(
        _DATED_PACK.format(
            entry="""      - text: "new law"
        in_force: 2026-01-01
        sources: [https://example.org/new]
        confidence: "medium-high [2nd]"
        supersedes: {text: "old law", in_force: 2006-03-01}"""
        ),
        encoding="utf-8",
    )
    (rule,) = load_pack_file(f).rules
    assert rule.citation == ("plain text", "new law")  # the texts, as the analyzer cites them
    plain, new = rule.citations
    assert not plain.dated and plain.applies_on(dt.date(1990, 1, 1))  # undated: always
    assert new.in_force == dt.date(2026, 1, 1) and new.sources == ("https://example.org/new",)
    assert new.supersedes is not None and new.supersedes.until == dt.date(2025, 12, 31)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '      - {text: "new law", in_force: "2026-1-1"}',
            "rules[cn.test.a].citation[1].in_force: Value error, '2026-1-1' is not a date: "
            "write it as YYYY-MM-DD",
        ),
        (
            '      - {text: "new law", until: "2025-02-30"}',
            "rules[cn.test.a].citation[1].until: Value error, '2025-02-30' is not a date",
        ),
        (
            '      - {text: "new law", in_force: 2026-13-01}',
            "line 17: 2026-13-01 is not a date (month must be in 1..12); write dates as YYYY-MM-DD",
        ),
        (
            '      - {text: "new law", in_force: 2026-01-01, until: 2025-01-01}',
            "until 2025-01-01 is before in_force 2026-01-01 for 'new law'",
        ),
        (
            '      - {text: "new law", supersedes: "old law"}',
            "'new law' supersedes 'old law' but has no in_force date",
        ),
        (
            "      - {text: new, in_force: 2026-01-01, supersedes: {text: old, until: 2026-06-30}}",
            "'old' applies until 2026-06-30, past 'new''s in_force 2026-01-01",
        ),
        ("      - {in_force: 2026-01-01}", "rules[cn.test.a].citation[1].text: Field required"),
        ('      - {text: "new law", in_forse: 2026-01-01}', "citation[1].in_forse: Extra inputs"),
        ('      - {text: "new law", confidence: sure}', "confidence 'sure' must start with high"),
    ],
)
def test_a_bad_citation_entry_is_named(tmp_path: Path, entry: str, message: str) -> None:
    f = tmp_path / "bad-citation.yaml"
    f.write_text(_DATED_PACK.format(entry=entry), encoding="utf-8")
    with pytest.raises(RulePackError) as exc:
        load_pack_file(f)
    assert message in str(exc.value) and "bad-citation.yaml" in str(exc.value)
