"""Registry files: users' files merged over the shipped data, and readable errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectguard.errors import RegistryError
from collectguard.registry import LenderEntry, Organization, PlatformRegistry, load_registry_file

BAD = Path(__file__).parent / "data" / "registry_bad"

USER_FILE = """\
lenders:
- id: acme_loans
  legal_name: 阿克米小额贷款有限公司
  legal_name_source: our contract with them
  brands: [阿克米借款]
  products: ['阿克米贷 (medium: seen on our statements)']
  license_type: microloan
  hotlines:
  - number: 400-123-4567
    source: the lender's app, checked 2026-01-05
    confidence: high
  domains:
  - domain: acme-loans.example
    source: the lender's app
    confidence: high
  related_ids: [zhaolian_cfc]
- id: zhaolian_cfc
  legal_name: 招联消费金融股份有限公司
  legal_name_source: NFRA list
  brands: [招联金融, 招联]
  license_type: consumer_finance_company
  hotlines:
  - number: '95786'
    source: checked in the 招联金融 app by our team, 2026-01-05
    confidence: high
organizations:
- id: acme_collections
  names: [阿克米催收服务公司]
  kind: other
  is_authority: false
product_aliases:
- alias: 安逸花
  entry_id: acme_loans
  source: test
  confidence: low
"""


@pytest.fixture(scope="module")
def base() -> PlatformRegistry:
    return PlatformRegistry.default()


@pytest.fixture
def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "my_registry.yaml"
    path.write_text(USER_FILE, encoding="utf-8")
    return path


def test_merge_adds_entries(base: PlatformRegistry, user_file: Path) -> None:
    merged = base.merged_with(user_file)
    acme = merged.get("acme_loans")
    assert isinstance(acme, LenderEntry)
    assert [h.number for h in merged.callable_hotlines("acme_loans")] == ["400-123-4567"]
    assert [e.id for e, _ in merged.hotline_owner("4001234567")] == ["acme_loans"]
    assert [e.id for e, _ in merged.domain_owner("www.acme-loans.example")] == ["acme_loans"]
    assert [h.entry_id for h in merged.match_names("阿克米借款阿克米贷")] == ["acme_loans"] * 2
    assert isinstance(merged.get("acme_collections"), Organization)
    assert len(merged) == len(base) + 2
    # The shipped registry is untouched.
    assert base.get("acme_loans") is None
    assert PlatformRegistry.default() is base


def test_merge_overrides_by_id_whole_entry_same_position(
    base: PlatformRegistry, user_file: Path
) -> None:
    merged = base.merged_with(user_file)
    assert [h.number for h in merged.callable_hotlines("zhaolian_cfc")] == ["95786"]
    assert base.callable_hotlines("zhaolian_cfc") == []
    zhaolian = merged.get("zhaolian_cfc")
    assert isinstance(zhaolian, LenderEntry)
    assert zhaolian.domains == ()  # replaced whole, not field-merged
    assert [e.id for e in merged].index("zhaolian_cfc") == [e.id for e in base].index(
        "zhaolian_cfc"
    )
    # An alias of the same name replaces the shipped one and changes the preferred owner.
    (hit,) = merged.match_names("安逸花")
    assert hit.entry_id == "acme_loans" and "mashang_cfc" in hit.shared_with


def test_merge_twice_keeps_earlier_user_entries(
    base: PlatformRegistry, user_file: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second.yaml"
    second.write_text(
        "organizations:\n- id: acme_debt_court\n  names: [阿克米仲裁庭]\n"
        "  kind: other\n  is_authority: false\n  related_ids: [acme_loans]\n",
        encoding="utf-8",
    )
    merged = base.merged_with(user_file).merged_with(second)
    assert merged.get("acme_loans") is not None and merged.get("acme_debt_court") is not None


def test_reference_style_list_is_accepted(base: PlatformRegistry, tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(
        "- id: old_lender\n  legal_name: 老牌贷款有限公司\n  legal_name_source: notes\n"
        "  brands: ['老牌贷 (former name)']\n  license_type: other\n",
        encoding="utf-8",
    )
    merged = base.merged_with(path)
    entry = merged.get("old_lender")
    assert isinstance(entry, LenderEntry)
    assert (entry.brands[0].name, entry.brands[0].note) == ("老牌贷", "former name")


def test_load_rejects_duplicates_across_files_unless_override(
    user_file: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(
        "lenders:\n- id: acme_loans\n  legal_name: 别的公司\n  legal_name_source: x\n"
        "  license_type: other\n  related_ids: [zhaolian_cfc]\n",
        encoding="utf-8",
    )
    with pytest.raises(RegistryError, match=r"other\.yaml: id 'acme_loans': already defined in"):
        PlatformRegistry.load([user_file, other])
    reg = PlatformRegistry.load([user_file, other], override=True)
    entry = reg.get("acme_loans")
    assert isinstance(entry, LenderEntry) and entry.legal_name == "别的公司"


def test_user_file_alone_must_resolve_its_references(user_file: Path) -> None:
    # Fine merged over the shipped data (alias → acme_loans, related → zhaolian_cfc) and
    # alone too, since the file defines zhaolian_cfc itself.
    assert len(PlatformRegistry.load([user_file])) == 3


def test_missing_file(base: PlatformRegistry, tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(RegistryError, match=r"nope\.yaml: registry file not found"):
        base.merged_with(missing)


def test_empty_registry_matches_nothing() -> None:
    reg = PlatformRegistry()
    assert len(reg) == 0 and reg.match_names("招联金融") == [] and reg.hotline_owner("95588") == []


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (
            "bad_confidence.yaml",
            "lenders[0] (id 'acme_loans'): hotlines[0].confidence: Input should be 'high', "
            "'medium' or 'low' (got 'certain')",
        ),
        (
            "missing_source.yaml",
            "lenders[0] (id 'acme_loans'): hotlines[0].source: required field is missing",
        ),
        ("empty_source.yaml", "lenders[0] (id 'acme_loans'): domains[0].source: String should"),
        ("bad_domain.yaml", "domains[0].domain: 'https://www.acme.example/login' is not a bare"),
        ("bad_digits.yaml", "hotlines[0]: digits '4000000001' do not match number '400-000-0000'"),
        ("duplicate_id.yaml", "organizations[0] (id 'acme_loans'): duplicate id, first defined"),
        ("unknown_field.yaml", "lenders[0] (id 'acme_loans'): hotline: unknown field"),
        ("missing_license.yaml", "license_type: required field is missing"),
        ("bad_id.yaml", "lenders[0] (id 'Acme Loans'): id: String should match pattern"),
        ("bad_org_kind.yaml", "organizations[0] (id 'acme_church'): kind: Input should be"),
        ("unknown_related.yaml", "id 'acme_loans': related_ids: unknown entry id 'no_such_entry'"),
        (
            "unknown_alias_target.yaml",
            "alias '阿克米贷': entry_id: unknown entry id 'no_such_entry'",
        ),
        ("invalid_yaml.yaml", "invalid YAML at line 5, column 15"),
        ("not_a_mapping.yaml", "expected a mapping with 'lenders'"),
        ("unknown_top_key.yaml", "unknown top-level key(s) 'lender'"),
        ("empty.yaml", "the file is empty"),
    ],
)
def test_bad_files_give_readable_errors(filename: str, expected: str) -> None:
    path = BAD / filename
    with pytest.raises(RegistryError) as info:
        PlatformRegistry.load([path])
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert expected in message, message


def test_every_bad_fixture_is_covered() -> None:
    covered = {
        "bad_confidence.yaml",
        "missing_source.yaml",
        "empty_source.yaml",
        "bad_domain.yaml",
        "bad_digits.yaml",
        "duplicate_id.yaml",
        "unknown_field.yaml",
        "missing_license.yaml",
        "bad_id.yaml",
        "bad_org_kind.yaml",
        "unknown_related.yaml",
        "unknown_alias_target.yaml",
        "invalid_yaml.yaml",
        "not_a_mapping.yaml",
        "unknown_top_key.yaml",
        "empty.yaml",
    }
    assert {p.name for p in BAD.glob("*.yaml")} == covered


def test_bad_merge_leaves_registry_usable(base: PlatformRegistry) -> None:
    with pytest.raises(RegistryError):
        base.merged_with(BAD / "bad_confidence.yaml")
    assert base.get("acme_loans") is None and len(base.lenders) == 69


def test_load_registry_file_reads_sections(user_file: Path) -> None:
    data = load_registry_file(user_file)
    assert data.label == str(user_file)
    assert [e.id for e in data.lenders] == ["acme_loans", "zhaolian_cfc"]
    assert [o.id for o in data.organizations] == ["acme_collections"]
    assert [a.alias for a in data.product_aliases] == ["安逸花"]
