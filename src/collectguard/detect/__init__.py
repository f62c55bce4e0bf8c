"""Detectors: collection intent, scam cues and violation cues.

Lexicon and pattern detectors are data in the rule packs (`collectguard.rules`); this package
holds the detectors that need code: the built-ins named by packs (`builtins`) and the
offensive-language model (`insult_model`). Pure: no CLI, web or database imports.
"""
