"""The complexity classifier on the shipped labelled prompts: accuracy, speed, and the shipped weights."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from app.routing.complexity import FEATURES, default_model, features, probability_complex

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text().splitlines() if line.strip()]


def accuracy(rows: list[dict], threshold: float = 0.5) -> float:
    hits = sum((probability_complex([{"role": "user", "content": r["prompt"]}]) >= threshold) == (r["label"] == "complex")
               for r in rows)
    return hits / len(rows)


def test_the_labelled_set_mixes_domains_and_both_labels():
    rows = load("complexity_prompts.jsonl")
    assert len(rows) >= 200
    counts = {(r["domain"], r["label"]) for r in rows}
    assert counts == {(d, label) for d in ("code", "business", "chat") for label in ("simple", "complex")}


@pytest.mark.parametrize(("name", "floor"), [("complexity_prompts.jsonl", 0.95), ("complexity_holdout.jsonl", 0.9)])
def test_accuracy_on_the_shipped_sets(name, floor):
    # The training set's figure is in-sample; the holdout set was written before fitting and never fitted on.
    assert accuracy(load(name)) >= floor


def test_the_threshold_trades_complex_recall_for_cheaper_routing():
    rows = load("complexity_prompts.jsonl")

    def sent_complex(threshold: float) -> int:
        return sum(probability_complex([{"role": "user", "content": r["prompt"]}]) >= threshold for r in rows)

    assert sent_complex(0.2) > sent_complex(0.5) > sent_complex(0.8)


def test_it_reads_the_last_user_message_and_takes_well_under_a_millisecond():
    system = {"role": "system", "content": "You are a meticulous architect. " * 200}
    short = [system, {"role": "user", "content": "What is the capital of France?"}]
    assert probability_complex(short) < 0.5  # a long system prompt does not make a lookup complex
    assert features(short) == features(short[1:])
    start = time.perf_counter()
    for _ in range(200):
        probability_complex(short)
    assert (time.perf_counter() - start) / 200 < 0.001


def test_the_shipped_model_matches_its_features():
    model = default_model()
    assert len(model.weights) == len(model.means) == len(model.scales) == len(FEATURES)
    assert model.as_json()["features"] == list(FEATURES)
