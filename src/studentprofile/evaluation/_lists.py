"""Top-k lists: who is flagged, how the lists of two candidates agree, how a list churns.

A *list* is the top ``k`` students by score at one as-of date (a caseload). Membership must be
definite, so ties at the cut go to the smaller ``student_id`` (text order); the metrics of
:mod:`~studentprofile.evaluation._ranking` average over ties instead.

* :func:`compare_lists`: for each as-of date and each pair of candidates, the overlap and
  Jaccard index of their lists, and the Spearman and Kendall rank correlations of the two
  candidates' scores over the students on either list;
* :func:`list_churn`: for each candidate, between consecutive as-of dates, how many students
  entered and left the list (and how many of those who left were no longer scored at all),
  the Jaccard index and the rank correlations over the students on either list scored at both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import _inputs

__all__ = ["ListComparison", "compare_lists", "list_churn", "top_k"]

SCORES_COLUMNS = "scores must have the columns {columns!r}"
SCORES_REPEAT = "scores must not repeat a (candidate, student_id, as_of) row"
ONE_CANDIDATE = "compare_lists needs at least two candidates"
CANDIDATE_UNKNOWN = "candidate {name!r} has no scores"


def _frame(scores: Any, *, need_candidate: bool) -> pd.DataFrame:
    if hasattr(scores, "scores") and callable(scores.scores):
        scores = scores.scores()  # a Comparison
    elif hasattr(scores, "scores") and isinstance(scores.scores, pd.DataFrame):
        scores = scores.scores  # a BacktestResult
    if not isinstance(scores, pd.DataFrame):
        raise SchemaError(
            "scores must be a DataFrame",
            table="scores",
            rule="type",
            arrived=f"an object of type {type(scores).__name__}",
            hint="pass Comparison.scores() or BacktestResult.scores",
        )
    wanted = ["student_id", "as_of", "score"] + (["candidate"] if need_candidate else [])
    missing = [c for c in wanted if c not in scores.columns]
    if missing:
        raise SchemaError(
            SCORES_COLUMNS.format(columns=wanted),
            table="scores",
            rule="columns",
            arrived=f"missing {missing!r}; columns {list(scores.columns)[:10]!r}",
            hint="pass Comparison.scores() (long: candidate, student_id, as_of, score)",
        )
    frame = scores.copy()
    if "candidate" not in frame.columns:
        frame["candidate"] = "model"
    frame["score"] = _inputs.scores(frame["score"], "scores.score")
    dup = frame.duplicated(["candidate", "student_id", "as_of"]).to_numpy()
    if dup.any():
        raise SchemaError(
            SCORES_REPEAT,
            table="scores",
            rule="unique",
            arrived=f"{int(dup.sum()):,} repeated row(s)",
            hint="keep one score per student, date and candidate",
        )
    return frame


def top_k(scores: Any, *, k: Any) -> pd.DataFrame:
    """Return the flagged rows: the top ``k`` by score per candidate and as-of date.

    Parameters
    ----------
    scores : DataFrame, Comparison or BacktestResult
        Long scores: ``student_id``, ``as_of``, ``score`` and optionally ``candidate``.
    k : float or int
        The caseload per as-of date: a fraction of the students scored that day, or a count.

    Returns
    -------
    DataFrame
        The flagged rows with a ``rank`` column (1 = highest score; ties to the smaller
        ``student_id``), ordered by candidate, as-of date and rank.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"student_id": ["a", "b", "c", "d"], "as_of": 7.0,
    ...                   "score": [0.9, 0.5, 0.5, 0.1]})
    >>> top_k(s, k=2)[["student_id", "rank"]]
      student_id  rank
    0          a     1
    1          b     2
    """
    frame = _frame(scores, need_candidate=False)
    _inputs.resolve_k(k, 1)
    ordered = frame.assign(_sid=frame["student_id"].astype(str)).sort_values(
        ["candidate", "as_of", "score", "_sid"],
        ascending=[True, True, False, True],
        kind="mergesort",
    )
    ordered["rank"] = ordered.groupby(["candidate", "as_of"], sort=False).cumcount() + 1
    size = ordered.groupby(["candidate", "as_of"], sort=False)["score"].transform("size")
    sizes = size.to_numpy(dtype=np.int64)
    uniq = np.unique(sizes)
    per_size = np.array([_inputs.resolve_k(k, int(n)) for n in uniq], dtype=np.int64)
    cut = per_size[np.searchsorted(uniq, sizes)]
    kept = ordered[ordered["rank"].to_numpy() <= cut].drop(columns="_sid")
    return kept.reset_index(drop=True)


def _rank_correlations(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy.stats import kendalltau, spearmanr

    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan")
    rho = float(spearmanr(x, y).statistic)
    tau = float(kendalltau(x, y).statistic)
    return rho, tau


def _paired(a: pd.Series | None, b: pd.Series | None, students: set[Any]) -> tuple[float, float]:
    """Rank correlations of two score Series over ``students`` scored in both."""
    if a is None or b is None or not students:
        return float("nan"), float("nan")
    wanted = sorted(students, key=str)
    x = a.reindex(wanted).to_numpy(np.float64)
    y = b.reindex(wanted).to_numpy(np.float64)
    ok = ~(np.isnan(x) | np.isnan(y))
    return _rank_correlations(x[ok], y[ok])


@dataclass
class ListComparison:
    """What :func:`compare_lists` and :func:`list_churn` return.

    Attributes
    ----------
    frame : DataFrame
        One row per as-of date and pair (see the functions).
    summary : DataFrame
        Means over the as-of dates, per pair of candidates (or per candidate for churn).
    k : float or int
        The caseload.
    kind : str
        ``"between candidates"`` or ``"churn"``.

    Examples
    --------
    See :func:`compare_lists`.
    """

    frame: pd.DataFrame
    summary: pd.DataFrame
    k: Any
    kind: str

    def __repr__(self) -> str:
        return (
            f"ListComparison({self.kind}, k={_inputs.k_label(self.k)}, "
            f"{len(self.frame)} row(s))"
        )

    def _repr_html_(self) -> str:
        from studentprofile import _html

        return _html.display(repr(self), [
            _html.note("Means over the as-of dates; .frame has each date."),
            _html.table(self.summary, max_rows=_html.MAX_ROWS, max_cols=_html.MAX_COLS),
        ])


def compare_lists(
    scores: Any, *, k: Any, candidates: Sequence[str] | None = None
) -> ListComparison:
    """Compare the top-k lists of candidates at each as-of date.

    Parameters
    ----------
    scores : DataFrame or Comparison
        Long scores with ``candidate``, ``student_id``, ``as_of``, ``score``
        (:meth:`Comparison.scores`).
    k : float or int
        The caseload per as-of date.
    candidates : list of str, optional
        Which candidates (default all, in order of appearance).

    Returns
    -------
    ListComparison
        ``frame``: ``as_of``, ``candidate_a``, ``candidate_b``, ``n_a``, ``n_b``, ``overlap``,
        ``jaccard``, ``spearman``, ``kendall`` (over the students on either list, scored by
        both; ``nan`` for fewer than two or constant scores). ``summary``: means per pair.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"candidate": ["m"] * 4 + ["n"] * 4,
    ...                   "student_id": list("abcd") * 2, "as_of": 7.0,
    ...                   "score": [0.9, 0.8, 0.2, 0.1, 0.9, 0.1, 0.8, 0.2]})
    >>> out = compare_lists(s, k=2)
    >>> out.frame[["candidate_a", "candidate_b", "overlap", "jaccard", "spearman"]]
      candidate_a candidate_b  overlap   jaccard  spearman
    0           m           n        1  0.333333       0.5
    """
    frame = _frame(scores, need_candidate=True)
    names = list(dict.fromkeys(frame["candidate"])) if candidates is None else list(candidates)
    for name in names:
        if name not in set(frame["candidate"]):
            raise ConfigError(
                CANDIDATE_UNKNOWN.format(name=name), key="candidates", arrived=repr(name),
                hint=f"choose from {list(dict.fromkeys(frame['candidate']))!r}",
            )
    if len(names) < 2:
        raise ConfigError(ONE_CANDIDATE, key="candidates", arrived=repr(names))
    flagged = top_k(frame[frame["candidate"].isin(names)], k=k)
    lists = {key: set(g["student_id"]) for key, g in flagged.groupby(["candidate", "as_of"])}
    by_date = {key: g.set_index("student_id")["score"] for key, g in frame.groupby(
        ["candidate", "as_of"])}
    rows = []
    for as_of in sorted(pd.unique(frame["as_of"])):
        for a, b in combinations(names, 2):
            la = lists.get((a, as_of), set())
            lb = lists.get((b, as_of), set())
            union = la | lb
            rho, tau = _paired(
                by_date.get((a, as_of)), by_date.get((b, as_of)), union
            )
            rows.append(
                {
                    "as_of": as_of,
                    "candidate_a": a,
                    "candidate_b": b,
                    "n_a": len(la),
                    "n_b": len(lb),
                    "overlap": len(la & lb),
                    "jaccard": len(la & lb) / len(union) if union else np.nan,
                    "spearman": rho,
                    "kendall": tau,
                }
            )
    out = pd.DataFrame(
        rows,
        columns=["as_of", "candidate_a", "candidate_b", "n_a", "n_b", "overlap", "jaccard",
                 "spearman", "kendall"],
    )
    summary = (
        out.groupby(["candidate_a", "candidate_b"], sort=False)[
            ["overlap", "jaccard", "spearman", "kendall"]
        ].mean()
    )
    return ListComparison(frame=out, summary=summary, k=k, kind="between candidates")


def list_churn(scores: Any, *, k: Any, candidate: str | None = None) -> ListComparison:
    """How each candidate's top-k list changes from one as-of date to the next.

    Parameters
    ----------
    scores : DataFrame, Comparison or BacktestResult
        Long scores (``candidate`` optional).
    k : float or int
        The caseload per as-of date.
    candidate : str, optional
        Only this candidate.

    Returns
    -------
    ListComparison
        ``frame``: ``candidate``, ``as_of``, ``previous``, ``n_flagged``, ``entered`` (on the
        list now, not at the previous date), ``left`` (on it then, not now), ``left_unscored``
        (of those who left, not scored now: withdrawn, finished or outside the grid),
        ``stayed``, ``jaccard``, ``spearman``, ``kendall`` (over students on either list scored
        at both dates). ``summary``: means per candidate.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"student_id": list("abcd") + list("abc"),
    ...                   "as_of": [7.0] * 4 + [14.0] * 3,
    ...                   "score": [0.9, 0.8, 0.2, 0.1, 0.3, 0.9, 0.8]})
    >>> list_churn(s, k=2).frame[["as_of", "entered", "left", "left_unscored", "stayed"]]
       as_of  entered  left  left_unscored  stayed
    0   14.0        1     1              0       1
    """
    frame = _frame(scores, need_candidate=False)
    if candidate is not None:
        if candidate not in set(frame["candidate"]):
            raise ConfigError(
                CANDIDATE_UNKNOWN.format(name=candidate), key="candidate",
                arrived=repr(candidate),
                hint=f"choose from {list(dict.fromkeys(frame['candidate']))!r}",
            )
        frame = frame[frame["candidate"] == candidate]
    flagged = top_k(frame, k=k)
    rows = []
    for name, sub in frame.groupby("candidate", sort=False):
        dates = sorted(pd.unique(sub["as_of"]))
        on = flagged[flagged["candidate"] == name]
        lists = {d: set(g["student_id"]) for d, g in on.groupby("as_of")}
        scored = {d: g.set_index("student_id")["score"] for d, g in sub.groupby("as_of")}
        for prev, cur in zip(dates[:-1], dates[1:], strict=True):
            lp, lc = lists.get(prev, set()), lists.get(cur, set())
            left = lp - lc
            union = lp | lc
            sc = scored[cur]
            rho, tau = _paired(scored[prev], sc, union)
            still = int(sc.index.isin(list(left)).sum()) if left else 0
            rows.append(
                {
                    "candidate": name,
                    "as_of": cur,
                    "previous": prev,
                    "n_flagged": len(lc),
                    "entered": len(lc - lp),
                    "left": len(left),
                    "left_unscored": len(left) - still,
                    "stayed": len(lc & lp),
                    "jaccard": len(lc & lp) / len(union) if union else np.nan,
                    "spearman": rho,
                    "kendall": tau,
                }
            )
    out = pd.DataFrame(
        rows,
        columns=["candidate", "as_of", "previous", "n_flagged", "entered", "left",
                 "left_unscored", "stayed", "jaccard", "spearman", "kendall"],
    )
    summary = out.groupby("candidate", sort=False)[
        ["n_flagged", "entered", "left", "left_unscored", "jaccard", "spearman", "kendall"]
    ].mean()
    return ListComparison(frame=out, summary=summary, k=k, kind="churn")
