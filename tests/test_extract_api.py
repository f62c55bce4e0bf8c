"""The public surface of `collectguard.extract` and the rules its modules keep."""

from __future__ import annotations

import ast
import dataclasses
import sys
from pathlib import Path

import pytest

import collectguard.extract as extract_pkg
from collectguard.extract import Extraction, PhoneNumber, extract
from collectguard.normalize import normalize

PACKAGE_DIR = Path(extract_pkg.__file__).parent

EXPORTED = {
    "AccountKind", "AccountNumber", "Amount", "DateKind", "DateMention", "Extraction", "Link",
    "MaskKind", "Masked", "PartyMention", "PartyRole", "PhoneKind", "PhoneNumber", "SenderInfo",
    "SenderKind", "Signature", "SignaturePosition", "Span", "classify_sender", "extract",
    "LazyExtraction", "extract_lazy",
}  # fmt: skip

# Third-party modules the pure core may use; everything else must be the standard library,
# collectguard.normalize or this package.
ALLOWED_THIRD_PARTY = {"ahocorasick", "tldextract", "phonenumbers", "yaml"}


def test_exported_members() -> None:
    assert set(extract_pkg.__all__) == EXPORTED
    for name in EXPORTED:
        assert hasattr(extract_pkg, name)


@pytest.mark.parametrize(
    ("cls", "field_names"),
    [
        (extract_pkg.Signature, ["name", "span", "text", "position"]),
        (
            extract_pkg.PhoneNumber,
            ["digits", "kind", "span", "text", "carrier", "region", "masked"],
        ),
        (
            extract_pkg.Link,
            [
                "url",
                "host",
                "registered_domain",
                "suffix",
                "span",
                "text",
                "is_shortlink",
                "is_ip",
                "is_masked",
            ],
        ),
        (extract_pkg.Amount, ["value", "currency", "span", "text"]),
        (extract_pkg.DateMention, ["span", "text", "kind", "iso", "offset_days"]),
        (extract_pkg.Masked, ["span", "text", "kind"]),
        (extract_pkg.AccountNumber, ["kind", "digits", "span", "text", "luhn_valid"]),
        (extract_pkg.PartyMention, ["role", "span", "text", "term"]),
        (
            extract_pkg.SenderInfo,
            ["kind", "digits", "carrier", "is_personal", "region", "note", "name"],
        ),
        (
            extract_pkg.Extraction,
            ["signatures", "phones", "links", "amounts", "dates", "masked", "accounts", "parties"],
        ),
    ],
)
def test_result_types_are_frozen_slotted_dataclasses(cls: type, field_names: list[str]) -> None:
    assert [f.name for f in dataclasses.fields(cls)] == field_names
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    assert params.frozen
    assert "__slots__" in cls.__dict__


def test_results_are_immutable() -> None:
    ex = extract(normalize("客服95588"))
    (phone,) = ex.phones
    assert isinstance(phone, PhoneNumber)
    with pytest.raises(dataclasses.FrozenInstanceError):
        phone.digits = "110"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ex.phones = ()  # type: ignore[misc]
    assert isinstance(ex, Extraction)


@pytest.mark.parametrize("path", sorted(PACKAGE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_module_is_pure_and_documented(path: Path) -> None:
    tree = ast.parse(path.read_text("utf-8"))
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top == "collectguard":
                # `collectguard._yaml`: a leaf module (PyYAML's fastest safe loader), no I/O
                allowed = ("collectguard.extract", "collectguard.normalize", "collectguard._yaml")
                assert name.startswith(allowed), name
            else:
                assert top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY, name


def test_data_files_ship_with_the_package() -> None:
    data = PACKAGE_DIR / "data"
    for name in ("shortlink_hosts.txt", "parties.yaml", "mobile_segments.txt"):
        text = (data / name).read_text("utf-8")
        assert text.startswith("#"), f"{name} needs a comment header"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "【招联金融】您尾号1234的账户2024年5月3日应还1,500.00元，请致电4008-123-456或13812345678。",
        "点击 https://t.cn/abc 领取，验证码123456，身份证110101199003071234",
        "你妈138****5678和单位都会收到通知，6222 0212 3456 7890",
    ],
)
def test_lazy_extraction_equals_extract_in_any_read_order(text: str) -> None:
    """Reading fields lazily, in any order, gives exactly what `extract` gives."""
    norm = normalize(text)
    want = extract(norm)
    names = [f.name for f in dataclasses.fields(Extraction)]
    for order in (names, list(reversed(names))):
        lazy = extract_pkg.extract_lazy(norm)
        for name in order:
            assert getattr(lazy, name) == getattr(want, name), name
        assert lazy.resolve() == want
