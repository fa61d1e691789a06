"""The complexity strategy on the labelled prompts: accuracy, and the cost saved against always-complex.

    python -m bench.complexity_savings        # --simple groq/llama-3.1-8b-instant --complex openai/gpt-4o

No network: the classifier runs locally and prices come from the catalog (genai-prices, as for every
call's cost). Tokens are estimated: input = characters / 4; output = 150 tokens for a prompt labelled
simple and 600 for one labelled complex (what the answer needs does not change with who answers).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

from app.core.pricing import cost_usd
from app.routing.complexity import probability_complex
from bench.stats import print_table

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
OUTPUT_TOKENS = {"simple": 150, "complex": 600}


def _price(target: str, input_tokens: int, output_tokens: int) -> float:
    provider, _, model = target.partition("/")
    price = cost_usd(provider, model, input_tokens, output_tokens)
    if price is None:
        raise SystemExit(f"{target} has no catalog price")
    return price


def evaluate(rows: list[dict], threshold: float, simple: str, complex_: str) -> dict[str, float]:
    right = misrouted_complex = sent_simple = 0
    always = routed = 0.0
    for row in rows:
        p = probability_complex([{"role": "user", "content": row["prompt"]}])
        predicted = "complex" if p >= threshold else "simple"
        right += predicted == row["label"]
        misrouted_complex += row["label"] == "complex" and predicted == "simple"
        sent_simple += predicted == "simple"
        tokens_in, tokens_out = math.ceil(len(row["prompt"]) / 4), OUTPUT_TOKENS[row["label"]]
        always += _price(complex_, tokens_in, tokens_out)
        routed += _price(simple if predicted == "simple" else complex_, tokens_in, tokens_out)
    return {"accuracy": right / len(rows), "to_simple": sent_simple / len(rows),
            "complex_to_simple": misrouted_complex, "always": always, "routed": routed,
            "saved": 1 - routed / always}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simple", default="groq/llama-3.1-8b-instant")
    parser.add_argument("--complex", default="openai/gpt-4o")
    args = parser.parse_args()
    sets = {name: [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines() if line.strip()]
            for name in ("complexity_prompts", "complexity_holdout")}
    rows = []
    for name, prompts in sets.items():
        for threshold in (0.3, 0.5, 0.7):
            r = evaluate(prompts, threshold, args.simple, args.complex)
            rows.append((name, len(prompts), threshold, f"{100 * r['accuracy']:.1f} %", f"{100 * r['to_simple']:.0f} %",
                         int(r["complex_to_simple"]), f"${r['always']:.4f}", f"${r['routed']:.4f}",
                         f"{100 * r['saved']:.1f} %"))
    print_table(f"complexity routing: simple {args.simple}, complex {args.complex}",
                ["set", "prompts", "threshold", "accuracy", "sent to simple", "complex sent to simple",
                 "always complex", "routed", "saved"], rows)
    every = [r["prompt"] for prompts in sets.values() for r in prompts]
    start = time.perf_counter()
    for prompt in every:
        probability_complex([{"role": "user", "content": prompt}])
    print(f"classifier: {1e6 * (time.perf_counter() - start) / len(every):.0f} µs per request "
          f"(mean over {len(every)} prompts)")


if __name__ == "__main__":
    main()
