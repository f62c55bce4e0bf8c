"""The shipped offensive-language model (collectguard.detect.insult_model)."""

from __future__ import annotations

import csv
import importlib.resources
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from collectguard.detect.insult_model import MODEL_FORMAT, InsultModel, char_ngrams
from collectguard.errors import CollectguardError
from collectguard.normalize import normalize

# COLD test accuracy of the shipped model, as reported in docs/benchmarks.md.
REPORTED_COLD_TEST_ACCURACY = 0.7994

REPO = Path(__file__).resolve().parents[1]
COLD_SKIP = "needs ../shared/data/COLD (Apache-2.0, see its PROVENANCE.md)"

# Written for these tests (not taken from any data set).
OFFENSIVE = [
    "傻逼，你脑子进水了吧",
    "你全家都是骗子，去死吧",
    "你就是个废物，垃圾一个",
    "滚吧你这个蠢货，恶心死了",
]
NEUTRAL = [
    "今天天气很好，我们去公园散步吧。",
    "【某某银行】尊敬的客户，您本月账单已出，请于25日前还款。",
    "您好，您的借款已逾期3天，请及时还款，以免影响个人征信。",
    "会议改到明天下午三点，请大家准时参加。",
]


def n(text: str) -> str:
    return normalize(text).text


@pytest.fixture(scope="module")
def model() -> InsultModel:
    return InsultModel.default()


def test_shipped_file_is_small_and_described(model: InsultModel) -> None:
    res = importlib.resources.files("collectguard.detect").joinpath("models/insult_cold.json")
    data = json.loads(res.read_text(encoding="utf-8"))
    assert data["format"] == MODEL_FORMAT
    assert len(res.read_bytes()) < 3 * 1024 * 1024
    meta = model.metadata
    assert meta["data_licence"] == "Apache-2.0"
    assert "COLD" in meta["training_data"]
    assert meta["seed"] == 0
    assert meta["metrics"]["test"]["accuracy"] == REPORTED_COLD_TEST_ACCURACY
    assert 0.0 < model.threshold < 1.0
    assert 1_000 <= len(model.weights) <= 100_000


def test_default_is_cached() -> None:
    assert InsultModel.default() is InsultModel.default()


def test_offensive_scores_well_above_neutral(model: InsultModel) -> None:
    off = [model.score(n(t)) for t in OFFENSIVE]
    neu = [model.score(n(t)) for t in NEUTRAL]
    assert min(off) > model.threshold > max(neu)
    assert min(off) - max(neu) > 0.3, (off, neu)
    assert all(model.is_offensive(n(t)) for t in OFFENSIVE)
    assert not any(model.is_offensive(n(t)) for t in NEUTRAL)


def test_score_matches_the_documented_formula(model: InsultModel) -> None:
    text = n(OFFENSIVE[0])
    grams = char_ngrams(text)
    z = model.bias + sum(model.weights.get(g, 0.0) for g in grams) / math.sqrt(len(grams))
    assert model.score(text) == pytest.approx(1.0 / (1.0 + math.exp(-z)), abs=1e-12)


def test_char_ngrams() -> None:
    assert char_ngrams("") == set()
    assert char_ngrams("a") == {"a"}
    assert char_ngrams("abab") == {"a", "b", "ab", "ba", "aba", "bab"}


def test_deterministic_and_reloadable(model: InsultModel, tmp_path: Path) -> None:
    text = n(OFFENSIVE[1])
    assert model.score(text) == model.score(text)
    res = importlib.resources.files("collectguard.detect").joinpath("models/insult_cold.json")
    copy = tmp_path / "m.json"
    copy.write_bytes(res.read_bytes())
    again = InsultModel.load(copy)
    assert again.score(text) == model.score(text)
    assert again.top_ngrams(text, 5) == model.top_ngrams(text, 5)


def test_top_ngrams_explain_the_score(model: InsultModel) -> None:
    top = model.top_ngrams(n("傻逼，你脑子进水了吧"), 3)
    assert 1 <= len(top) <= 3
    assert [c for _, c in top] == sorted((c for _, c in top), reverse=True)
    assert all(c > 0 for _, c in top)
    assert any("傻" in g for g, _ in top)
    assert model.top_ngrams("傻逼", 0) == []
    assert model.top_ngrams("", 5) == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\x00\x01\ufeff\u200b",
        "\ud800 lone surrogate",
        "e\u0301\u0301\u0301 combining",
        "😡🤬💩" * 50,
        "𠀀𪚥\U0010ffff",
        "你" * 100_000,
        "傻逼 " * 20_000,
    ],
)
def test_odd_input_does_not_crash(model: InsultModel, text: str) -> None:
    s = model.score(text)
    assert 0.0 <= s <= 1.0
    assert isinstance(model.top_ngrams(text, 5), list)
    assert 0.0 <= model.score(n(text)) <= 1.0


def test_bad_model_files_raise_clear_errors(tmp_path: Path) -> None:
    p = tmp_path / "bad.json"
    p.write_text("{not json", encoding="utf-8")
    with pytest.raises(CollectguardError, match=r"bad\.json"):
        InsultModel.load(p)
    p.write_text(json.dumps({"format": "other"}), encoding="utf-8")
    with pytest.raises(CollectguardError, match="format"):
        InsultModel.load(p)
    p.write_text(json.dumps({"format": MODEL_FORMAT, "bias": 0, "threshold": 0.5}), "utf-8")
    with pytest.raises(CollectguardError, match="weights"):
        InsultModel.load(p)
    p.write_text(
        json.dumps({"format": MODEL_FORMAT, "bias": 0, "threshold": 0.5, "weights": {"a": "x"}}),
        encoding="utf-8",
    )
    with pytest.raises(CollectguardError, match="weights"):
        InsultModel.load(p)


def test_runs_without_numerical_packages() -> None:
    code = (
        "import sys\n"
        "for m in ('sklearn', 'numpy', 'pandas', 'scipy'):\n"
        "    sys.modules[m] = None\n"
        "from collectguard.detect.insult_model import InsultModel\n"
        "print(InsultModel.default().score('你好'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert 0.0 <= float(out.stdout) <= 1.0


def _cold_test() -> Path:
    base = os.environ.get("COLLECTGUARD_DATA")
    data = Path(base) if base else REPO.parent / "shared" / "data"
    return data / "COLD" / "test.csv"


def test_reproduces_cold_test_accuracy(model: InsultModel) -> None:
    path = _cold_test()
    if not path.is_file():
        pytest.skip(COLD_SKIP)
    correct = total = 0
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            pred = int(model.is_offensive(n(row["TEXT"])))
            correct += pred == int(row["label"])
            total += 1
    assert total == 5323
    acc = correct / total
    assert acc >= REPORTED_COLD_TEST_ACCURACY - 0.005
    assert acc == pytest.approx(model.metadata["metrics"]["test"]["accuracy"], abs=1e-4)
