"""Budgets: the ``energy_budget`` and ``energy_ratio`` markers judged against a test's figures."""

from __future__ import annotations

from ..markers import Budget, RatioRule
from ..measurement.candidates import VersusResult
from ..measurement.carbon import Intensity
from ..results import BudgetCheck, TestResult


def judge_budget(result: TestResult, budget: Budget, intensity: Intensity) -> BudgetCheck:
    """Judge ``budget`` on the result's figure; the message says which figure it was."""
    joules = result.joules
    message = None
    if budget.joules is not None and joules > budget.joules:
        message = f"energy budget exceeded: {result.describe_figure()} > {budget.joules:g} J"
    elif budget.co2_g is not None and intensity.co2_g(joules) > budget.co2_g:
        message = (
            f"energy budget exceeded: {intensity.co2_g(joules):.3g} gCO2e from {result.describe_figure()} "
            f"at {intensity.describe()} > {budget.co2_g:g} gCO2e"
        )
    elif budget.sci_g is not None and result.sci is not None and result.sci.sci_g > budget.sci_g:
        sci = result.sci
        modelled = " (modelled)" if sci.modelled else ""
        message = (
            f"energy budget exceeded: SCI {sci.sci_g:.3g} gCO2e per call{modelled}"
            f" = operational {sci.operational_g:.3g} + embodied {sci.embodied_g:.3g}, from "
            f"{result.describe_figure()} > {budget.sci_g:g} gCO2e"
        )
    return BudgetCheck(budget.joules, budget.co2_g, "over" if message else "ok", message, budget.sci_g)


def check_ratio(rule: RatioRule, versus: VersusResult | None) -> str | None:
    """The failure message of an ``energy_ratio`` marker, or None when the ratio is within bounds."""
    if versus is None:
        return "energy_ratio marker: the test made no energy.versus(...) call"
    if rule.candidate not in versus.candidates or rule.candidate == versus.reference:
        return (f"energy_ratio marker: candidate {rule.candidate!r} is not a compared candidate "
                f"other than the reference {versus.reference!r}")
    return versus.check_ratio(rule.candidate, at_most=rule.at_most, at_least=rule.at_least)
