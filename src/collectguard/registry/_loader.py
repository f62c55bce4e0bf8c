"""Reading registry files: YAML → validated models, with errors a person can act on.

A registry file is a YAML mapping::

    schema_version: 1            # optional
    description: ...             # optional, free text
    lenders: [...]               # LenderEntry items
    organizations: [...]         # Organization items
    product_aliases: [...]       # ProductAlias items

A bare YAML list is read as ``lenders`` (the research reference's own format). Every
problem raises `RegistryError` whose message names the file, the section and index, the
entry id and the field, e.g.
``my.yaml: lenders[2] (id 'acme'): hotlines[0].confidence: Input should be 'high',
'medium' or 'low' (got 'sure')``.

Owns file parsing and per-file checks (types, unknown keys, duplicate ids); references
between entries are checked by `PlatformRegistry`, which sees all files together.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from collectguard._yaml import safe_load as safe_yaml
from collectguard.errors import RegistryError
from collectguard.registry._models import LenderEntry, Organization, ProductAlias

RegistrySource = str | os.PathLike[str] | Traversable

_TOP_KEYS = frozenset(
    {"schema_version", "description", "source", "lenders", "organizations", "product_aliases"}
)
_M = TypeVar("_M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class RegistryData:
    """The validated content of one registry file."""

    label: str
    """The file as named in error messages."""
    lenders: tuple[LenderEntry, ...] = ()
    organizations: tuple[Organization, ...] = ()
    product_aliases: tuple[ProductAlias, ...] = ()


def _label(source: RegistrySource) -> str:
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    return getattr(source, "name", str(source))


def load_registry_file(source: RegistrySource) -> RegistryData:
    """Read and validate one registry file (a path or an importlib.resources Traversable)."""
    label = _label(source)
    try:
        if isinstance(source, str | os.PathLike):
            text = Path(source).read_text(encoding="utf-8")
        else:
            text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(f"{label}: registry file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{label}: cannot read registry file: {exc}") from None
    return parse_registry_text(text, label)


def parse_registry_text(text: str, label: str) -> RegistryData:
    """Validate registry YAML given as text; `label` names it in error messages."""
    try:
        raw = safe_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(p for p in (exc.context, exc.problem) if p)
        raise RegistryError(f"{label}: invalid YAML{where}: {what}") from None
    except yaml.YAMLError as exc:
        raise RegistryError(f"{label}: invalid YAML: {exc}") from None
    if raw is None:
        raise RegistryError(f"{label}: the file is empty")
    if isinstance(raw, list):
        raw = {"lenders": raw}
    if not isinstance(raw, Mapping):
        raise RegistryError(
            f"{label}: expected a mapping with 'lenders', 'organizations' and/or "
            f"'product_aliases' (or a list of lenders), got {type(raw).__name__}"
        )
    unknown = sorted(str(k) for k in raw if k not in _TOP_KEYS)
    if unknown:
        raise RegistryError(
            f"{label}: unknown top-level key(s) {', '.join(map(repr, unknown))}; "
            f"allowed: {', '.join(sorted(_TOP_KEYS))}"
        )
    version = raw.get("schema_version", 1)
    if version != 1:
        raise RegistryError(f"{label}: schema_version {version!r} is not supported (only 1)")
    lenders = _section(raw, "lenders", LenderEntry, label)
    organizations = _section(raw, "organizations", Organization, label)
    aliases = _section(raw, "product_aliases", ProductAlias, label)
    _check_unique_ids(label, lenders, organizations)
    return RegistryData(label, lenders, organizations, aliases)


def _section(raw: Mapping[str, Any], key: str, model: type[_M], label: str) -> tuple[_M, ...]:
    items = raw.get(key)
    if items is None:
        return ()
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise RegistryError(f"{label}: '{key}' must be a list, got {type(items).__name__}")
    out: list[_M] = []
    for i, item in enumerate(items):
        where = f"{label}: {key}[{i}]"
        if not isinstance(item, Mapping):
            raise RegistryError(f"{where}: expected a mapping, got {type(item).__name__}")
        ident = item.get("id") or item.get("alias")
        if ident is not None:
            where += f" ({'id' if 'id' in item else 'alias'} {ident!r})"
        try:
            out.append(model.model_validate(item))
        except ValidationError as exc:
            raise RegistryError(f"{where}: {_describe(exc)}") from None
    return tuple(out)


def _describe(exc: ValidationError) -> str:
    parts: list[str] = []
    for err in exc.errors():
        loc = ""
        for piece in err["loc"]:
            loc += f"[{piece}]" if isinstance(piece, int) else (f".{piece}" if loc else piece)
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        if err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field (not in the registry schema; check the spelling)"
        elif isinstance(got, str | int | float | bool) and err["type"] != "value_error":
            msg += f" (got {got!r})"
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def _check_unique_ids(
    label: str, lenders: Sequence[LenderEntry], organizations: Sequence[Organization]
) -> None:
    seen: dict[str, str] = {}
    rows: list[tuple[str, int, LenderEntry | Organization]] = [
        *(("lenders", i, e) for i, e in enumerate(lenders)),
        *(("organizations", i, e) for i, e in enumerate(organizations)),
    ]
    for section, i, entry in rows:
        where = f"{section}[{i}]"
        if entry.id in seen:
            raise RegistryError(
                f"{label}: {where} (id {entry.id!r}): duplicate id, "
                f"first defined at {seen[entry.id]}"
            )
        seen[entry.id] = where
