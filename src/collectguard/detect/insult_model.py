"""Offensive-language (辱骂 / ``insult``) scorer: a small character n-gram logistic regression.

Owns: the shipped model file ``models/insult_cold.json`` (trained on COLD, Apache-2.0, by
``scripts/train_insult_model.py``), the featurizer shared by that script and this module
(`char_ngrams`: the distinct character 1–3-grams of a text, each with value
``1 / sqrt(number of distinct n-grams)``), scoring (`InsultModel.score`) and the explanation
of a score (`InsultModel.top_ngrams`).

Input is the display-normalized text, ``collectguard.normalize.normalize(text).text``, the
form the model was trained on; this module does not normalize.

Must not import: scikit-learn, numpy, pandas or any other third-party package (the package
runs without them), nor any I/O, web, database or CLI code of collectguard. Pure stdlib; the
only file it reads is the shipped model, through ``importlib.resources``; no network.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import math
import operator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collectguard.errors import CollectguardError

#: Format tag written by scripts/train_insult_model.py; bump when the featurizer changes.
MODEL_FORMAT = "collectguard.insult-char-ngram-lr/1"

#: The shipped model, relative to this package.
DEFAULT_MODEL = "models/insult_cold.json"

_add = operator.add


def char_ngrams(text: str) -> set[str]:
    """The distinct character 1-, 2- and 3-grams of `text` (the model's features)."""
    grams = set(text)
    bigrams = list(map(_add, text, text[1:]))
    grams.update(bigrams)
    grams.update(map(_add, bigrams, text[2:]))
    return grams


def _sigmoid(z: float) -> float:
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class InsultModel:
    """Linear model over binary character n-grams scaled by ``1/sqrt(#distinct n-grams)``.

    ``score = sigmoid(bias + sum(weight[g] for g in grams) / sqrt(len(grams)))``.
    """

    __slots__ = ("_get", "bias", "metadata", "threshold", "weights")

    def __init__(
        self,
        weights: Mapping[str, float],
        bias: float,
        threshold: float = 0.5,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.weights: dict[str, float] = {g: float(w) for g, w in weights.items() if w}
        self.bias = float(bias)
        self.threshold = float(threshold)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._get = self.weights.get

    # -- loading -----------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> InsultModel:
        """Build a model from the parsed JSON of a model file; `source` names it in errors."""
        if data.get("format") != MODEL_FORMAT:
            raise CollectguardError(
                f"{source}: model format {data.get('format')!r}, expected {MODEL_FORMAT!r}"
            )
        try:
            weights = data["weights"]
            bias = float(data["bias"])
            threshold = float(data["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CollectguardError(f"{source}: missing or invalid field ({exc})") from exc
        if not isinstance(weights, dict) or not all(
            isinstance(g, str) and isinstance(w, int | float) for g, w in weights.items()
        ):
            raise CollectguardError(f"{source}: 'weights' must map n-gram strings to numbers")
        if not 0.0 < threshold < 1.0:
            raise CollectguardError(f"{source}: threshold {threshold} outside (0, 1)")
        metadata = data.get("metadata") or {}
        return cls(weights, bias, threshold, metadata)

    @classmethod
    def load(cls, path: str | Path) -> InsultModel:
        """Load a model file written by scripts/train_insult_model.py."""
        p = Path(path)
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CollectguardError(f"{p}: cannot read model file ({exc})") from exc
        return cls.from_dict(data, str(p))

    @classmethod
    def default(cls) -> InsultModel:
        """The shipped COLD model (loaded once, then cached)."""
        return _default_model()

    # -- scoring -----------------------------------------------------------------------------

    def score(self, normalized_text: str) -> float:
        """Probability-like offensiveness in [0, 1] of a normalized text."""
        # char_ngrams inlined: this is the hot path (target < 30 us for 80 characters).
        t = normalized_text
        grams = set(t)
        bigrams = list(map(_add, t, t[1:]))
        grams.update(bigrams)
        grams.update(map(_add, bigrams, t[2:]))
        if not grams:
            return _sigmoid(self.bias)
        total = sum(filter(None, map(self._get, grams)))
        return _sigmoid(self.bias + total / math.sqrt(len(grams)))

    def is_offensive(self, normalized_text: str) -> bool:
        """`score` at or above the model's threshold (chosen on COLD dev)."""
        return self.score(normalized_text) >= self.threshold

    def top_ngrams(self, normalized_text: str, k: int = 5) -> list[tuple[str, float]]:
        """The `k` n-grams that pushed the score most toward offensive, with their
        contribution to the logit (largest first; only positive contributions)."""
        if k <= 0:
            return []
        grams = char_ngrams(normalized_text)
        if not grams:
            return []
        scale = 1.0 / math.sqrt(len(grams))
        get = self._get
        contrib = [(g, w * scale) for g in grams if (w := get(g)) is not None and w > 0.0]
        contrib.sort(key=lambda gc: (-gc[1], gc[0]))
        return contrib[:k]


@functools.lru_cache(maxsize=1)
def _default_model() -> InsultModel:
    resource = importlib.resources.files("collectguard.detect").joinpath(DEFAULT_MODEL)
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CollectguardError(f"shipped insult model {DEFAULT_MODEL}: {exc}") from exc
    return InsultModel.from_dict(data, f"collectguard/detect/{DEFAULT_MODEL}")
