"""Platform registry: which lender or organisation a message names, and its official channels.

Owns the shipped reference data (``data/cn_lenders.yaml``, built from the research file by
``scripts/build_registry.py``; ``data/cn_organizations.yaml``, hand-written), its schema
(`LenderEntry`, `Organization`, `Hotline`, `OfficialDomain`, …), loading and merging of
users' registry files (the CLI's ``--registry FILE``), and lookups:

* `PlatformRegistry.match_names` — registry names in compact normalized text, one
  Aho-Corasick pass, leftmost-longest (see `_matching` for the false-hit guards and
  `DROPPED_NAMES` for names deliberately never matched);
* `hotline_owner` / `match_hotline` — who owns a number or a ``106…`` SMS port;
* `domain_owner`, `is_official_domain`, `is_official_hotline` — consistency checks.

Confidence policy (DESIGN §5; a person may call what we show):

* ``high``   — official text or ≥2 independent decent sources: `callable_hotlines` offers it
  as "call this".
* ``medium`` — one decent source or weak sources agreeing: `cautioned_hotlines` returns it,
  to be shown only with a caution to confirm it in the lender's official app.
* ``low``    — a single weak source or memory: never offered as a number to call; only a
  weak matching hint (`hotline_owner` still reports it, with its confidence).

Ownership lookups return entries whatever the confidence; the caller reads ``.confidence``.
A number or link taken from the message under test is never proof and never advice.

Pure core: no CLI, web or database imports; the packaged data is read through
importlib.resources.
"""

from collectguard.registry._loader import (
    RegistryData,
    RegistrySource,
    load_registry_file,
    parse_registry_text,
)
from collectguard.registry._matching import CONTEXT_GUARDS, DROPPED_NAMES, NameHit, name_key
from collectguard.registry._models import (
    CONFIDENCE_LEVELS,
    App,
    Brand,
    Confidence,
    Hotline,
    LenderEntry,
    LicenseType,
    NameField,
    OfficialDomain,
    Organization,
    OrganizationKind,
    Product,
    ProductAlias,
    RegistryEntry,
    SmsPort,
    SmsSignature,
    digits_of,
    split_parenthetical,
)
from collectguard.registry._registry import (
    DEFAULT_FILES,
    HotlineMatch,
    HotlineMatchKind,
    PlatformRegistry,
    clean_digits,
    clean_host,
)

__all__ = [
    "CONFIDENCE_LEVELS",
    "CONTEXT_GUARDS",
    "DEFAULT_FILES",
    "DROPPED_NAMES",
    "App",
    "Brand",
    "Confidence",
    "Hotline",
    "HotlineMatch",
    "HotlineMatchKind",
    "LenderEntry",
    "LicenseType",
    "NameField",
    "NameHit",
    "OfficialDomain",
    "Organization",
    "OrganizationKind",
    "PlatformRegistry",
    "Product",
    "ProductAlias",
    "RegistryData",
    "RegistryEntry",
    "RegistrySource",
    "SmsPort",
    "SmsSignature",
    "clean_digits",
    "clean_host",
    "digits_of",
    "load_registry_file",
    "name_key",
    "parse_registry_text",
    "split_parenthetical",
]
