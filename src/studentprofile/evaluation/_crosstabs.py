"""Crosstabs and error analysis: how flagged students differ from the others, feature by feature.

Both are *descriptive*: they say how two groups of rows differ, not why a model flags anyone nor
what would change an outcome. A difference found among many features at a 5% level can be luck;
read ``p_adjusted`` (Benjamini-Hochberg over the features) and the effect sizes, not only ``p``.

For each numeric feature: the count, missing share, mean and median in each group, the
Mann-Whitney U test (two-sided; missing values left out), the rank-biserial correlation
(``2 U / (n1 n2) - 1``: +1 when every value of the first group is larger, -1 when every value is
smaller, 0 for no shift) and the standardised mean difference (Cohen's d with the pooled standard
deviation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs

__all__ = ["DESCRIPTIVE_CAVEAT", "Crosstabs", "crosstabs", "error_analysis"]

DESCRIPTIVE_CAVEAT = (
    "Descriptive: these contrasts show how two groups of students differ, not why the model "
    "flagged them nor what would change their outcomes; with many features some differences are "
    "luck (read p_adjusted and the effect sizes)."
)
X_INVALID = "X must be a DataFrame of features with at least one numeric column"
GROUP_INVALID = "`{name}` must be a boolean array with one value per row of X"
GROUP_EMPTY = "both groups need at least one row: {first} has {n1}, {second} has {n2}"


@dataclass
class Crosstabs:
    """What :func:`crosstabs` and :func:`error_analysis` return.

    Attributes
    ----------
    frame : DataFrame
        Indexed by ``feature``: ``n_<first>``, ``n_<second>``, ``missing_<first>``,
        ``missing_<second>`` (shares), ``mean_<first>``, ``mean_<second>``,
        ``median_<first>``, ``median_<second>``, ``mean_difference``, ``p``, ``p_adjusted``,
        ``rank_biserial``, ``cohens_d``; sorted by the size of the rank-biserial correlation.
    groups : tuple of str
        The two groups' names (first, second).
    caveat : str
        :data:`DESCRIPTIVE_CAVEAT`.
    notes : list of str
        What was left out and why.

    Examples
    --------
    See :func:`crosstabs`.
    """

    frame: pd.DataFrame
    groups: tuple[str, str]
    caveat: str = DESCRIPTIVE_CAVEAT
    notes: list[str] = field(default_factory=list)

    def figure(self, top: int = 15) -> Any:
        """Draw the rank-biserial correlation of the ``top`` features (matplotlib Figure).

        Parameters
        ----------
        top : int, default 15
            How many features (largest effects first).

        Returns
        -------
        matplotlib.figure.Figure
        """
        from studentprofile.evaluation._plots import _figure

        top = _inputs.positive_int(top, "top", "top must be an integer >= 1")
        data = self.frame["rank_biserial"].dropna().head(top)[::-1]
        fig = _figure(5.6, 0.35 * max(len(data), 3) + 1.2)
        ax = fig.add_subplot()
        colors = ["#d62728" if v > 0 else "#1f77b4" for v in data.to_numpy()]
        ax.barh([str(i) for i in data.index], data.to_numpy(), color=colors)
        ax.axvline(0, color="#7f7f7f", linewidth=0.8)
        ax.set_xlim(-1, 1)
        first, second = self.groups
        ax.set_xlabel(f"rank-biserial: {first} higher (>0) or lower (<0) than {second}")
        ax.set_title("Feature contrasts (descriptive)")
        return fig

    def __repr__(self) -> str:
        first, second = self.groups
        return f"Crosstabs({first} vs {second}: {len(self.frame)} feature(s); descriptive)"

    def _repr_html_(self) -> str:
        from studentprofile import _html

        return _html.display(repr(self), [
            _html.note(self.caveat), *(_html.note(n) for n in self.notes),
            _html.note("Largest effects first; .frame has every feature, .figure() draws them."),
            _html.table(self.frame, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ])


def _group_mask(value: Any, name: str, n: int) -> np.ndarray:
    if isinstance(value, pd.Series):
        value = value.to_numpy()
    arr = np.asarray(value)
    if arr.dtype != bool or arr.ndim != 1 or len(arr) != n:
        raise SchemaError(
            GROUP_INVALID.format(name=name),
            table=name,
            rule="mask",
            arrived=f"an array of dtype {arr.dtype} and shape {arr.shape} for {n} row(s)",
            hint="pass e.g. flagged=(scores >= threshold) as booleans aligned with X",
        )
    return arr


def _check_frame(X: Any) -> None:
    if not isinstance(X, pd.DataFrame):
        raise SchemaError(
            X_INVALID, table="X", rule="type", arrived=f"an object of type {type(X).__name__}"
        )


def _numeric(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    keep = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])
            and not pd.api.types.is_bool_dtype(X[c])]
    bools = [c for c in X.columns if pd.api.types.is_bool_dtype(X[c])]
    skipped = [c for c in X.columns if c not in keep and c not in bools]
    frame = X[keep].astype(np.float64)
    for c in bools:
        frame[c] = X[c].astype(np.float64)
    if frame.shape[1] == 0:
        raise SchemaError(
            X_INVALID, table="X", rule="columns",
            arrived=f"columns {list(X.columns)[:10]!r} of dtypes "
            f"{sorted({str(t) for t in X.dtypes})!r}",
        )
    return frame, [str(c) for c in skipped]


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (nan stays nan)."""
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="mergesort")]
    m = len(order)
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out[order] = np.minimum(ranked, 1.0)
    return out


def _contrast(
    X: pd.DataFrame, first: np.ndarray, names: tuple[str, str]
) -> tuple[pd.DataFrame, list[str]]:
    from scipy.stats import mannwhitneyu

    a_name, b_name = names
    n1, n2 = int(first.sum()), int((~first).sum())
    if n1 == 0 or n2 == 0:
        raise ConfigError(
            GROUP_EMPTY.format(first=a_name, n1=n1, second=b_name, n2=n2),
            key="flagged",
            arrived=f"{n1} and {n2} row(s)",
            hint="choose a caseload that flags some but not all students",
        )
    frame, skipped = _numeric(X)
    notes = []
    if skipped:
        notes.append(f"not numeric, left out: {', '.join(skipped[:10])}")
    rows = []
    for col in frame.columns:
        v = frame[col].to_numpy()
        a, b = v[first], v[~first]
        a_ok, b_ok = a[np.isfinite(a)], b[np.isfinite(b)]
        row: dict[str, Any] = {
            "feature": str(col),
            f"n_{a_name}": len(a_ok),
            f"n_{b_name}": len(b_ok),
            f"missing_{a_name}": 1.0 - len(a_ok) / len(a),
            f"missing_{b_name}": 1.0 - len(b_ok) / len(b),
            f"mean_{a_name}": float(a_ok.mean()) if len(a_ok) else np.nan,
            f"mean_{b_name}": float(b_ok.mean()) if len(b_ok) else np.nan,
            f"median_{a_name}": float(np.median(a_ok)) if len(a_ok) else np.nan,
            f"median_{b_name}": float(np.median(b_ok)) if len(b_ok) else np.nan,
        }
        row["mean_difference"] = row[f"mean_{a_name}"] - row[f"mean_{b_name}"]
        p = rb = d = np.nan
        if len(a_ok) and len(b_ok):
            both = np.concatenate([a_ok, b_ok])
            if np.ptp(both) > 0:
                test = mannwhitneyu(a_ok, b_ok, alternative="two-sided")
                p = float(test.pvalue)
                rb = float(2.0 * test.statistic / (len(a_ok) * len(b_ok)) - 1.0)
            else:
                p, rb = 1.0, 0.0
            if len(a_ok) > 1 and len(b_ok) > 1:
                pooled = np.sqrt(
                    ((len(a_ok) - 1) * a_ok.var(ddof=1) + (len(b_ok) - 1) * b_ok.var(ddof=1))
                    / (len(a_ok) + len(b_ok) - 2)
                )
                d = float(row["mean_difference"] / pooled) if pooled > 0 else np.nan
        row.update({"p": p, "rank_biserial": rb, "cohens_d": d})
        rows.append(row)
    out = pd.DataFrame(rows).set_index("feature")
    out.insert(list(out.columns).index("p") + 1, "p_adjusted", _bh(out["p"].to_numpy()))
    order = np.argsort(-np.abs(out["rank_biserial"].fillna(0.0).to_numpy()), kind="mergesort")
    return out.iloc[order], notes


def crosstabs(
    X: pd.DataFrame,
    flagged: Any,
    *,
    groups: tuple[str, str] = ("flagged", "not_flagged"),
) -> Crosstabs:
    """Compare flagged and not-flagged students feature by feature (descriptive).

    Parameters
    ----------
    X : DataFrame
        Features, one row per student (and as-of date); numeric and boolean columns are
        compared, others are left out (and said so in ``notes``).
    flagged : array of bool
        One value per row of ``X``: on the list or not (e.g. from :func:`top_k`).
    groups : (str, str), default ("flagged", "not_flagged")
        Names of the ``True`` and ``False`` groups in the column names.

    Returns
    -------
    Crosstabs
        One row per feature (see :class:`Crosstabs`); ``figure()`` draws the effects.

    Raises
    ------
    SchemaError
        ``X`` is not a DataFrame with a numeric column, or ``flagged`` is not a boolean array
        of its length.
    ConfigError
        Everyone or no one is flagged.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"attendance": [0.5, 0.6, 0.9, 0.95, 0.85],
    ...                   "clubs": [1.0, 0.0, 1.0, 0.0, 1.0]})
    >>> out = crosstabs(X, [True, True, False, False, False])
    >>> out.frame[["mean_flagged", "mean_not_flagged", "rank_biserial"]]
                mean_flagged  mean_not_flagged  rank_biserial
    feature
    attendance          0.55          0.900000      -1.000000
    clubs               0.50          0.666667      -0.166667
    """
    _check_frame(X)
    first = _group_mask(flagged, "flagged", len(X))
    frame, notes = _contrast(X, first, (str(groups[0]), str(groups[1])))
    return Crosstabs(frame=frame, groups=(str(groups[0]), str(groups[1])), notes=notes)


def error_analysis(
    X: pd.DataFrame,
    y_true: Any,
    scores: Any,
    *,
    k: Any,
    by: str | None = "as_of",
) -> Crosstabs:
    """Contrast false positives with true positives on the caseload (descriptive).

    Among the students on the list (the top ``k`` by score, per as-of date), compare those who
    did not have the outcome (false positives) with those who did (true positives), feature by
    feature: what distinguishes the students the model flags in vain.

    Parameters
    ----------
    X : DataFrame
        Features aligned with ``y_true`` and ``scores``.
    y_true : array of 0/1
        Labels.
    scores : array of float
        Risk scores.
    k : float or int
        The caseload (per as-of date when ``by`` names a column or index level of ``X``).
    by : str or None, default "as_of"
        Draw one caseload per value of this column or index level; ``None`` (or absent): one
        caseload over all rows. Ties at the cut go to the earlier row.

    Returns
    -------
    Crosstabs
        Groups ``("false_positive", "true_positive")``.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"attendance": [0.2, 0.3, 0.9, 0.85, 0.5, 0.95]})
    >>> out = error_analysis(X, [1, 1, 0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.1, 0.05], k=4)
    >>> out.frame[["n_false_positive", "n_true_positive", "mean_false_positive"]]
                n_false_positive  n_true_positive  mean_false_positive
    feature
    attendance                 2                2                0.875
    """
    _check_frame(X)
    y = _inputs.labels(y_true, "y_true")
    s = _inputs.scores(scores, "scores")
    _inputs.same_length([("y_true", y_true, y), ("scores", scores, s)])
    if len(y) != len(X):
        raise SchemaError(
            _inputs.LENGTHS_DIFFER.format(a="X", b="y_true"),
            table="X",
            rule="length",
            arrived=f"{len(X)} and {len(y)} row(s)",
        )
    if by is not None and by in X.columns:
        keys = X[by].to_numpy()
    elif by is not None and by in (X.index.names or []):
        keys = X.index.get_level_values(by).to_numpy()
    else:
        keys = np.zeros(len(X))
    flagged = np.zeros(len(X), dtype=bool)
    for key in pd.unique(keys):
        rows = np.flatnonzero(keys == key)
        n = _inputs.resolve_k(k, len(rows))
        order = rows[np.argsort(-s[rows], kind="mergesort")]
        flagged[order[:n]] = True
    features = X.drop(columns=[by]) if by is not None and by in X.columns else X
    on = np.flatnonzero(flagged)
    false_pos = ~y[on]
    frame, notes = _contrast(
        features.iloc[on], false_pos, ("false_positive", "true_positive")
    )
    notes.insert(0, f"caseload: {len(on):,} flagged row(s) at k={_inputs.k_label(k)}")
    return Crosstabs(frame=frame, groups=("false_positive", "true_positive"), notes=notes)
