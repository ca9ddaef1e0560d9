"""The weekly job's heavy half on either engine: feature rows of the history, and their risk.

:func:`history_rows` returns what :func:`~studentprofile.pipeline.weekly_alerts` reads from the
current students' feature rows: the risk of every row (the alert policy replays each student's
dates), the rows of today's alerts (to explain them) and each student's last rows (for cards).

- ``engine="pandas"``: ``FeatureBuilder.transform`` on the driver, as before.
- ``engine="spark"``: the features of the whole history and their risk are computed on Spark
  (:func:`studentprofile.spark.build_features` with the run's builder fit,
  :func:`studentprofile.spark.score`); only the risk column comes back whole, feature rows only
  for today's alerts and, when cards are written, each current student's last dates. The alert
  policy, the log, caseloads and cards then run on the driver exactly as on the pandas path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from studentprofile.errors import ConfigError
from studentprofile.tables import EventTables

__all__ = ["ENGINES", "HistoryRows", "history_rows"]

ENGINES = ("pandas", "spark")


@dataclass
class HistoryRows:
    """Feature rows of the current students' history on one engine.

    Attributes
    ----------
    risk : Series
        Calibrated risk per (``student_id``, ``as_of``) row, in the history grid's order.
    info : dict of str -> FeatureInfo
        The builder's column records.
    """

    risk: pd.Series
    info: dict[str, Any]
    _X: pd.DataFrame | None = None
    _spark: Any = None  # (features DataFrame, context, feature names) on the Spark engine

    def at(self, index: pd.Index) -> pd.DataFrame:
        """Return the feature rows of ``index`` (a (student_id, as_of) MultiIndex), in order."""
        if self._X is not None:
            return self._X.loc[index]
        return self._collect(pd.DataFrame(index=index).reset_index()).loc[index]

    def recent(self, dates: int) -> pd.DataFrame:
        """Return each student's last ``dates`` rows (grid order)."""
        keys = self.risk.index
        last = pd.Series(1, index=keys).groupby(level="student_id", sort=False).cumcount(
            ascending=False).to_numpy() < dates
        if self._X is not None:
            return self._X[last]
        return self._collect(keys[last].to_frame(index=False)).loc[keys[last]]

    def release(self) -> None:
        """Drop the Spark cache of the features (nothing on the pandas engine)."""
        if self._spark is not None:
            self._spark[0].unpersist()

    def _collect(self, wanted: pd.DataFrame) -> pd.DataFrame:
        from studentprofile.spark import from_pandas

        features, ctx, names = self._spark
        session = features.sparkSession
        keys = from_pandas(session, wanted[["student_id", "as_of"]].drop_duplicates())
        rows = features.join(keys, ["student_id", "as_of"], "left_semi")
        from studentprofile.spark._schema import collect

        pdf = collect(rows, ctx.session_tz)
        pdf["as_of"] = ctx.as_of(pdf["as_of"]).to_numpy()
        return pdf.set_index(["student_id", "as_of"])[names].astype("float64")


def history_rows(
    engine: str,
    spark: Any,
    *,
    tables: EventTables,
    history: pd.DataFrame,
    builder: Any,
    fit_tables: EventTables,
    model: Any,
) -> HistoryRows:
    """Build the history's feature rows and risk on ``engine``.

    Parameters
    ----------
    engine : {"pandas", "spark"}
    spark : SparkSession or None
        Needed for ``engine="spark"``.
    tables : EventTables
        The run's tables.
    history : DataFrame
        The (``student_id``, ``as_of``) rows of the current students so far.
    builder : FeatureBuilder
        The run's builder, fitted on ``fit_tables``.
    fit_tables : EventTables
        What the builder was fitted on (the Spark builder is fitted on the same).
    model : RiskModel
        The run's calibrated model.

    Returns
    -------
    HistoryRows

    Raises
    ------
    ConfigError
        An unknown engine, or ``engine="spark"`` without a SparkSession.

    Examples
    --------
    >>> rows = history_rows("pandas", None, tables=tables, history=history, builder=builder,
    ...                     fit_tables=fit, model=model)  # doctest: +SKIP
    >>> rows.risk.head(2)  # doctest: +SKIP
    """
    if engine == "pandas":
        X = builder.transform(tables, history)
        risk = pd.Series(model.predict_proba(X)[:, 1], index=X.index)
        return HistoryRows(risk=risk, info=dict(builder.feature_info_), _X=X)
    from studentprofile import spark as sps  # DependencyError (with the install hint)

    sdfs = sps.from_tables(spark, tables)
    grid = sps.from_pandas(spark, history[["student_id", "as_of"]])
    res = sps.build_features(sdfs["events"], sdfs["students"], grid, builder.spec,
                             timezone=tables.report.timezone,
                             audit_attributes=tables.audit_attributes,
                             time_origin=tables.time_origin, fit_tables=fit_tables,
                             on_absent_kind=builder.on_absent_kind)
    if res.feature_names != list(builder.feature_names_out_):
        raise ConfigError(  # the same fit on the same tables: a bug if this differs
            "the Spark builder's columns differ from the run's builder",
            key="engine", arrived=f"{len(res.feature_names)} columns on Spark, "
            f"{len(builder.feature_names_out_)} on pandas",
            hint="use engine='pandas' and report the run's config")
    features = res.features.persist()
    scored = sps.score(features, model, reasons=0).toArrow().to_pandas()
    for col in ("as_of",):
        s = scored[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            scored[col] = s.dt.tz_convert(None).astype("datetime64[ns]")
    scored = scored.set_index(["student_id", "as_of"])["risk"]
    order = pd.MultiIndex.from_frame(history[["student_id", "as_of"]])
    risk = scored.groupby(level=[0, 1], sort=False).first().reindex(order)
    return HistoryRows(risk=risk, info=dict(res.feature_info),
                       _spark=(features, res.context, res.feature_names))


def check_engine(engine: Any, spark: Any) -> None:
    """Check ``engine`` and ``spark`` before any work (ConfigError)."""
    if engine not in ENGINES:
        raise ConfigError("engine must be 'pandas' or 'spark'", key="engine",
                          arrived=repr(engine), hint="engine='spark' needs spark=SparkSession")
    if engine == "spark":
        kind = type(spark).__name__
        if spark is None or kind != "SparkSession":
            raise ConfigError("engine='spark' needs a SparkSession", key="spark",
                              arrived=f"an object of type {kind}",
                              hint="pass spark=SparkSession.builder.getOrCreate()")
