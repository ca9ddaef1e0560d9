"""Matplotlib plots of SHAP values: one student (waterfall), a population (beeswarm, bars).

matplotlib is imported inside the functions, and figures are drawn on a ``Figure`` with the Agg
canvas (no pyplot, no global state, no display needed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from studentprofile._files import atomic_write
from studentprofile.errors import ConfigError, DependencyError
from studentprofile.features._info import FeatureInfo

__all__ = ["plot_summary", "plot_waterfall"]

_RED = "#d62728"
_BLUE = "#1f77b4"
_PURPLE = "#9467bd"
#: The colour of a missing feature value, and only of that: the value map below runs from blue
#: through purple to red and holds no grey (coolwarm, used before, is grey in the middle, so
#: mid-range values and category codes looked missing).
MISSING_COLOUR = "0.7"
_VALUE_COLOURS = (_BLUE, _PURPLE, _RED)


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise DependencyError(
            "plots need matplotlib",
            arrived=repr(exc),
            hint="pip install matplotlib (a dependency of studentprofile; it may have been "
            "removed from this environment)",
        ) from exc
    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Any) -> Path:
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ConfigError(
            "plots are saved as PNG files", key="path", arrived=repr(str(path)),
            hint="give a path ending in .png",
        )
    # the package's one atomic writer: unique O_EXCL temp file in the folder, fsync, rename
    with atomic_write(target, "wb") as fh:
        fig.savefig(fh, format="png", bbox_inches="tight")
    return target


def _value_cmap() -> Any:
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("studentprofile_value", list(_VALUE_COLOURS))


def _label(info: FeatureInfo, value: Any = None, with_value: bool = False) -> str:
    text = info.phrase
    if len(text) > 48:
        text = text[:46] + "..."
    if with_value:
        from studentprofile.explain._reasons import display_value

        text = f"{text} = {info.format_value(display_value(info, value))}"
    if info.sensitivity != "normal":
        # plots show every feature (they are for analysts and auditors); flag governed ones
        text = f"{text} [{info.sensitivity}]"
    return text


def plot_waterfall(
    values: np.ndarray,
    base_value: float,
    row: pd.Series,
    infos: Mapping[str, FeatureInfo],
    path: Any,
    *,
    max_display: int = 10,
    title: str = "",
    xlabel: str = "raw score (log-odds)",
) -> Path:
    """Waterfall of one student: from the base value, each feature's push, to the raw score."""
    names = [str(c) for c in row.index]
    order = np.argsort(-np.abs(values), kind="stable")
    shown = [j for j in order[: max(1, max_display - 1)] if values[j] != 0]
    rest = [j for j in order if j not in set(shown)]
    steps: list[tuple[str, float]] = [
        (_label(infos[names[j]], row.iloc[j], with_value=True), float(values[j])) for j in shown
    ]
    if rest:
        other = float(np.sum(values[rest]))
        if other != 0:
            steps.append((f"{len(rest)} other features", other))
    # draw bottom-up: smallest first so the largest sits at the top
    steps = steps[::-1]
    final = float(base_value + values.sum())
    fig = _figure(8.0, 0.45 * len(steps) + 1.8)
    ax = fig.add_subplot(1, 1, 1)
    start = final - sum(v for _, v in steps)
    pos = start
    lefts, widths, colors = [], [], []
    for _, v in steps:
        lefts.append(pos if v >= 0 else pos + v)
        widths.append(abs(v))
        colors.append(_RED if v > 0 else _BLUE)
        pos += v
    y = np.arange(len(steps))
    ax.barh(y, widths, left=lefts, color=colors, height=0.6)
    span = max(widths) if widths else 1.0
    for yi, (_, v), left, width in zip(y, steps, lefts, widths, strict=True):
        ax.text(
            left + width + 0.01 * span,
            yi,
            f"{v:+.3f}",
            va="center",
            ha="left",
            fontsize=8,
        )
    ax.set_yticks(y)
    ax.set_yticklabels([s for s, _ in steps], fontsize=8)
    ax.axvline(float(base_value), color="0.5", lw=0.8, ls="--")
    ax.axvline(final, color="0.2", lw=0.8)
    ax.set_xlabel(f"{xlabel}: base {float(base_value):+.3f} -> {final:+.3f}")
    if title:
        ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _save(fig, path)


def _swarm_offsets(x: np.ndarray, nbins: int = 80, width: float = 0.4) -> np.ndarray:
    """Vertical offsets that spread points sharing an x bin (a simple beeswarm)."""
    if len(x) == 0:
        return np.zeros(0)
    lo, hi = float(np.min(x)), float(np.max(x))
    if hi <= lo:
        bins = np.zeros(len(x), dtype=int)
    else:
        bins = np.minimum(((x - lo) / (hi - lo) * nbins).astype(int), nbins - 1)
    order = np.argsort(bins, kind="stable")
    sorted_bins = bins[order]
    starts = np.searchsorted(sorted_bins, sorted_bins, side="left")
    rank = np.arange(len(x)) - starts
    counts = np.bincount(bins, minlength=nbins)
    peak = max(1, int(counts.max()))
    signed = np.where(rank % 2 == 0, rank // 2, -(rank // 2 + 1)).astype(float)
    offsets = np.empty(len(x))
    offsets[order] = signed / peak * width * 2
    return offsets


def _colour_values(col: pd.Series) -> np.ndarray:
    """Position of each value on the colour map, 0 (low) .. 1 (high); NaN only when missing.

    Numbers: clipped between the 5th and 95th percentiles. Categories: their level's place in
    the level order (first level 0, last 1), so every level has a colour and none is grey.
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        v = col.cat.codes.to_numpy().astype("float64")
        v[v < 0] = np.nan
        n_levels = len(col.cat.categories)
        return v / (n_levels - 1) if n_levels > 1 else np.where(np.isfinite(v), 0.5, np.nan)
    else:
        v = col.to_numpy(dtype="float64", na_value=np.nan)
    finite = v[np.isfinite(v)]
    if len(finite) == 0:
        return np.full(len(v), np.nan)
    lo, hi = np.nanpercentile(finite, [5, 95])
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        return np.where(np.isfinite(v), 0.5, np.nan)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def plot_summary(
    values: np.ndarray,
    data: pd.DataFrame,
    infos: Mapping[str, FeatureInfo],
    path: Any,
    *,
    kind: str = "beeswarm",
    max_display: int = 15,
    xlabel: str = "SHAP value (change in the log-odds of the outcome)",
    feature_names: Sequence[str] | None = None,
) -> Path:
    """Plot a population summary: a beeswarm of SHAP values, or bars of mean |SHAP| per feature."""
    fig = summary_figure(
        values, data, infos, kind=kind, max_display=max_display, xlabel=xlabel,
        feature_names=feature_names,
    )
    return _save(fig, path)


def summary_figure(
    values: np.ndarray,
    data: pd.DataFrame,
    infos: Mapping[str, FeatureInfo],
    *,
    kind: str = "beeswarm",
    max_display: int = 15,
    xlabel: str = "SHAP value (change in the log-odds of the outcome)",
    feature_names: Sequence[str] | None = None,
) -> Any:
    """Draw :func:`plot_summary`'s figure (a matplotlib ``Figure`` on the Agg canvas)."""
    if kind not in ("beeswarm", "bar"):
        raise ConfigError(
            "kind must be 'beeswarm' or 'bar'", key="kind", arrived=repr(kind)
        )
    names = [str(c) for c in (feature_names or data.columns)]
    importance = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(names))
    order = np.argsort(-importance, kind="stable")[:max_display][::-1]
    labels = [_label(infos[names[j]]) for j in order]
    fig = _figure(8.0, 0.4 * len(order) + 1.6)
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(order))
    if kind == "bar":
        ax.barh(y, importance[order], color=_BLUE, height=0.6)
        for yi, v in zip(y, importance[order], strict=True):
            ax.text(v, yi, f" {v:.3f}", va="center", fontsize=8)
        ax.set_xlabel(f"mean |{xlabel}|")
    else:
        cmap = _value_cmap()
        scatter = None
        for yi, j in zip(y, order, strict=True):
            x = values[:, j]
            colour = _colour_values(data.iloc[:, j])
            off = _swarm_offsets(x)
            missing = ~np.isfinite(colour)
            if missing.any():
                ax.scatter(
                    x[missing], yi + off[missing], s=6, c=MISSING_COLOUR, linewidths=0
                )
            scatter = ax.scatter(
                x[~missing],
                yi + off[~missing],
                s=6,
                c=colour[~missing],
                cmap=cmap,
                vmin=0,
                vmax=1,
                linewidths=0,
            )
        ax.axvline(0.0, color="0.5", lw=0.8)
        ax.set_xlabel(xlabel)
        if scatter is not None:
            bar = fig.colorbar(scatter, ax=ax, ticks=[0, 1], aspect=40, pad=0.02)
            bar.set_ticklabels(["low", "high"])
            bar.set_label(
                "feature value (categories in level order; grey: missing)", fontsize=8
            )
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
