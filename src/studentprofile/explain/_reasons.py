"""Reason codes: the few features that moved one student's risk most, in plain words.

Each reason is built from the feature's :class:`~studentprofile.features.FeatureInfo` (its phrase
and how to format its values), never from the column name, and reads

    "<Phrase> was <value> (cohort median <median>); this raised the risk estimate."

Features whose ``sensitivity`` is ``"sensitive"`` (well-being) or ``"audit"`` (protected
attributes) are left out unless the caller names them in ``allow``, and so is a feature whose
value reads the same as its reference (``"School was GP (most common GP)"`` is not a reason).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.features._info import FeatureInfo

__all__ = [
    "DIRECTIONS",
    "at_reference",
    "display_value",
    "eligible_features",
    "reason_sentence",
    "top_reasons",
]

#: Which contributions a reason list may hold.
DIRECTIONS: tuple[str, ...] = ("both", "raised", "lowered")


def eligible_features(
    feature_names: Sequence[str], infos: Mapping[str, FeatureInfo], allow: Iterable[str]
) -> np.ndarray:
    """Boolean mask of features that may appear in advisor-facing reasons."""
    allowed = [allow] if isinstance(allow, str) else list(allow)
    unknown = sorted(set(allowed) - set(feature_names))
    if unknown:
        raise ConfigError(
            "allow names features the model does not have",
            key="allow",
            arrived=repr(unknown),
            hint="name the sensitive or audit features to opt in, "
            "e.g. allow=['counselling_visits']",
        )
    wanted = set(allowed)
    return np.array(
        [infos[f].sensitivity == "normal" or f in wanted for f in feature_names], dtype=bool
    )


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def reason_sentence(
    info: FeatureInfo,
    value: Any,
    reference: Any,
    contribution: float,
    *,
    target: str = "the risk estimate",
    categorical: bool = False,
) -> str:
    """One plain-language sentence for one reason.

    Parameters
    ----------
    info : FeatureInfo
        The feature.
    value : float, str or None
        The student's value.
    reference : float, str or None
        The cohort median (numeric) or most common level (categorical); ``None`` leaves the
        parenthesis out.
    contribution : float
        The SHAP value (log-odds); its sign picks "raised" or "lowered".
    target : str, default "the risk estimate"
        What was raised or lowered.
    categorical : bool, default False
        Word the reference as "most common" instead of "cohort median".

    Returns
    -------
    str

    Examples
    --------
    >>> from studentprofile.features._info import FeatureInfo
    >>> info = FeatureInfo(name="att_30d", family="behavioral", kind="class_attendance",
    ...                    aggregate="mean", window="30d",
    ...                    phrase="class attendance over the last 30 days", unit="share")
    >>> print(reason_sentence(info, 0.62, 0.91, 0.4))
    Class attendance over the last 30 days was 62% (cohort median 91%); this raised the risk
    estimate.
    >>> print(reason_sentence(info, None, 0.91, -0.1))
    Class attendance over the last 30 days: no records (cohort median 91%); this lowered the risk
    estimate.
    """
    verb = "raised" if contribution > 0 else "lowered"
    ref = ""
    if reference is not None and not (isinstance(reference, float) and math.isnan(reference)):
        label = "most common" if categorical else "cohort median"
        ref = f" ({label} {info.format_value(reference)})"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        # a missing feature means there was nothing to measure (e.g. no events in the window)
        return f"{_capitalise(info.phrase)}: no records{ref}; this {verb} {target}."
    return f"{_capitalise(info.phrase)} was {info.format_value(value)}{ref}; this {verb} {target}."


def display_value(info: FeatureInfo, value: Any) -> Any:
    """Return the level a category code stands for, when ``info.extra["categories"]`` lists them.

    ``FeatureBuilder`` turns a text column of the students table into codes (code ``i`` is
    ``extra["categories"][i]``); reasons show the level, not the code.

    Examples
    --------
    >>> from studentprofile.features._info import FeatureInfo
    >>> info = FeatureInfo(name="program", family="static", kind="program", aggregate="value",
    ...                    window="static", phrase="programme",
    ...                    extra={"categories": ["Arts", "Law"]})
    >>> display_value(info, 1.0), display_value(info, 7.0), display_value(info, None)
    ('Law', 7.0, None)
    """
    levels = info.extra.get("categories") if isinstance(info.extra, dict) else None
    if (
        levels
        and isinstance(value, int | float | np.integer | np.floating)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
        and float(value).is_integer()
        and 0 <= int(value) < len(levels)
    ):
        return levels[int(value)]
    return value


def at_reference(info: FeatureInfo, value: Any, reference: Any) -> bool:
    """Tell whether a student's value reads the same as the reference (median or usual level).

    Such a feature still has a SHAP value (it is measured against the average over the
    training data, not against the median), but "School was GP (most common GP); this lowered
    the risk estimate" tells an advisor nothing about the student, so reasons pass it over and
    cite the next feature. Values are compared as a person reads them (formatted), so 0.604
    and 0.6 shown as "60%" both count as the reference "60%". A missing value is never at the
    reference.

    Examples
    --------
    >>> from studentprofile.features._info import FeatureInfo
    >>> info = FeatureInfo(name="school", family="static", kind="school", aggregate="value",
    ...                    window="static", phrase="school", unit="category")
    >>> at_reference(info, "GP", "GP"), at_reference(info, "MS", "GP")
    (True, False)
    >>> at_reference(info, None, None)
    False
    """
    if value is None or reference is None:
        return False
    if isinstance(value, float) and math.isnan(value):
        return False
    return info.format_value(value) == info.format_value(reference)


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def top_reasons(
    values: np.ndarray,
    data: pd.DataFrame,
    infos: Mapping[str, FeatureInfo],
    reference: Mapping[str, Any],
    *,
    top: int,
    allow: Iterable[str],
    direction: str,
    target: str,
) -> list[list[dict[str, Any]]]:
    """Reason records for every row: the ``top`` eligible features by absolute contribution."""
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ConfigError("top must be a positive integer", key="top", arrived=repr(top))
    if direction not in DIRECTIONS:
        raise ConfigError(
            f"direction must be one of {list(DIRECTIONS)!r}",
            key="direction",
            arrived=repr(direction),
            hint="'raised' keeps only what raised the risk, 'lowered' only what lowered it",
        )
    names = [str(c) for c in data.columns]
    ok = eligible_features(names, infos, allow)
    score = np.abs(values)
    score[:, ~ok] = 0.0
    if direction == "raised":
        score[values <= 0] = 0.0
    elif direction == "lowered":
        score[values >= 0] = 0.0
    k = min(int(top), len(names))
    # order by |contribution| descending, ties by column order (stable); every column is
    # ranked because a feature at its reference value is passed over (see below)
    order = np.argsort(-score, axis=1, kind="stable")
    categorical = {
        c: isinstance(data[c].dtype, pd.CategoricalDtype) for c in names
    }
    columns = {c: data[c].to_numpy(dtype=object) for c in names}
    out: list[list[dict[str, Any]]] = []
    for i in range(values.shape[0]):
        rows: list[dict[str, Any]] = []
        for j in order[i]:
            if score[i, j] <= 0 or len(rows) == k:
                break
            name = names[j]
            info = infos[name]
            value = display_value(info, _plain(columns[name][i]))
            ref = display_value(info, _plain(reference.get(name)))
            if at_reference(info, value, ref):
                continue
            contribution = float(values[i, j])
            rows.append(
                {
                    "feature": name,
                    "phrase": info.phrase,
                    "family": info.family,
                    "kind": info.kind,
                    "value": value,
                    "value_text": info.format_value(value),
                    "reference": ref,
                    "reference_text": None if ref is None else info.format_value(ref),
                    "direction": "raised" if contribution > 0 else "lowered",
                    "contribution": contribution,
                    "sentence": reason_sentence(
                        info,
                        value,
                        ref,
                        contribution,
                        target=target,
                        categorical=categorical[name] or bool(info.extra.get("categories")),
                    ),
                }
            )
        out.append(rows)
    return out
