"""Text normalization with an offset map back to the original message.

Owns: width folding (NFKC), traditional → simplified (OpenCC), removal of zero-width,
bidi and control characters, digit variants, and the evasion-resistant "compact" form in
which separators inserted between Chinese characters (``爆 通*讯 录``) are dropped and
pinyin initials or homophones listed in the evasion lexicon (``cs`` → ``催收``) are replaced.

Every normalized character remembers the [start, end) range of original characters it came
from, so a match in normalized text maps back to a span of the ORIGINAL text
(`NormalizedText.to_original`).

Pure: imports no I/O, web, database or CLI code.
"""

from collectguard.normalize.text import (
    EvasionLexicon,
    NormalizedText,
    compact,
    normalize,
    show_bidi_controls,
)

__all__ = ["EvasionLexicon", "NormalizedText", "compact", "normalize", "show_bidi_controls"]
