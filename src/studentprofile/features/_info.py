"""FeatureInfo: what each feature column means, for reason codes, model cards and audits.

Nothing downstream parses column names: explanations, reasons and the model card read these
records. A feature matrix from :class:`~studentprofile.features.FeatureBuilder` carries one per
column in ``builder.feature_info_``; for any other DataFrame, :func:`infer_feature_infos` derives
plain records from the columns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import pandas as pd

from studentprofile.errors import ConfigError

__all__ = [
    "FEATURE_INFO_ATTR",
    "SENSITIVITY_LEVELS",
    "FeatureInfo",
    "attached_feature_infos",
    "infer_feature_infos",
]

#: The key under which a feature matrix carries its feature infos in ``X.attrs``: a dict of
#: column name -> :meth:`FeatureInfo.to_dict` (JSON-ready, so the frame still writes to Parquet).
#: pandas keeps ``attrs`` through the usual slicing (``X[mask]``, ``X.tail(5)``, ``X.loc[...]``).
FEATURE_INFO_ATTR = "feature_info"

Sensitivity = Literal["normal", "sensitive", "audit"]

#: ``normal`` features may appear in advisor-facing reasons; ``sensitive`` ones (well-being) and
#: ``audit`` ones (protected attributes) only when the caller opts in by name.
SENSITIVITY_LEVELS: tuple[str, ...] = ("normal", "sensitive", "audit")


@dataclass(frozen=True)
class FeatureInfo:
    """What one feature column means.

    Parameters
    ----------
    name : str
        The column name in the feature matrix.
    family : str
        ``academic``, ``behavioral``, ``participation``, ``wellbeing`` or ``static`` (a column of
        the students table).
    kind : str
        The event kind (``class_attendance``) or the static attribute's name.
    aggregate : str
        ``count``, ``mean``, ``slope``, ... or ``value`` for a static attribute.
    window : str
        ``7d``, ``30d``, ``all``, ``term`` or ``static``.
    phrase : str
        A plain-language noun phrase, e.g. ``"class attendance rate over the last 30 days"``; a
        reason reads "<Phrase> was <value> (cohort median <m>)".
    unit : str, default ""
        How to format values: ``share`` (0-1, shown as a percentage), ``percent`` (0-100),
        ``count``, ``days``, ``per day``, ``score``, ``bits`` or ``""``.
    sensitivity : {"normal", "sensitive", "audit"}, default "normal"
        Governs whether the feature may appear in advisor-facing reasons.
    transform : str, optional
        A cohort-relative transform applied (``zscore``, ``percentile``, ``ratio``) or ``None``.
    dimension : str, optional
        For participation features, the education dimension (moral, intellectual, physical,
        aesthetic, labour).
    higher_is : {"better", "worse", "neutral"}, default "neutral"
        The usual direction of the feature for a student's success, used to suggest monotone
        constraints and to word reasons; ``neutral`` when unknown.
    extra : dict
        Anything else (JSON-ready).

    Examples
    --------
    >>> info = FeatureInfo(name="att_rate_30d", family="behavioral", kind="class_attendance",
    ...                    aggregate="mean", window="30d",
    ...                    phrase="class attendance rate over the last 30 days", unit="share")
    >>> info.format_value(0.62)
    '62%'
    >>> FeatureInfo.from_dict(info.to_dict()) == info
    True
    """

    name: str
    family: str
    kind: str
    aggregate: str
    window: str
    phrase: str
    unit: str = ""
    sensitivity: str = "normal"
    transform: str | None = None
    dimension: str | None = None
    higher_is: str = "neutral"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sensitivity not in SENSITIVITY_LEVELS:
            raise ConfigError(
                f"sensitivity must be one of {list(SENSITIVITY_LEVELS)!r}",
                key=f"FeatureInfo({self.name!r}).sensitivity",
                arrived=repr(self.sensitivity),
                hint="use 'normal', 'sensitive' (well-being) or 'audit' (protected attributes)",
            )
        if self.higher_is not in ("better", "worse", "neutral"):
            raise ConfigError(
                "higher_is must be 'better', 'worse' or 'neutral'",
                key=f"FeatureInfo({self.name!r}).higher_is",
                arrived=repr(self.higher_is),
            )

    def __hash__(self) -> int:
        return hash((self.name, self.family, self.kind, self.aggregate, self.window))

    def format_value(self, value: Any) -> str:
        """Format a value of this feature for a person to read.

        Parameters
        ----------
        value : float, str or None
            The value.

        Returns
        -------
        str
        """
        if value is None:
            return "missing"
        if isinstance(value, str):
            return value
        try:
            v = float(value)
        except (TypeError, ValueError):
            return str(value)
        if math.isnan(v):
            return "missing"
        if math.isinf(v):
            return "unbounded"
        unit = self.unit
        if unit == "share":
            return f"{v * 100:.0f}%"
        if unit == "percent":
            return f"{v:.0f}%"
        if unit == "count":
            return f"{v:.0f}" if v == round(v) else f"{v:.1f}"
        if unit == "days":
            n = f"{v:.0f}" if abs(v) >= 10 or v == round(v) else f"{v:.1f}"
            return f"{n} day" if n == "1" else f"{n} days"
        if unit == "per day":
            return f"{v:.2g} per day"
        if unit == "bits":
            return f"{v:.2f} bits"
        if self.transform == "zscore":
            return f"{v:+.1f} SD"
        if self.transform == "percentile":
            return f"{v * 100:.0f}th percentile" if v <= 1 else f"{v:.0f}th percentile"
        if abs(v) >= 100 or v == round(v):
            return f"{v:.0f}"
        return f"{v:.3g}"

    def with_name(self, name: str) -> FeatureInfo:
        """Return a copy under another column name."""
        return replace(self, name=name)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureInfo:
        """Rebuild from :meth:`to_dict` output.

        Parameters
        ----------
        data : mapping
            The dictionary.

        Returns
        -------
        FeatureInfo
        """
        known = {f for f in cls.__dataclass_fields__}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(
                "unknown FeatureInfo fields",
                key="feature_info",
                arrived=repr(unknown),
                hint="the file may come from a newer studentprofile; upgrade",
            )
        return cls(**dict(data))


def attached_feature_infos(X: Any) -> dict[str, FeatureInfo]:
    """Return the feature infos a matrix carries in ``X.attrs["feature_info"]`` (else ``{}``).

    :class:`~studentprofile.features.FeatureBuilder` attaches them, so ``RiskModel().fit(X, y)``
    and explanations word reasons with the builder's phrases without a ``feature_info=``
    keyword. Entries may be :class:`FeatureInfo` records or their ``to_dict()`` form.

    Parameters
    ----------
    X : DataFrame or any object
        A feature matrix.

    Returns
    -------
    dict
        Column name -> FeatureInfo, for the entries naming a column of ``X``.

    Raises
    ------
    ConfigError
        ``X.attrs["feature_info"]`` is not a mapping of names to feature infos.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"att_30d": [0.9, 0.5]})
    >>> X.attrs["feature_info"] = {"att_30d": FeatureInfo(
    ...     name="att_30d", family="behavioral", kind="class_attendance", aggregate="mean",
    ...     window="30d", phrase="class attendance over the last 30 days").to_dict()}
    >>> attached_feature_infos(X.tail(1))["att_30d"].phrase
    'class attendance over the last 30 days'
    """
    attrs = getattr(X, "attrs", None)
    if not isinstance(attrs, Mapping) or attrs.get(FEATURE_INFO_ATTR) is None:
        return {}
    raw = attrs[FEATURE_INFO_ATTR]
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f'X.attrs["{FEATURE_INFO_ATTR}"] must map column names to feature infos',
            key=f"X.attrs[{FEATURE_INFO_ATTR!r}]",
            arrived=f"{type(raw).__name__}",
            hint=f'delete it (del X.attrs["{FEATURE_INFO_ATTR}"]) or pass feature_info=',
        )
    columns = {str(c) for c in getattr(X, "columns", [])}
    out: dict[str, FeatureInfo] = {}
    for name, entry in raw.items():
        if str(name) not in columns:
            continue
        if isinstance(entry, FeatureInfo):
            out[str(name)] = entry
        elif isinstance(entry, Mapping):
            try:
                out[str(name)] = FeatureInfo.from_dict(entry)
            except (ConfigError, TypeError) as exc:
                raise ConfigError(
                    f'X.attrs["{FEATURE_INFO_ATTR}"][{name!r}] is not a feature info',
                    key=f"X.attrs[{FEATURE_INFO_ATTR!r}]",
                    arrived=repr(dict(entry))[:200],
                    hint="use FeatureInfo(...).to_dict(), or delete the entry",
                ) from exc
        else:
            raise ConfigError(
                f'X.attrs["{FEATURE_INFO_ATTR}"][{name!r}] is not a feature info',
                key=f"X.attrs[{FEATURE_INFO_ATTR!r}]",
                arrived=f"{type(entry).__name__}",
                hint="use FeatureInfo(...).to_dict(), or delete the entry",
            )
    return out


def _humanise(name: str) -> str:
    return str(name).replace("_", " ").strip()


def infer_feature_infos(
    X: pd.DataFrame,
    known: Mapping[str, FeatureInfo] | Iterable[FeatureInfo] | None = None,
    *,
    audit_attributes: Iterable[str] = (),
) -> dict[str, FeatureInfo]:
    """Feature infos for every column of ``X``: the known records, plain ones for the rest.

    Parameters
    ----------
    X : DataFrame
        A feature matrix.
    known : mapping or iterable of FeatureInfo, optional
        Records to use where they exist (e.g. ``builder.feature_info_``); they take precedence
        over the records ``X`` carries in ``X.attrs["feature_info"]`` (see
        :func:`attached_feature_infos`), which are used for the other columns.
    audit_attributes : iterable of str, default ()
        Columns to mark ``sensitivity="audit"``.

    Returns
    -------
    dict
        Column name -> FeatureInfo, in column order.

    Examples
    --------
    >>> import pandas as pd
    >>> infos = infer_feature_infos(pd.DataFrame({"credits": [60.0], "gender": ["F"]}),
    ...                             audit_attributes=["gender"])
    >>> infos["credits"].phrase, infos["gender"].sensitivity
    ('credits', 'audit')
    """
    known_map: dict[str, FeatureInfo] = attached_feature_infos(X)
    if known is None:
        pass
    elif isinstance(known, Mapping):
        known_map.update(known)
    else:
        known_map.update({info.name: info for info in known})
    audit = set(audit_attributes)
    out: dict[str, FeatureInfo] = {}
    for col in X.columns:
        name = str(col)
        if name in known_map:
            out[name] = known_map[name]
            continue
        unit = "" if pd.api.types.is_numeric_dtype(X[col]) else "category"
        out[name] = FeatureInfo(
            name=name,
            family="static",
            kind=name,
            aggregate="value",
            window="static",
            phrase=_humanise(name),
            unit=unit,
            sensitivity="audit" if name in audit else "normal",
        )
    return out
