"""The two built-in workflows.

``security_review`` (Artemis): the vulnerability scanner, the security auditor and the performance
optimizer read the same code at once; the code reviewer merges their findings into one deduplicated
report with severities, line references and fixes.

``market_brief`` (Sophia): the market analyst and the financial analyst work at once (their citations
are kept); the sales strategist turns their analyses into recommendations; customer success reviews
the tone once (and the strategist revises when asked to).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from app.workflows.definition import Parallel, Review, Step, StepContext, Verdict, Workflow
from app.workflows.prompts import as_json

Severity = Literal["critical", "high", "medium", "low", "info"]
SEVERITY_ORDER: tuple[str, ...] = ("critical", "high", "medium", "low", "info")


# ----- security_review ----------------------------------------------------------------------------

class CodeInput(BaseModel):
    """The code to review, and what helps reading it."""

    code: str = Field(min_length=1, max_length=100_000, description="the source code to review")
    language: str = Field("unspecified", max_length=40)
    filename: str = Field("snippet", max_length=200)
    context: str = Field("", max_length=4000, description="what the code does, who calls it, what it trusts")


class Finding(BaseModel):
    """One issue in the code."""

    title: str
    severity: Severity
    line: int | None = Field(None, ge=1, description="the line number, as numbered in the prompt")
    reference: str | None = Field(None, description="a CWE or CVE id, when one applies")
    description: str
    fix: str = Field(description="the concrete change that removes the issue")


class Findings(BaseModel):
    """What one review found."""

    findings: list[Finding]
    summary: str


class ReportFinding(Finding):
    """A finding of the merged report, with the reviews that reported it."""

    found_by: list[str] = Field(description="the reviews that reported it: scan, audit, performance")


class SecurityReport(BaseModel):
    """The merged report: one entry per distinct issue, most severe first."""

    summary: str
    findings: list[ReportFinding]

    @model_validator(mode="after")
    def _ordered(self) -> SecurityReport:
        # Exact repeats (same title and line) merged; most severe first, then by line, whatever the model sent.
        unique: dict[tuple[str, int | None], ReportFinding] = {}
        for finding in self.findings:
            key = (finding.title.strip().lower(), finding.line)
            kept = unique.get(key)
            if kept is None or SEVERITY_ORDER.index(finding.severity) < SEVERITY_ORDER.index(kept.severity):
                unique[key] = finding
        self.findings = sorted(unique.values(), key=lambda f: (SEVERITY_ORDER.index(f.severity), f.line or 0))
        return self


def numbered(code: str) -> str:
    """The code with each line's number in front, so findings can name their lines."""
    lines = code.splitlines() or [""]
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, 1))


def _code_block(code: BaseModel) -> str:
    assert isinstance(code, CodeInput), "security_review's input is a CodeInput"
    context = f"\nContext: {code.context}" if code.context else ""
    return f"File {code.filename} ({code.language}), lines numbered:{context}\n```\n{numbered(code.code)}\n```"


def _review_prompt(aspect: str) -> Callable[[StepContext], str]:
    def prompt(context: StepContext) -> str:
        return (f"Review this code for {aspect}. Report each finding with the number of the line it is on, its "
                "severity, the CWE or CVE id when one applies, and a concrete fix. Report nothing you cannot tie "
                "to the code; an empty list is a valid answer.\n\n" + _code_block(context.input))

    return prompt


def _merge_prompt(context: StepContext) -> str:
    reviews = [f"Findings of the {name} review:\n{as_json(output)}" for name, output in context.outputs.items()]
    reviews += [f"The {name} review has no findings to merge: {reason}." for name, reason in context.missing.items()]
    return ("Three independent reviews (scan: known vulnerable patterns and dependencies; audit: security flaws; "
            "performance: hot paths) looked at the code below. Merge their findings into one report: one entry "
            "per distinct issue (merge duplicates, keep the highest severity, the most precise line and the best "
            "fix, and list in found_by every review that reported it), most severe first. Check each finding "
            "against the code; drop those the code does not support.\n\n"
            + _code_block(context.input) + "\n\n" + "\n\n".join(reviews))


SECURITY_REVIEW = Workflow(
    name="security_review",
    description="scanner, auditor and performance optimizer read the same code at once; the code reviewer "
                "merges their findings into one deduplicated report with severities, line references and fixes",
    input=CodeInput,
    steps=(
        Parallel((
            Step("scan", "artemis/vulnerability_scanner", _review_prompt(
                "known vulnerable patterns, dependencies and configurations"), Findings, on_error="skip",
                 focus="known vulnerabilities and dependencies"),
            Step("audit", "artemis/security_auditor", _review_prompt(
                "security flaws (injection, authentication, secrets, input handling)"), Findings, on_error="skip",
                 focus="application security"),
            Step("performance", "artemis/performance_optimizer", _review_prompt(
                "performance problems (complexity, allocations, I/O, round trips)"), Findings, on_error="skip",
                 focus="hot paths and resource use"),
        )),
        Step("report", "artemis/code_reviewer", _merge_prompt, SecurityReport, max_tokens=4000,
             focus="merging security reviews"),
    ),
    source="built-in",
)


# ----- market_brief -------------------------------------------------------------------------------

class MarketQuestion(BaseModel):
    """What the brief is about."""

    topic: str = Field(min_length=1, max_length=2000, description="the market, product or question")
    region: str = Field("global", max_length=100)
    audience: str = Field("the executive team", max_length=200)


class MarketAnalysis(BaseModel):
    """The market analyst's view: trends, drivers and size, with sources."""

    summary: str
    key_points: list[str] = Field(description="trends, each with its driver and size")
    recommendations: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    sources: list[str] = Field(description="publication and date, or URL, of every claim")


class FinancialAnalysis(BaseModel):
    """The financial analyst's view: the numbers and what they rest on."""

    summary: str
    key_points: list[str] = Field(description="market size, growth, margins and unit economics, with figures")
    recommendations: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0, le=1)
    assumptions: list[str] = Field(description="each assumption, and whether the conclusion is sensitive to it")


class MarketBrief(BaseModel):
    """The sales strategist's brief."""

    summary: str
    key_points: list[str]
    recommendations: list[str] = Field(description="each an action, who does it, and the metric that shows it works")
    confidence: float = Field(ge=0, le=1)
    risks: list[str] = Field(default_factory=list)


class ToneReview(Verdict):
    """Customer success's verdict on the brief's tone."""


MARKET_BRIEF = Workflow(
    name="market_brief",
    description="market and financial analysts at once (citations kept); the sales strategist turns them into "
                "recommendations; customer success reviews the tone once",
    input=MarketQuestion,
    steps=(
        Parallel((
            Step("market", "sophia/market_analyst",
                 "Analyse the market for {input.topic} in {input.region}: the current trends, their drivers and "
                 "their size. Name the source (publication and date, or URL) of every claim.",
                 MarketAnalysis, on_error="skip", focus="market research"),
            Step("finance", "sophia/financial_analyst",
                 "Assess the economics of {input.topic} in {input.region}: market size, growth rates, margins and "
                 "unit economics. State every assumption and the figures the conclusion is most sensitive to.",
                 FinancialAnalysis, on_error="skip", focus="market economics"),
        )),
        Review(
            work=Step("recommend", "sophia/sales_strategist",
                      "Turn the market and financial analyses below into a brief on {input.topic} for "
                      "{input.audience}: what to do, for which segments, through which channels, and the metric "
                      "that shows each recommendation works. Keep the analysts' sources for the claims you use.",
                      MarketBrief, focus="go-to-market strategy"),
            reviewer=Step("tone", "sophia/customer_success",
                          "Review the tone of this brief for {input.audience}: is it clear, free of hype and "
                          "jargon, and fair to customers? Approve it, or list the concrete changes to make.",
                          ToneReview, uses=("recommend",), on_error="skip", focus="customer communication"),
            rounds=1,
        ),
    ),
    source="built-in",
)

BUILTIN: dict[str, Workflow] = {w.name: w for w in (SECURITY_REVIEW, MARKET_BRIEF)}

__all__ = ["BUILTIN", "MARKET_BRIEF", "SECURITY_REVIEW"]
