"""The ABC rule baseline as a candidate for :func:`studentprofile.evaluation.compare`.

A learned risk model has to beat the rule a campus could run without one. :func:`abc_baseline`
wraps the ABC indicators (:class:`~studentprofile.warning.ABCRules`) in a
:class:`~studentprofile.evaluation.RuleScorer` that ranks rows by ``abc_score`` (flags plus a
severity fraction). The pipeline's ``[model] baselines = ["abc_rules"]`` uses this same function,
so a notebook's comparison and a configured run judge the same baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.features._info import FeatureInfo
from studentprofile.warning._abc import ABCRules, abc_flags
from studentprofile.warning._inputs import describe_selector, infos_for, select_features

__all__ = ["ABC_DEFAULTS", "abc_baseline"]

#: The classic ABC indicators looked for among the features when no rules are given: each one
#: that matches exactly one column is used (attendance, behaviour, course).
ABC_DEFAULTS: dict[str, dict[str, Any]] = {
    "attendance": {"kind": "class_attendance", "aggregate": "mean", "window": "30d"},
    "behaviour": {"kind": "assessment_missed", "aggregate": "count", "window": "30d"},
    "course": {"family": "academic", "aggregate": "mean", "window": "30d", "unit": "score"},
}

NONE_MATCHED = ("none of the classic ABC indicators (attendance, behaviour, course) matches "
                "exactly one feature column")


def _infos(feature_info: Any) -> dict[str, FeatureInfo] | None:
    """FeatureInfo records from a mapping, a fitted builder or a feature matrix (or None)."""
    if feature_info is None:
        return None
    if isinstance(feature_info, pd.DataFrame):
        return infos_for(feature_info, None)
    if hasattr(feature_info, "feature_info_"):
        feature_info = feature_info.feature_info_
        if feature_info is None:
            return None
    if isinstance(feature_info, Mapping):
        return infos_for(pd.DataFrame(columns=list(feature_info)), feature_info)
    raise ConfigError(
        "feature_info must be a mapping of FeatureInfo, a fitted FeatureBuilder or a feature "
        "matrix",
        key="feature_info",
        arrived=f"an object of type {type(feature_info).__name__}",
        hint="pass builder.feature_info_, the fitted builder, or X",
    )


def _default_rules(infos: Mapping[str, FeatureInfo]) -> ABCRules:
    chosen: dict[str, Any] = {name: sel for name, sel in ABC_DEFAULTS.items()
                              if len(select_features(infos, sel, key=f"rules.{name}")) == 1}
    if not chosen:
        raise ConfigError(
            NONE_MATCHED,
            key="rules",
            arrived=f"{len(infos)} feature column(s), e.g. {list(infos)[:4]!r}",
            hint="name the columns, e.g. rules={'attendance': 'att_30d', 'course': "
            "'score_mean_30d'}, or pass ABCRules",
        )
    return ABCRules.classic(**chosen)


def _check_rules(rules: ABCRules, infos: Mapping[str, FeatureInfo]) -> None:
    for ind in rules.indicators:
        found = select_features(infos, ind.feature, key=f"rules.{ind.name}")
        if len(found) != 1:
            raise ConfigError(
                "must select exactly one feature column",
                key=f"rules.{ind.name}",
                arrived=f"{describe_selector(ind.feature)} matches {len(found)} column(s) "
                f"{found[:4]!r}",
                hint="name the column, or add FeatureInfo fields (aggregate, window)",
            )


class ABCScore:
    """The score function of :func:`abc_baseline` (picklable; ``rules`` None until resolved).

    Parameters
    ----------
    rules : ABCRules or None
        The rules; None picks :data:`ABC_DEFAULTS` from the features it is given.
    """

    def __init__(self, rules: ABCRules | None) -> None:
        self.rules = rules

    def __call__(self, X: pd.DataFrame, feature_info: Any = None) -> Any:
        """Return ``abc_score`` for each row of ``X``."""
        rules = self.rules
        if rules is None:
            infos = _infos(feature_info) or infos_for(X, None)
            rules = _default_rules(infos)
            self.rules = rules
        return abc_flags(X, rules, feature_info=feature_info, reasons=False)["abc_score"]

    def __repr__(self) -> str:
        if self.rules is None:
            return "ABCScore(rules from ABC_DEFAULTS)"
        return f"ABCScore({[i.name for i in self.rules.indicators]!r})"


def abc_baseline(
    feature_info: Any = None,
    *,
    rules: ABCRules | Mapping[str, Any] | None = None,
    name: str = "ABC",
) -> Any:
    """Build the ABC rule baseline as a candidate for :func:`~studentprofile.evaluation.compare`.

    Parameters
    ----------
    feature_info : mapping of FeatureInfo, fitted FeatureBuilder or DataFrame, optional
        The features the rules read (``builder.feature_info_``, the fitted builder, or the
        feature matrix ``X``). With it the rules are resolved and checked now; without it,
        when the candidate is first scored, against the features the backtest passes.
    rules : ABCRules or mapping, optional
        The rules, or :meth:`ABCRules.classic` keywords (``{"attendance": "att_30d",
        "course": {"family": "academic", ...}, "course_below": 50}``). Default: each classic
        indicator of :data:`ABC_DEFAULTS` that matches exactly one feature column.
    name : str, default "ABC"
        For display.

    Returns
    -------
    RuleScorer
        Its ``score.rules`` is the :class:`ABCRules` used (None until resolved when no
        ``feature_info`` was given). The score is a ranking (flags plus severity), not a
        probability: read its AUC and precision at k, not its calibration.

    Raises
    ------
    ConfigError
        ``rules`` of the wrong type; a rule that does not select exactly one column; no
        classic indicator found among the features (when ``rules`` is not given).

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.warning import abc_baseline
    >>> X = pd.DataFrame({"att": [0.95, 0.5], "score": [70.0, 20.0]},
    ...                  index=pd.MultiIndex.from_tuples([("a", 1.0), ("b", 1.0)],
    ...                                                  names=["student_id", "as_of"]))
    >>> abc = abc_baseline(X, rules={"attendance": "att", "course": "score"})
    >>> [i.name for i in abc.score.rules.indicators]
    ['attendance', 'course']
    >>> abc.fit(X, [0, 1]).predict_proba(X)[:, 1].round(3)
    array([0.5  , 0.886])

    In a comparison, after the built-in baselines (judged, never shipped)::

        compare({"lgbm": RiskModel()}, tables, splits, feature_builder=builder,
                outcome="withdrawn", extra_baselines={"abc_rules": abc_baseline()})
    """
    from studentprofile.evaluation import RuleScorer

    if rules is not None and not isinstance(rules, ABCRules | Mapping):
        raise ConfigError(
            "rules must be ABCRules or a mapping of ABCRules.classic keywords",
            key="rules",
            arrived=f"an object of type {type(rules).__name__}",
            hint="e.g. rules={'attendance': 'att_30d'} or ABCRules.classic(...)",
        )
    resolved: ABCRules | None
    if isinstance(rules, Mapping):
        try:
            resolved = ABCRules.classic(**dict(rules))
        except TypeError as exc:
            raise ConfigError(
                "rules has a keyword ABCRules.classic does not take",
                key="rules",
                arrived=repr(sorted(rules)),
                hint="use attendance, behaviour, course, attendance_below, "
                "incidents_at_least, course_below, min_flags",
            ) from exc
    else:
        resolved = rules
    infos = _infos(feature_info)
    if infos is not None:
        if resolved is None:
            resolved = _default_rules(infos)
        else:
            _check_rules(resolved, infos)
    return RuleScorer(ABCScore(resolved), name=name)
