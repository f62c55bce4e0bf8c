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
