"""The exception hierarchy of collectguard.

    CollectguardError            base of every error this package raises on purpose
    ├── InputError               a message or input line that cannot be analysed (bad JSON,
    │                            invalid UTF-8, wrong field types, oversized text)
    ├── RulePackError            a rule pack, lexicon or fixture file that fails validation
    ├── RegistryError            a platform registry file that fails validation
    └── PolicyError              a contact policy file (gateway, audit) that cannot be used

Each error's message is meant for a person: it names the file, line or field at fault.
"""


class CollectguardError(Exception):
    """Base class of every error raised on purpose by collectguard."""


class InputError(CollectguardError):
    """An input message or line cannot be analysed."""


class RulePackError(CollectguardError):
    """A rule pack, lexicon or fixture file is invalid."""


class RegistryError(CollectguardError):
    """A platform registry file is invalid."""


class PolicyError(CollectguardError):
    """A contact policy file (gateway and audit `--policy`) is missing or invalid."""
