"""Explanations: SHAP values of a risk model for a batch of students, with reasons and plots."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from studentprofile.errors import ConfigError, SchemaError
from studentprofile.explain import _plots, _reasons
from studentprofile.features._info import FeatureInfo, infer_feature_infos

if TYPE_CHECKING:
    import shap

    from studentprofile.models import RiskModel

__all__ = ["Explanations"]

REFERENCES: tuple[str, ...] = ("training", "batch")


def _json(v: Any) -> Any:
    """Return a JSON-ready version of a scalar (NaN/inf -> None, timestamps -> ISO text)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, pd.Timestamp | np.datetime64):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, pd.Timedelta):
        return v.isoformat()
    if v is pd.NaT or v is pd.NA:
        return None
    return v


def _index_keys(index: pd.Index) -> list[str]:
    names = list(index.names)
    if len(names) == 1:
        return [str(names[0]) if names[0] is not None else "row"]
    return [str(n) if n is not None else f"level_{i}" for i, n in enumerate(names)]


class Explanations:
    """Per-student SHAP values of a risk model, in log-odds, with reasons advisors can read.

    Build it with ``model.explain(X)``. The values satisfy, for every row ``i``,
    ``values[i].sum() + base_value == raw[i]`` (the model's raw score, to rounding, ~1e-15).

    Parameters
    ----------
    values : ndarray of shape (n, p) or (n, p, k)
        SHAP values. Binary: log-odds contributions to ``output_class``. Multi-class: one slice
        per class along the last axis, in the order of ``classes`` (use :meth:`for_class`).
    base_value : float or ndarray of shape (k,)
        The expected raw score over the training data (as the trees' cover weights it).
    data : DataFrame of shape (n, p)
        The feature values the model saw (categoricals with the model's levels; unknown levels
        are missing), indexed like the explained ``X``.
    feature_info : mapping of str -> FeatureInfo, optional
        What each feature means; inferred from ``data`` when omitted.
    reference : mapping of str -> value, optional
        The "cohort median" of each feature (most common level for categoricals).
    raw : ndarray of shape (n,) or (n, k), optional
        The model's raw scores; computed from the values when omitted.
    probability : ndarray of shape (n,) or (n, k), optional
        The model's calibrated probabilities (of ``output_class`` for binary).
    classes : sequence, optional
        The model's classes.
    output_class : object, optional
        The class the binary-shaped values explain (``classes[1]`` for a binary model).

    Attributes
    ----------
    feature_names : list of str
        Column names, in the order of the values' feature axis.
    reference_source : str
        ``"training"`` or ``"batch"``: where ``reference`` came from.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from studentprofile.explain import Explanations
    >>> data = pd.DataFrame({"absences": [12.0, 1.0], "credits": [20.0, 60.0]},
    ...                     index=pd.Index(["ana", "ben"], name="student_id"))
    >>> ex = Explanations(np.array([[0.8, 0.3], [-0.2, -0.5]]), -1.0, data=data,
    ...                   reference={"absences": 3.0, "credits": 45.0})
    >>> ex.raw.tolist()
    [0.10000000000000009, -1.7]
    >>> ex.reasons(top=1)[0]["reasons"][0]["sentence"]
    'Absences was 12 (cohort median 3); this raised the risk estimate.'
    """

    def __init__(
        self,
        values: Any,
        base_value: Any,
        *,
        data: pd.DataFrame,
        feature_info: Mapping[str, FeatureInfo] | None = None,
        reference: Mapping[str, Any] | None = None,
        raw: Any = None,
        probability: Any = None,
        classes: Sequence[Any] | None = None,
        output_class: Any = None,
        reference_source: str = "training",
    ):
        v = np.asarray(values, dtype="float64")
        if not isinstance(data, pd.DataFrame):
            raise SchemaError(
                "data must be a DataFrame of the explained feature values",
                table="data",
                rule="frame",
                arrived=type(data).__name__,
            )
        n, p = data.shape
        if v.ndim not in (2, 3) or v.shape[:2] != (n, p):
            raise SchemaError(
                "values must have shape (n, p) or (n, p, k) matching data",
                table="values",
                rule="shape",
                arrived=f"values {v.shape}, data {data.shape}",
            )
        base = np.asarray(base_value, dtype="float64")
        if v.ndim == 2 and base.ndim != 0:
            raise SchemaError(
                "base_value must be a number for 2-d values",
                table="base_value",
                rule="shape",
                arrived=f"shape {base.shape}",
            )
        if v.ndim == 3 and base.shape != (v.shape[2],):
            raise SchemaError(
                "base_value must have one entry per class for 3-d values",
                table="base_value",
                rule="shape",
                arrived=f"shape {base.shape} for {v.shape[2]} classes",
            )
        self.values = v
        self.base_value: Any = float(base) if base.ndim == 0 else base
        self.data = data
        self.feature_names = [str(c) for c in data.columns]
        self.feature_info = dict(infer_feature_infos(data, feature_info))
        self.reference: dict[str, Any] = dict(reference or {})
        self.raw = (
            np.asarray(raw, dtype="float64") if raw is not None else v.sum(axis=1) + base
        )
        self.probability = None if probability is None else np.asarray(probability, "float64")
        self.classes = None if classes is None else list(classes)
        self.output_class = output_class
        if reference_source not in REFERENCES:
            raise ConfigError(
                f"reference must be one of {list(REFERENCES)!r}",
                key="reference",
                arrived=repr(reference_source),
            )
        self.reference_source = reference_source

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_model(
        cls, model: RiskModel, X: Any, *, reference: str = "training", engine: str = "lightgbm"
    ) -> Explanations:
        """Explain ``model`` on ``X`` with LightGBM's TreeSHAP (``pred_contrib``).

        Parameters
        ----------
        model : RiskModel
            A fitted model.
        X : DataFrame or array
            Features, as in ``fit``.
        reference : {"training", "batch"}, default "training"
            Source of the "cohort median" in reasons: the values stored in the model (over the
            rows ``fit`` saw) or the medians of this batch.
        engine : {"lightgbm", "compiled"}, default "lightgbm"
            See :meth:`RiskModel.explain`.

        Returns
        -------
        Explanations
        """
        from studentprofile.models._frame import decode_matrix, encode_matrix, reference_values

        if reference not in REFERENCES:
            raise ConfigError(
                f"reference must be one of {list(REFERENCES)!r}",
                key="reference",
                arrived=repr(reference),
                hint="'training' quotes the medians stored in the model; 'batch' those of X",
            )
        frame = model._columns(X)
        matrix = encode_matrix(frame, model.categories_)
        prepared = decode_matrix(matrix, list(frame.columns), model.categories_, frame.index)
        values, base = model._contributions(matrix, engine)
        raw = model._raw(matrix)
        proba = model.calibrator_.transform(raw) if len(matrix) else None
        classes = list(model.classes_.tolist())
        binary = len(classes) == 2
        if proba is not None and binary:
            proba = proba[:, 1]
        ref = (
            dict(model.reference_values_)
            if reference == "training"
            else reference_values(prepared)
        )
        return cls(
            values,
            base,
            data=prepared,
            feature_info=model.feature_info_,
            reference=ref,
            raw=raw,
            probability=proba,
            classes=classes,
            output_class=classes[1] if binary else None,
            reference_source=reference,
        )

    # ------------------------------------------------------------------------------ shape
    @property
    def is_multiclass(self) -> bool:
        """True when the values have a class axis (use :meth:`for_class`)."""
        return self.values.ndim == 3

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def __repr__(self) -> str:
        what = (
            f"classes={self.classes!r}"
            if self.is_multiclass
            else f"output_class={self.output_class!r}"
        )
        return (
            f"Explanations(n={len(self)}, features={len(self.feature_names)}, {what}, "
            f"reference={self.reference_source!r})"
        )

    def _repr_html_(self) -> str:
        """Compact notebook display: the additivity check, what drives the scores, reasons.

        Bounded whatever the batch: the top features by mean |SHAP| and the first students
        with their top three reasons (sensitive and audit features excluded, as in
        :meth:`reasons`); every id, feature name and phrase is escaped.
        """
        from studentprofile import _html

        n_show = _html.MAX_ROWS
        values = self.values
        base = np.atleast_1d(np.asarray(self.base_value, dtype="float64"))
        sums = values.sum(axis=1) + (base if self.is_multiclass else base[0])
        gap = float(np.max(np.abs(sums - self.raw))) if len(self) else 0.0
        parts = [_html.note(
            "SHAP values in log-odds. For every row the values plus the base value "
            f"({', '.join(f'{b:.4f}' for b in base)}) give the model's raw score; the largest "
            f"gap in this batch is {gap:.1e}."
        )]
        mean_abs = np.abs(values).mean(axis=0) if len(self) else np.zeros(values.shape[1:])
        if self.is_multiclass:
            classes = [str(c) for c in (self.classes or range(values.shape[2]))]
            order = np.argsort(-mean_abs.sum(axis=1), kind="stable")[:n_show]
            top = pd.DataFrame(mean_abs[order], columns=classes,
                               index=pd.Index([self.feature_names[j] for j in order],
                                              name="feature"))
            parts += [_html.heading("Top features, mean |SHAP| per class"),
                      _html.table(top, max_cols=_html.MAX_COLS),
                      _html.note("Per class: .for_class(label) (reasons, sums, plots).")]
            return _html.display(repr(self), parts)
        order = np.argsort(-mean_abs, kind="stable")[:n_show]
        infos = [self.feature_info[self.feature_names[j]] for j in order]
        top = pd.DataFrame({
            "feature": [self.feature_names[j] for j in order],
            "phrase": [i.phrase for i in infos],
            "family": [i.family for i in infos],
            "sensitivity": [i.sensitivity for i in infos],
            "mean |SHAP|": mean_abs[order],
        })
        families = self.by_family()
        fam = pd.DataFrame({"mean |SHAP|": families.abs().mean(axis=0),
                            "mean SHAP": families.mean(axis=0)})
        head = self[:n_show]
        students = head.data.index.to_frame(index=False)  # the ids and dates as they are
        students.columns = _index_keys(head.data.index)
        if head.probability is not None:
            students["probability"] = head.probability
        students["raw"] = head.raw
        students["reasons"] = [" / ".join(r["sentence"] for r in record["reasons"]) or "–"
                               for record in head.reasons(top=3)]
        parts += [
            _html.heading(f"Top {len(top)} of {values.shape[1]} features by mean |SHAP|"),
            _html.table(top, index=False),
            _html.heading("By family"),
            _html.table(fam),
            _html.heading("Reasons (sensitive and audit features left out)"),
            _html.table(students, index=False),
        ]
        if len(self) > n_show:
            parts.append(_html.note(f"... {len(self) - n_show:,} more students: "
                                    ".reasons(), .to_frame()"))
        return _html.display(repr(self), parts)

    def __getitem__(self, rows: Any) -> Explanations:
        """Select rows by position (int, slice, list or boolean mask)."""
        if isinstance(rows, int | np.integer):
            rows = [int(rows)]
        idx = np.arange(len(self))[rows]
        return Explanations(
            self.values[idx],
            self.base_value,
            data=self.data.iloc[idx],
            feature_info=self.feature_info,
            reference=self.reference,
            raw=self.raw[idx],
            probability=None if self.probability is None else self.probability[idx],
            classes=self.classes,
            output_class=self.output_class,
            reference_source=self.reference_source,
        )

    def for_class(self, label: Any) -> Explanations:
        """Return the explanation of one class of a multi-class model (binary-shaped values).

        Parameters
        ----------
        label : object
            One of ``classes`` (e.g. ``"dropout"``).

        Returns
        -------
        Explanations
        """
        if not self.is_multiclass:
            if label == self.output_class:
                return self
            raise ConfigError(
                "a binary explanation explains only its output class",
                key="label",
                arrived=repr(label),
                hint=f"the output class is {self.output_class!r}",
            )
        classes = list(self.classes or [])
        if label not in classes:
            raise ConfigError(
                "label must be one of the model's classes",
                key="label",
                arrived=repr(label),
                hint=f"the classes are {classes!r}",
            )
        j = classes.index(label)
        return Explanations(
            self.values[:, :, j],
            float(self.base_value[j]),
            data=self.data,
            feature_info=self.feature_info,
            reference=self.reference,
            raw=self.raw[:, j],
            probability=None if self.probability is None else self.probability[:, j],
            classes=self.classes,
            output_class=label,
            reference_source=self.reference_source,
        )

    def _binary(self, what: str) -> None:
        if self.is_multiclass:
            raise ConfigError(
                f"{what} needs the explanation of one class",
                key="class",
                arrived=f"a {len(self.classes or [])}-class explanation",
                hint="call .for_class(label) first, e.g. "
                f".for_class({(self.classes or [''])[0]!r})",
            )

    def _outcome(self) -> str:
        """Name the explained outcome: a text class by its name, a 0/1 class "the outcome".

        Axis labels used to say "log-odds of 1", which names a code, not an outcome.
        """
        c = self.output_class
        if isinstance(c, str) and c.strip():
            return c
        return "the outcome"

    def _target(self) -> str:
        if self.classes is not None and len(self.classes) > 2:
            return f"the estimated chance of {self.output_class}"
        return "the risk estimate"

    # ------------------------------------------------------------------------------ sums
    def to_frame(self) -> pd.DataFrame:
        """SHAP values as a DataFrame (rows like ``data``, one column per feature)."""
        self._binary("to_frame")
        return pd.DataFrame(self.values, index=self.data.index, columns=self.feature_names)

    def _grouped(self, attr: str) -> pd.DataFrame:
        self._binary(f"by_{attr}")
        keys = [getattr(self.feature_info[f], attr) for f in self.feature_names]
        groups = list(dict.fromkeys(keys))
        out = np.zeros((len(self), len(groups)))
        for j, key in enumerate(keys):
            out[:, groups.index(key)] += self.values[:, j]
        return pd.DataFrame(out, index=self.data.index, columns=pd.Index(groups, name=attr))

    def by_family(self) -> pd.DataFrame:
        """SHAP values summed by feature family (academic, behavioral, ...), per student.

        Every feature is counted, sensitive and audit ones included; the row sums plus
        ``base_value`` still give the raw score.

        Returns
        -------
        DataFrame
            One row per student, one column per family (in order of first appearance).
        """
        return self._grouped("family")

    def by_kind(self) -> pd.DataFrame:
        """SHAP values summed by event kind (class_attendance, lms_click, ...), per student.

        Returns
        -------
        DataFrame
            One row per student, one column per kind.
        """
        return self._grouped("kind")

    # ------------------------------------------------------------------------------ reasons
    def reasons(
        self,
        top: int = 3,
        *,
        allow: Iterable[str] = (),
        direction: str = "both",
        as_frame: bool = False,
    ) -> Any:
        """Return the ``top`` features that moved each student's risk most, in plain words.

        Parameters
        ----------
        top : int, default 3
            Most reasons per student (fewer when fewer features contributed). A feature whose
            value reads the same as its reference ("most common GP" for a student at GP) is
            never a reason: the next feature is cited instead.
        allow : iterable of str, default ()
            Sensitive (well-being) or audit features to let into the reasons, by name. Without
            this they never appear (they still count in ``values`` and the sums).
        direction : {"both", "raised", "lowered"}, default "both"
            Keep contributions of either sign (ranked by size), or only those that raised or
            only those that lowered the risk.
        as_frame : bool, default False
            Return one long DataFrame (one row per reason) instead of a list of dicts.

        Returns
        -------
        list of dict or DataFrame
            Per student: the index keys (e.g. ``student_id``, ``as_of``), ``raw``,
            ``probability`` and ``reasons``, a list of records with ``feature``, ``phrase``,
            ``family``, ``kind``, ``value``, ``value_text``, ``reference`` (the cohort median),
            ``reference_text``, ``direction``, ``contribution`` (log-odds) and ``sentence``.
        """
        self._binary("reasons")
        per_row = _reasons.top_reasons(
            self.values,
            self.data,
            self.feature_info,
            self.reference,
            top=top,
            allow=allow,
            direction=direction,
            target=self._target(),
        )
        keys = _index_keys(self.data.index)
        index_rows = self._index_rows()
        out: list[dict[str, Any]] = []
        for i, reasons in enumerate(per_row):
            record: dict[str, Any] = dict(zip(keys, index_rows[i], strict=True))
            record["raw"] = float(self.raw[i])
            record["probability"] = (
                None if self.probability is None else float(self.probability[i])
            )
            record["reasons"] = reasons
            out.append(record)
        if not as_frame:
            return out
        flat = [
            {**{k: r[k] for k in keys}, "rank": rank + 1, **reason}
            for r in out
            for rank, reason in enumerate(r["reasons"])
        ]
        columns = [*keys, "rank", "feature", "phrase", "family", "kind", "value", "value_text",
                   "reference", "reference_text", "direction", "contribution", "sentence"]
        return pd.DataFrame(flat, columns=columns)

    def _index_rows(self) -> list[tuple[Any, ...]]:
        index = self.data.index
        if isinstance(index, pd.MultiIndex):
            return [tuple(_json(v) for v in row) for row in index]
        return [(_json(v),) for v in index]

    # ------------------------------------------------------------------------------ output
    def to_records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per student: index keys, raw, probability and SHAP values.

        Returns
        -------
        list of dict
            Binary: ``values`` maps feature -> contribution. Multi-class: ``values`` maps
            class -> {feature -> contribution}; ``raw``/``probability``/``base_value`` are
            per class too.
        """
        keys = _index_keys(self.data.index)
        rows = self._index_rows()
        out: list[dict[str, Any]] = []
        for i in range(len(self)):
            rec: dict[str, Any] = dict(zip(keys, rows[i], strict=True))
            if self.is_multiclass:
                classes = [str(c) for c in self.classes or range(self.values.shape[2])]
                rec["base_value"] = dict(zip(classes, self.base_value.tolist(), strict=True))
                rec["raw"] = dict(zip(classes, self.raw[i].tolist(), strict=True))
                rec["probability"] = (
                    None
                    if self.probability is None
                    else dict(zip(classes, self.probability[i].tolist(), strict=True))
                )
                rec["values"] = {
                    c: dict(zip(self.feature_names, self.values[i, :, j].tolist(), strict=True))
                    for j, c in enumerate(classes)
                }
            else:
                rec["base_value"] = float(self.base_value)
                rec["raw"] = float(self.raw[i])
                rec["probability"] = (
                    None if self.probability is None else float(self.probability[i])
                )
                rec["values"] = dict(zip(self.feature_names, self.values[i].tolist(),
                                         strict=True))
            out.append(rec)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the whole explanation as one JSON-ready document (arrays as nested lists).

        Returns
        -------
        dict
        """
        base = self.base_value
        return {
            "feature_names": list(self.feature_names),
            "index_names": _index_keys(self.data.index),
            "index": [list(r) for r in self._index_rows()],
            "classes": None if self.classes is None else [_json(c) for c in self.classes],
            "output_class": _json(self.output_class),
            "base_value": float(base) if not self.is_multiclass else base.tolist(),
            "values": self.values.tolist(),
            "raw": self.raw.tolist(),
            "probability": None if self.probability is None else self.probability.tolist(),
            "data": {
                c: [_json(v) for v in self.data[c].to_numpy(dtype=object)]
                for c in self.feature_names
            },
            "feature_info": {k: v.to_dict() for k, v in self.feature_info.items()},
            "reference": {k: _json(v) for k, v in self.reference.items()},
            "reference_source": self.reference_source,
            "units": "log-odds",
        }

    def to_shap(self) -> shap.Explanation:
        """Return a ``shap.Explanation`` for the shap plotting ecosystem.

        ``data`` holds the numbers the trees split on (category codes for categoricals),
        ``display_data`` the readable values.

        Returns
        -------
        shap.Explanation
        """
        import shap

        from studentprofile.models._frame import encode_numeric

        n = len(self)
        if self.is_multiclass:
            base = np.tile(np.asarray(self.base_value), (n, 1))
        else:
            base = np.full(n, float(self.base_value))
        return shap.Explanation(
            values=self.values,
            base_values=base,
            data=encode_numeric(self.data),
            display_data=self.data.to_numpy(dtype=object),
            feature_names=list(self.feature_names),
            output_names=None if not self.is_multiclass else [str(c) for c in self.classes or []],
        )

    # ------------------------------------------------------------------------------ plots
    def plot_waterfall(self, i: int, path: Any, *, max_display: int = 10) -> Path:
        """Save a waterfall plot of student ``i`` (by position) as PNG.

        Parameters
        ----------
        i : int
            Row position.
        path : str or Path
            Target ``.png`` file.
        max_display : int, default 10
            Features shown; the rest are summed into one bar.

        Returns
        -------
        Path
        """
        self._binary("plot_waterfall")
        if not (-len(self) <= int(i) < len(self)):
            raise ConfigError(
                "i must be a row position of the explanation",
                key="i",
                arrived=repr(i),
                hint=f"use 0 .. {len(self) - 1}",
            )
        row = self.data.iloc[int(i)]
        label = self._index_rows()[int(i)]
        title = f"{', '.join(str(v) for v in label)}"
        if self.probability is not None:
            title += f": calibrated probability {float(self.probability[int(i)]):.1%}"
        return _plots.plot_waterfall(
            self.values[int(i)],
            float(self.base_value),
            row,
            self.feature_info,
            path,
            max_display=max_display,
            title=title,
            xlabel=f"risk of {self._outcome()}, log-odds",
        )

    def plot_summary(self, path: Any, *, kind: str = "beeswarm", max_display: int = 15) -> Path:
        """Save a population summary as PNG: a beeswarm of SHAP values or mean |SHAP| bars.

        Parameters
        ----------
        path : str or Path
            Target ``.png`` file.
        kind : {"beeswarm", "bar"}, default "beeswarm"
            The plot.
        max_display : int, default 15
            Features shown (by mean |SHAP|).

        Returns
        -------
        Path
        """
        self._binary("plot_summary")
        return _plots.plot_summary(
            self.values,
            self.data,
            self.feature_info,
            path,
            kind=kind,
            max_display=max_display,
            xlabel=f"SHAP value: push on the risk of {self._outcome()} (log-odds)",
        )
