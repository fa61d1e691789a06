"""The ``complexity`` classifier: is a request simple (a small model answers it well) or complex?

Local, no model call, tens of microseconds: a logistic regression over features of the messages
(length, code, vocabulary of reasoning and design versus lookup and rewording, numbers, parts of
the ask). Its weights are data (``complexity_model.json``), fitted by ``scripts/fit_complexity.py``
on the labelled prompts in ``tests/data/complexity_prompts.jsonl``; the README reports its accuracy
and the cost it saves. The local sentence embedder was considered and left out: embedding a
prompt costs 20-30 ms on a CPU core, a hundred times the budget of a routing decision.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

_COMPLEX = re.compile(
    r"\b(design|architect\w*|analy[sz]\w*|evaluat\w*|compar\w*|trade-?offs?|optimi[sz]\w*|refactor\w*|debug\w*|"
    r"diagnos\w*|prove|proof|deriv\w*|strateg\w*|plan|planning|roadmap|forecast\w*|model(?:ling|ing)?|simulat\w*|"
    r"migrat\w*|implement\w*|assess\w*|recommend\w*|prioriti[sz]\w*|justif\w*|step[- ]by[- ]step|in detail|"
    r"pros and cons|consequences|implications|risks?|scal(?:e|able|ability|ing)|concurren\w*|race condition|"
    r"deadlock\w*|distributed|security|threat\w*|vulnerab\w*|complexity|algorithm\w*|bottleneck\w*|invariant\w*|"
    r"consisten\w*|latency|throughput|root causes?|why|whether|how would|how should|should we|should i|"
    r"what would|investigat\w*|curriculum|itinerary|framework|structure|scenarios?|sensitivity|impact|"
    r"segment\w*|experiment\w*|negotiat\w*|weigh\w*|versus|vs\.?|trade|reconcil\w*|calculat\w*|estimate\w*|"
    r"worth|caused?|causes|compatible|best way|actually|reduce|safe|thread-safe|explain)\b",
    re.IGNORECASE)
_SIMPLE = re.compile(
    r"\b(what is|what's|what are|what does|who is|who was|who wrote|who painted|who discovered|when did|"
    r"where is|define|definition|meaning of|translate|spell|synonyms?|antonym|opposite of|plural|convert|"
    r"rename|format|fix the (?:typo|grammar|syntax|indentation)|correct the|one[- ](?:sentence|line|word)|"
    r"briefly|in \w+ words|short|stand for|acronym|how many|how much is|how do i|how do you|capital of|"
    r"fun fact|joke|haiku|limerick|rhyme|tagline|subject line|name for|title for|hello|hi|thanks|thank you|"
    r"good (?:morning|night)|default (?:port|branch)|shortcut|one-liner|sort|alphabetical(?:ly)?|in order|"
    r"capitali[sz]e|proofread|shorten|extract|count|replace|bulleted|turn (?:this|these) into|put these|in words|"
    r"alphabeti[sz]e)\b",
    re.IGNORECASE)
_SIMPLE_OPENING = re.compile(
    r"^\s*(what(?:'s| is| are| does| do)|who|when|where|which|define|translate|spell|convert|how many|how do i|"
    r"give me (?:a|an|three|two|the)|is |are |name |list |say |tell me a|write a (?:one|haiku|short|css|docstring)|"
    r"hi\b|hello|thanks|good )", re.IGNORECASE)
_CODE_LINE = re.compile(
    r"^(\s{2,}\S|\s*(def|class|func|fn|function|import|from|return|if|for|while|let|var|const|async|await|"
    r"select|insert|update|with|go|public|private)\b)|[{};]\s*$|^\s*[\])}]", re.IGNORECASE)
_NUMBER = re.compile(r"\d[\d,.]*%?")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_PARTS = re.compile(r",|;|\band\b|\bthen\b|\bwith\b|\bwithout\b|\bincluding\b", re.IGNORECASE)

FEATURES = ("log_chars", "code_lines", "complex_terms", "simple_terms", "simple_opening", "numbers", "sentences",
            "parts", "questions")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def features(messages: Sequence[Mapping[str, Any]]) -> list[float]:
    """The classifier's inputs for a conversation, in ``FEATURES`` order: read from the last user
    message (the request; system prompts describe the role, earlier turns its history)."""
    last = next((_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    prose = "\n".join(line for line in last.splitlines() if not _CODE_LINE.search(line))
    return [
        math.log1p(len(last)),
        math.log1p(sum(1 for line in last.splitlines() if _CODE_LINE.search(line)) + last.count("```")),
        float(min(len(_COMPLEX.findall(prose)), 8)),
        float(min(len(_SIMPLE.findall(prose)), 4)),
        1.0 if _SIMPLE_OPENING.match(last) else 0.0,
        math.log1p(len(_NUMBER.findall(prose))),
        math.log1p(len(_SENTENCE_END.findall(prose))),
        math.log1p(len(_PARTS.findall(prose))),
        float(min(prose.count("?"), 4)),
    ]


@dataclass(frozen=True, slots=True)
class ComplexityModel:
    """A logistic regression over standardised ``features``: ``probability`` that a request is complex."""

    weights: tuple[float, ...]
    bias: float
    means: tuple[float, ...]
    scales: tuple[float, ...]

    def probability(self, messages: Sequence[Mapping[str, Any]]) -> float:
        """P(complex) for a conversation, between 0 and 1."""
        z = self.bias
        for x, w, mean, scale in zip(features(messages), self.weights, self.means, self.scales, strict=True):
            z += w * (x - mean) / scale
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def as_json(self) -> dict[str, Any]:
        """The model as stored in ``complexity_model.json``."""
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias,
                "means": list(self.means), "scales": list(self.scales)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComplexityModel:
        """Read a stored model; raises ValueError when it was fitted on other features."""
        if list(data["features"]) != list(FEATURES):
            raise ValueError("complexity model was fitted on other features; rerun scripts/fit_complexity.py")
        return cls(tuple(data["weights"]), float(data["bias"]), tuple(data["means"]), tuple(data["scales"]))


@lru_cache(maxsize=1)
def default_model() -> ComplexityModel:
    """The shipped model (package data)."""
    text = files("app.routing").joinpath("complexity_model.json").read_text(encoding="utf-8")
    return ComplexityModel.from_json(json.loads(text))


def probability_complex(messages: Sequence[Mapping[str, Any]]) -> float:
    """P(complex) of a conversation under the shipped model."""
    return default_model().probability(messages)
