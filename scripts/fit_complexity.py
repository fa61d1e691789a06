"""Fit the complexity classifier's weights on the labelled prompts and write app/routing/complexity_model.json.

    python scripts/fit_complexity.py            # fit, report 10-fold cross-validated accuracy, write
    python scripts/fit_complexity.py --check    # report only

L2-regularised logistic regression by Newton's method (numpy only) over
``app.routing.complexity.features``. Reports the cross-validated accuracy on the training set
(``tests/data/complexity_prompts.jsonl``) and the accuracy on the holdout set
(``tests/data/complexity_holdout.jsonl``), which is never used for fitting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from app.routing.complexity import FEATURES, ComplexityModel, features

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "tests" / "data" / "complexity_prompts.jsonl"
HOLDOUT = ROOT / "tests" / "data" / "complexity_holdout.jsonl"
OUT = ROOT / "app" / "routing" / "complexity_model.json"
L2 = 1.0


def load(path: Path) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    x = np.array([features([{"role": "user", "content": r["prompt"]}]) for r in rows])
    y = np.array([1.0 if r["label"] == "complex" else 0.0 for r in rows])
    return x, y, rows


def fit(x: np.ndarray, y: np.ndarray) -> ComplexityModel:
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales == 0] = 1.0
    z = np.hstack([np.ones((len(x), 1)), (x - means) / scales])
    w = np.zeros(z.shape[1])
    penalty = np.diag([0.0] + [L2] * (z.shape[1] - 1))  # the intercept is not penalised
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + penalty @ w
        hessian = z.T @ (z * (p * (1 - p))[:, None]) + penalty
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return ComplexityModel(tuple(float(v) for v in w[1:]), float(w[0]), tuple(float(m) for m in means),
                           tuple(float(s) for s in scales))


def accuracy(model: ComplexityModel, rows: list[dict], threshold: float = 0.5) -> float:
    hits = sum((model.probability([{"role": "user", "content": r["prompt"]}]) >= threshold) == (r["label"] == "complex")
               for r in rows)
    return hits / len(rows)


def cross_validated(x: np.ndarray, y: np.ndarray, rows: list[dict], folds: int = 10, seed: int = 7) -> float:
    order = np.random.default_rng(seed).permutation(len(rows))
    hits = 0
    for k in range(folds):
        test = order[k::folds]
        train = np.setdiff1d(order, test)
        model = fit(x[train], y[train])
        hits += round(accuracy(model, [rows[i] for i in test]) * len(test))
    return hits / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report only, do not write the model")
    args = parser.parse_args()
    x, y, rows = load(TRAIN)
    _, _, holdout = load(HOLDOUT)
    model = fit(x, y)
    print(f"training set: {len(rows)} prompts; 10-fold cross-validated accuracy {cross_validated(x, y, rows):.3f}; "
          f"in-sample {accuracy(model, rows):.3f}")
    print(f"holdout set: {len(holdout)} prompts; accuracy {accuracy(model, holdout):.3f}")
    for name, weight in sorted(zip(FEATURES, model.weights, strict=True), key=lambda p: -abs(p[1])):
        print(f"  {name:16s} {weight:+.3f}")
    if not args.check:
        OUT.write_text(json.dumps(model.as_json(), indent=1) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
