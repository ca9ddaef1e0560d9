"""Report figures, drawn with matplotlib's object-oriented API on the Agg canvas.

matplotlib is imported inside these functions only, and no global backend is set: a
:class:`matplotlib.figure.Figure` is created directly and rendered to PNG bytes, so a notebook's
own backend is left alone.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studentprofile.errors import DependencyError

if TYPE_CHECKING:  # pragma: no cover
    from studentprofile.evaluation._backtest import BacktestResult
    from studentprofile.evaluation._fairness import FairnessAudit
    from studentprofile.evaluation._lead_time import LeadTime
    from studentprofile.evaluation._outcomes import Trajectories

__all__ = [
    "backtest_figure",
    "calibration_figure",
    "fairness_figure",
    "lead_time_figure",
    "pr_figure",
    "precision_at_k_figure",
    "roc_figure",
    "to_png",
    "trajectory_figure",
]

_BLUE = "#1f77b4"
_ORANGE = "#ff7f0e"
_GREY = "#7f7f7f"
_GREEN = "#2ca02c"
_RED = "#d62728"
_PURPLE = "#9467bd"


def _figure(width: float = 5.2, height: float = 3.8) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise DependencyError(
            "matplotlib is needed to draw report figures",
            arrived=f"ImportError: {exc}",
            hint="pip install matplotlib (it is a dependency of studentprofile; reinstall it)",
        ) from exc
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def to_png(fig: Any) -> bytes:
    """Render a matplotlib figure to PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def roc_figure(roc: pd.DataFrame, auc: float) -> Any:
    """ROC curve with the chance diagonal."""
    fig = _figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], ls="--", color=_GREY, lw=1, label="chance")
    ax.plot(roc["fpr"], roc["tpr"], color=_BLUE, lw=2, label=f"model (AUC {auc:.3f})")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="false positive rate",
           ylabel="true positive rate (recall)", title="ROC curve")
    _legend(ax, loc="lower right")
    ax.grid(alpha=0.3)
    return fig


def pr_figure(pr: pd.DataFrame, ap: float, prevalence: float) -> Any:
    """Precision-recall curve (steps, as average precision integrates it)."""
    fig = _figure()
    ax = fig.add_subplot()
    recall = np.r_[0.0, pr["recall"].to_numpy()]
    precision = np.r_[pr["precision"].to_numpy()[:1], pr["precision"].to_numpy()]
    ax.step(recall, precision, where="pre", color=_BLUE, lw=2, label=f"model (AP {ap:.3f})")
    ax.axhline(prevalence, ls="--", color=_GREY, lw=1, label=f"prevalence {prevalence:.3f}")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel="recall", ylabel="precision",
           title="Precision-recall curve")
    _legend(ax, loc="upper right")
    ax.grid(alpha=0.3)
    return fig


def calibration_figure(reliability: pd.DataFrame, probabilities: np.ndarray, ece: float) -> Any:
    """Reliability diagram with a histogram of the predicted probabilities below it."""
    fig = _figure(5.2, 4.8)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], ls="--", color=_GREY, lw=1, label="perfectly calibrated")
    ok = reliability["count"] > 0
    top.plot(
        reliability.loc[ok, "mean_predicted"],
        reliability.loc[ok, "observed_rate"],
        marker="o",
        color=_BLUE,
        lw=2,
        label=f"model (ECE {ece:.3f})",
    )
    top.set(xlim=(0, 1), ylim=(0, 1.01), ylabel="observed outcome rate",
            title="Calibration (reliability diagram)")
    _legend(top, loc="upper left")
    top.grid(alpha=0.3)
    edges = np.r_[reliability["lower"].to_numpy(), reliability["upper"].to_numpy()[-1:]]
    bottom.hist(probabilities, bins=edges, color=_BLUE, alpha=0.6)
    bottom.set_yscale("log")  # rare high-risk bins stay visible next to a crowded low bin
    bottom.set(xlabel="predicted probability", ylabel="rows (log)")
    bottom.grid(alpha=0.3)
    return fig


def precision_at_k_figure(curve: pd.DataFrame, prevalence: float, marks: pd.DataFrame) -> Any:
    """Precision and recall against the share of students flagged; ties as a band."""
    fig = _figure(5.6, 3.8)
    ax = fig.add_subplot()
    x = curve["share_flagged"].to_numpy() * 100
    ax.fill_between(x, curve["precision_worst"], curve["precision_best"], color=_BLUE,
                    alpha=0.2, lw=0, label="precision, worst-best over ties")
    ax.plot(x, curve["precision"], color=_BLUE, lw=2, label="precision@k (expected)")
    ax.plot(x, curve["recall"], color=_ORANGE, lw=2, label="recall@k (expected)")
    ax.axhline(prevalence, ls="--", color=_GREY, lw=1, label="prevalence (random flags)")
    for i, (label, row) in enumerate(marks.sort_values("share_flagged").iterrows()):
        ax.axvline(row["share_flagged"] * 100, color=_GREY, lw=0.8, ls=":")
        ax.annotate(
            f"{label}: {row['precision']:.2f}",
            (row["share_flagged"] * 100, row["precision"]),
            textcoords="offset points",
            xytext=(5, -12 - 11 * i),  # staggered so that close marks stay readable
            fontsize=8,
        )
    ax.set(xlim=(0, 100), ylim=(0, 1.01), xlabel="students flagged (% of all, highest risk first)",
           ylabel="share", title="Precision and recall at k")
    _legend(ax, loc="center right", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def fairness_figure(
    audit: FairnessAudit, metrics: tuple[str, ...] = ("selection_rate", "tpr", "fpr", "precision")
) -> Any:
    """Disparity ratios per group (log scale), tolerance band shaded, bootstrap CIs as whiskers.

    One panel per audit attribute (intersections are in the tables, not drawn).
    """
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    frame = audit.frame
    attributes = [a for a in frame["attribute"].unique() if " & " not in str(a)]
    heights = [max(1.0, 0.55 * (frame["attribute"] == a).sum()) for a in attributes]
    fig = _figure(8.0, 1.4 + sum(heights) * 0.95)
    axes = fig.subplots(len(attributes), 1, squeeze=False, height_ratios=heights)[:, 0]
    low, high = audit.params["tolerance"]
    colours = [_BLUE, _ORANGE, _PURPLE, _GREEN, _RED, _GREY, "#8c564b"]
    bar_h = 0.8 / len(metrics)
    drawn = frame[frame["attribute"].isin(attributes)]
    finite = np.concatenate(
        [drawn[f"{m}_disparity"].to_numpy(dtype=np.float64) for m in metrics]
        + [np.array([low, high])]
    )
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lim_lo = max(min(finite.min(), low) / 1.3, 0.05)
    lim_hi = min(max(finite.max(), high) * 1.3, 20.0)
    for ax, attribute in zip(axes, attributes, strict=True):
        sub = frame[frame["attribute"] == attribute].reset_index(drop=True)
        ax.axvspan(low, high, color=_GREEN, alpha=0.12, lw=0)
        ax.axvline(1.0, color="black", lw=0.8)
        for j, metric in enumerate(metrics):
            d = sub[f"{metric}_disparity"].to_numpy(dtype=np.float64)
            lo = sub[f"{metric}_disparity_ci_low"].to_numpy(dtype=np.float64)
            hi = sub[f"{metric}_disparity_ci_high"].to_numpy(dtype=np.float64)
            y = np.arange(len(sub)) + (j - (len(metrics) - 1) / 2) * bar_h
            shown = np.isfinite(d) & (d > 0)
            left = np.where(shown, np.minimum(d, 1.0), 1.0)
            width = np.where(shown, np.abs(d - 1.0), 0.0)
            ax.barh(y[shown], width[shown], left=left[shown], height=bar_h * 0.9,
                    color=colours[j % len(colours)],
                    label=metric if attribute == attributes[0] else None)
            ci = shown & np.isfinite(lo) & np.isfinite(hi) & (lo > 0)
            if ci.any():
                ax.errorbar(
                    d[ci], y[ci],
                    # a 2 x n array, not a list: matplotlib's check of a list of one-element
                    # arrays warns under numpy < 2.3
                    xerr=np.vstack([np.clip(d[ci] - lo[ci], 0, None),
                                    np.clip(hi[ci] - d[ci], 0, None)]),
                    fmt="none", ecolor="black", elinewidth=0.7, capsize=1.5,
                )
        labels = []
        for _, row in sub.iterrows():
            if row["suppressed"]:
                labels.append(f"{row['group']} (suppressed)")
            else:
                ref = " (ref)" if row["reference"] == row["group"] else ""
                labels.append(f"{row['group']}{ref}, n={int(row['size']):,}")
        ax.set_yticks(np.arange(len(sub)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.set_xlim(lim_lo, lim_hi)
        ticks = [t for t in (0.1, 0.25, 0.5, 0.8, 1.0, 1.25, 2.0, 4.0, 10.0)
                 if lim_lo <= t <= lim_hi]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(FixedFormatter([f"{t:g}" for t in ticks]))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(str(attribute), fontsize=10, loc="left")
        ax.grid(alpha=0.3, axis="x")
    axes[-1].set_xlabel(
        f"disparity ratio vs reference (log scale); shaded: parity {low:g}-{high:g}"
    )
    _legend(fig, loc="outside upper center", ncols=len(metrics), fontsize=8)
    return fig


def _legend(owner: Any, **kwargs: Any) -> None:
    """Draw a legend only when something is labelled (an empty one warns in matplotlib)."""
    axes = owner.axes if hasattr(owner, "add_subplot") else [owner]
    if any(ax.get_legend_handles_labels()[0] for ax in axes):
        owner.legend(**kwargs)


def lead_time_figure(lead: LeadTime) -> Any:
    """Histogram of lead times (days from first flag to outcome), with the 'ahead' marks."""
    fig = _figure(5.6, 4.0)
    ax = fig.add_subplot()
    days = lead.lead_days
    if len(days):
        top = max(7.0, float(np.ceil(days.max() / 7.0) * 7.0))
        bins = np.arange(0.0, top + 7.0, 7.0)
        ax.hist(days, bins=bins, color=_BLUE, alpha=0.8, edgecolor="white")
    shares = lead.share_ahead
    styles = ["--", "-.", ":", (0, (5, 1)), (0, (1, 3))]
    for i, (n, share) in enumerate(
        zip(shares.index.to_numpy(dtype=np.float64), shares.to_numpy(), strict=True)
    ):
        ax.axvline(n, color=_ORANGE, ls=styles[i % len(styles)], lw=1.2,
                   label=f"flagged >= {n:g} days ahead: {share:.0%}")
    if len(shares):
        _legend(fig, fontsize=8, loc="outside lower center", ncols=2)
    s = lead.summary()
    ax.set(
        xlabel="days from first flag to outcome",
        ylabel="students",
        title=f"Lead time: {s['n_flagged']:,} of {s['n_scored']:,} flagged in time "
        f"({s['share_flagged']:.0%})",
    )
    ax.grid(alpha=0.3)
    return fig


def backtest_figure(result: BacktestResult, k: Any) -> Any:
    """AUC, PR AUC and precision at k per test as-of date across the backtest (per fold)."""
    if "test_from" not in result.metrics.columns:  # k folds: one point per fold
        return _folds_figure(result)
    by = result.metrics_by_as_of(k=[k])
    fig = _figure(7.4, 3.6)
    ax = fig.add_subplot()
    if len(by):
        x = by.index
        ax.plot(x, by["roc_auc"], marker=".", color=_BLUE, label="ROC AUC")
        ax.plot(x, by["pr_auc"], marker=".", color=_ORANGE, label="PR AUC")
        col = [c for c in by.columns if c.startswith("precision@")][0]
        ax.plot(x, by[col], marker=".", color=_GREEN, label=col)
        prevalence = by["positives"] / by["n"]
        ax.plot(x, prevalence, ls="--", color=_GREY, label="prevalence")
        for t in result.metrics["test_from"].iloc[1:]:
            ax.axvline(t, color=_GREY, lw=0.8, ls=":")
    ax.set(ylim=(0, 1.01), xlabel="test as-of date", ylabel="metric",
           title="Backtest: metrics by test as-of date (dotted: retraining)")
    _legend(fig, fontsize=8, loc="outside right upper")
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig


def _folds_figure(result: BacktestResult) -> Any:
    m = result.metrics.reset_index()
    fig = _figure(6.4, 3.4)
    ax = fig.add_subplot()
    x = m["split"].to_numpy()
    ax.plot(x, m["roc_auc"], marker="o", color=_BLUE, label="ROC AUC")
    ax.plot(x, m["pr_auc"], marker="o", color=_ORANGE, label="PR AUC")
    cols = [c for c in m.columns if str(c).startswith("precision@")]
    if cols:
        ax.plot(x, m[cols[0]], marker="o", color=_GREEN, label=cols[0])
    ax.plot(x, m["prevalence"], ls="--", color=_GREY, label="prevalence")
    ax.set(ylim=(0, 1.01), xticks=x, xlabel="fold", ylabel="metric",
           title=f"Cross-validation: metrics by fold ({len(m)} student-disjoint folds)")
    _legend(fig, fontsize=8, loc="outside right upper")
    ax.grid(alpha=0.3)
    return fig


def trajectory_figure(traj: Trajectories, bin_days: float = 7.0) -> Any:
    """Mean value by week from first contact."""
    fig = _figure(5.6, 3.4)
    ax = fig.add_subplot()
    prof = traj.profile(bin_days)
    if len(prof):
        ax.plot(prof.index + bin_days, prof["mean"], marker="o", color=_BLUE)
    ax.axvline(0, color=_ORANGE, ls="--", lw=1, label="first contact")
    ax.set(xlabel="days from first contact", ylabel=f"mean {traj.value}",
           title=f"{traj.value} around first contact (contacted students)")
    _legend(ax, fontsize=8)
    ax.grid(alpha=0.3)
    return fig
