"""What a semantic match may not paraphrase: the literal parts of a prompt.

A sentence embedding scores "revenue growth in Q3 2024" against "... Q4 2024" at 0.95, and "the
benefits of TypeScript over JavaScript" against its reverse at 0.99, yet the answers differ. So the
semantic cache only compares prompts whose literals are equal, in order; the embedding judges the
prose around them. Literals are:

- code: fenced blocks, and every line that is indented or holds code punctuation ``(){}[]=;<>`\\``
  (the whole line must match: "return a - b" and "return b - a" are different requests);
- in prose lines, tokens holding a digit or a symbol (``Q3``, ``$100``, ``foo_bar``, ``v2.1``);
- names: capitalised words that do not start a sentence (``France``, ``TypeScript``);
- polarity words, which flip a question while barely moving its embedding: "Is coffee good for
  your health?" against "... bad ..." scores 0.954, "How can we increase customer churn?" against
  "... reduce ..." 0.964 (see POLARITY).

This errs towards a miss ("what is the capital of france" does not match "... France?"): a miss
costs one call, a wrong hit costs a wrong answer.
"""

from __future__ import annotations

import re

_CODE_LINE = re.compile(r"^(\s{2,}|\t)|[(){}\[\]=;<>`\\]")
_SYMBOLIC = re.compile(r"[0-9_/@#$%&*+|~^]|^-+$")
_EDGE_PUNCT = "\"'.,!?:;"
_SENTENCE_END = re.compile(r"[.!?:]$")
_PRONOUNS = frozenset({"I", "I'm", "I've", "I'd", "I'll"})
# Words whose opposite makes a different question; compared case-insensitively.
_POLARITY_WORDS = '''
not no never without nor don't doesn't didn't isn't aren't wasn't can't cannot won't shouldn't
good bad better worse best worst right wrong safe unsafe true false
more less most least fewer many few much little
increase increasing decrease decreasing reduce reducing raise raising lower lowering higher
grow growing shrink shrinking gain lose loss profit cut cutting
add remove delete insert enable disable allow deny block accept reject include exclude
pros cons advantages disadvantages benefits drawbacks strengths weaknesses opportunities threats
before after above below over under min max minimum maximum first last
largest smallest biggest highest lowest oldest newest fastest slowest cheapest
buy sell long short up down open close start stop read write import export encrypt decrypt
'''
POLARITY = frozenset(_POLARITY_WORDS.split())


def normalise(text: str) -> str:
    """The text that gets embedded: whitespace collapsed, trailing sentence punctuation dropped.

    The model is case-insensitive but punctuation-sensitive: "What is the capital of France?"
    against "Which city is the capital of France?" scores 0.94 as written and 0.97 without the "?".
    """
    return re.sub(r"\s+", " ", text).strip().rstrip(".!? ").strip()


def literals(text: str) -> tuple[str, ...]:
    """The literal parts of ``text``, in order: code lines, symbolic tokens, names and polarity words."""
    found: list[str] = []
    in_fence = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            found.append(line.strip())
            continue
        if in_fence or _CODE_LINE.search(line):
            found.append(line.strip())
            continue
        sentence_start = True
        for raw in line.split():
            token = raw.strip(_EDGE_PUNCT)
            if token.lower() in POLARITY:
                found.append(token.lower())
            elif token and (_SYMBOLIC.search(token) or (not sentence_start and token[0].isupper()
                                                        and token not in _PRONOUNS)):
                found.append(token)
            sentence_start = bool(_SENTENCE_END.search(raw))
    return tuple(found)
