"""Audit attributes: protected characteristics are never model features unless allowed by name.

DESIGN.md: "Audit attributes and well-being data are governed: excluded from features and from
advisor-facing reasons unless the caller opts in by name." :class:`RiskModel` applies that rule in
``fit``. A column is an **audit attribute** when

- it is declared: ``RiskModel(audit_attributes=...)`` / ``fit(..., audit_attributes=...)``, or its
  :class:`~studentprofile.features.FeatureInfo` says ``sensitivity="audit"``; or
- it is detected: its name names a protected characteristic (:data:`PROTECTED_CHARACTERISTICS`,
  English and the usual pinyin and Chinese, matched as whole words: ``Age at enrollment`` and
  ``age_band`` match ``age``; ``page_views`` and ``average`` do not), or its values are the
  usual codes of one (:data:`PROTECTED_VALUES`: a text column whose levels are all e.g.
  ``F``/``M``/``female``/``male``).

Audit attributes are **left out of the model's features** (the booster never sees them, so no
reason, score or SHAP value can rest on them), except those named in ``allow_features`` and
those a :class:`~studentprofile.features.FeatureBuilder` was told to build with
``StaticFeatures(..., allow_audit=[...])``: those stay features, marked ``sensitivity="audit"``,
and reasons cite them only when ``reasons(allow=[...])`` names them. Detected columns raise one
:class:`~studentprofile.errors.DataQualityWarning` naming them. The fitted model lists what it
left out and why in ``excluded_features_`` (also in ``training_info_`` and the saved model).

Proxies are not detected (an ``International`` flag, a postcode, a mother's occupation):
declare them with ``audit_attributes=``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError

__all__ = [
    "PROTECTED_CHARACTERISTICS",
    "PROTECTED_VALUES",
    "detect_protected",
    "names_param",
]

#: Protected characteristic -> words of a column name that name it (lower case; Latin words
#: match whole words of the name, Chinese ones anywhere in it).
PROTECTED_CHARACTERISTICS: dict[str, tuple[str, ...]] = {
    "sex or gender": ("sex", "gender", "genders", "xingbie", "性别"),
    "race": ("race", "racial", "zhongzu", "种族"),
    "ethnicity": ("ethnicity", "ethnic", "ethnicities", "minzu", "民族"),
    "nationality": (
        "nationality", "nacionality", "nationalities", "citizenship", "guoji", "国籍",
    ),
    "religion": ("religion", "religious", "faith", "zongjiao", "宗教", "信仰"),
    "disability": (
        "disability", "disabilities", "disabled", "handicap", "canji", "残疾", "残障",
        "special needs",
    ),
    "age": (
        "age", "ages", "ageband", "agegroup", "dob", "birth", "birthday", "birthdate",
        "birthyear", "nianling", "年龄", "出生",
    ),
    "marital status": ("marital", "marriage", "married", "hunyin", "婚姻", "婚否"),
    "pregnancy": ("pregnancy", "pregnant", "maternity", "huaiyun", "怀孕", "孕"),
    # not bare "orientation": an "orientation week" is a campus event, not a characteristic
    "sexual orientation": (
        "sexual orientation", "sexuality", "sexual", "lgbt", "lgbtq", "xingquxiang", "性取向",
    ),
}

#: Protected characteristic -> the usual value codes of a column holding it (lower case).
PROTECTED_VALUES: dict[str, frozenset[str]] = {
    "sex or gender": frozenset({
        "f", "m", "female", "male", "woman", "man", "women", "men", "non-binary", "nonbinary",
        "男", "女",
    }),
    "marital status": frozenset({
        "single", "married", "divorced", "widowed", "widow", "widower", "separated",
        "legally separated", "facto union", "civil partnership", "未婚", "已婚", "离异", "丧偶",
    }),
    "religion": frozenset({
        "christian", "catholic", "protestant", "orthodox", "muslim", "islam", "jewish",
        "hindu", "buddhist", "sikh", "atheist", "agnostic",
    }),
    "race or ethnicity": frozenset({
        "white", "black", "asian", "hispanic", "latino", "latina", "latinx", "mixed",
        "indigenous", "汉族", "回族", "藏族", "维吾尔族", "壮族", "满族", "蒙古族", "苗族",
    }),
}

# levels that may sit beside the codes of a characteristic without making the column another thing
_NEUTRAL_LEVELS = frozenset(
    {"other", "unknown", "prefer not to say", "not stated", "none", "", "其他", "未知"}
)
_MAX_LEVELS = 50
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"[a-z]+")


def _words(name: str) -> list[str]:
    text = unicodedata.normalize("NFKC", _CAMEL.sub(" ", name)).lower()
    return _WORD.findall(text)


def _name_match(name: str) -> tuple[str, str] | None:
    """Return (characteristic, word) when the column name names a protected characteristic."""
    words = _words(name)
    joined = f" {' '.join(words)} "
    lowered = unicodedata.normalize("NFKC", name).lower()
    for what, terms in PROTECTED_CHARACTERISTICS.items():
        for term in terms:
            if term.isascii():
                if f" {term} " in joined:
                    return what, term
            elif term in lowered:
                return what, term
    return None


def _value_match(col: pd.Series) -> tuple[str, list[str]] | None:
    """Return (characteristic, levels) when a text column holds the codes of one."""
    dtype = col.dtype
    if not (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return None
    values = col.dropna().unique()
    if len(values) > _MAX_LEVELS * 4:
        return None
    levels = sorted({str(v).strip().lower() for v in values})
    core = [v for v in levels if v not in _NEUTRAL_LEVELS]
    if len(core) < 2 or len(levels) > _MAX_LEVELS:
        return None
    for what, vocabulary in PROTECTED_VALUES.items():
        if all(v in vocabulary for v in core):
            return what, core
    return None


def detect_protected(name: str, col: pd.Series) -> str | None:
    """Say why a column looks like a protected characteristic, or None.

    Parameters
    ----------
    name : str
        The column name.
    col : Series
        Its values.

    Returns
    -------
    str or None
        E.g. ``"its name names a protected characteristic (age: 'age')"``.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_protected("Age at enrollment", pd.Series([19.0, 23.0]))
    "its name names a protected characteristic (age: 'age')"
    >>> detect_protected("kind", pd.Series(["F", "M", "F"]))
    "its values are codes of a protected characteristic (sex or gender: ['f', 'm'])"
    >>> detect_protected("page_views", pd.Series([3.0, 4.0])) is None
    True
    """
    hit = _name_match(name)
    if hit is not None:
        return f"its name names a protected characteristic ({hit[0]}: {hit[1]!r})"
    by_value = _value_match(col)
    if by_value is not None:
        return (
            f"its values are codes of a protected characteristic ({by_value[0]}: "
            f"{by_value[1][:6]!r})"
        )
    return None


def names_param(value: Any, key: str) -> list[str]:
    """Validate a parameter that names columns (None, one name, or a list of names)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise ConfigError(
            f"{key} must be a column name or a list of column names",
            key=key,
            arrived=repr(value),
            hint=f"e.g. {key}=['age_band']",
        )
    names = list(value)
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise ConfigError(
            f"{key} must list column names (text)", key=key, arrived=repr(bad),
        )
    return names
