"""studentprofile.spark under Spark local mode: equal to the pandas path, typed errors first.

One SparkSession per test process (``local[2]``, 4 shuffle partitions, no UI;
tests/_spark_session.py), small simulated campuses. Equality is bit for bit: per-student
windows are computed by the same kernels on the same events, and the cohort stage runs the
same kernel over the same rows in the same order (the simulated students table is sorted by id).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _spark_session import require_spark, spark_session

require_spark()

import studentprofile as sp  # noqa: E402
from studentprofile.errors import ConfigError, DependencyError, SchemaError  # noqa: E402
from studentprofile.features import (  # noqa: E402
    EventFeatures,
    FeatureBuilder,
    FeatureSpec,
    StaticFeatures,
)

pytestmark = [
    # pyspark 4.x warns that it "does not yet fully support pandas >= 3.0.0" each time a pandas
    # UDF is defined or a frame converted; our results are checked against pandas below.
    pytest.mark.filterwarnings(
        "ignore:PySpark does not yet fully support pandas:FutureWarning"
    ),
]


@pytest.fixture(scope="module")
def spark() -> Any:
    """This process's Spark session (tests/_spark_session.py)."""
    return spark_session()


def sdf(spark: Any, pdf: pd.DataFrame) -> Any:
    """A Spark DataFrame of a pandas frame: times as instants, categoricals as text.

    ``studentprofile.spark.from_pandas`` goes through Arrow arrays: pyspark 4.x's own pandas
    conversion trips over pandas 3 deprecations (warnings are errors here). Naive times are
    taken as UTC, as the tables are.
    """
    from studentprofile.spark import from_pandas

    return from_pandas(spark, pdf)


def assert_same(got: pd.DataFrame, ref: pd.DataFrame) -> None:
    """Bit for bit: same index, columns, dtypes and float64 values (NaN where NaN)."""
    ref = ref.sort_index(kind="stable")
    assert list(got.columns) == list(ref.columns)
    assert got.index.equals(ref.index)
    assert (got.dtypes == ref.dtypes).all()
    a, b = got.to_numpy(), ref.to_numpy()
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    bad = [c for c, ok in zip(ref.columns, same.all(axis=0), strict=True) if not ok]
    assert not bad, f"columns differ from the pandas path: {bad}"


COHORT_SPEC = FeatureSpec([
    EventFeatures("class_attendance", aggregates=["mean", "count"], windows=[14, "all"],
                  relative=["zscore", "percentile", "ratio"], missing="cohort_mean",
                  flag_missing=True, name="att", mean_phrase="class attendance rate"),
    EventFeatures("quiz_score", aggregates=["mean", "last"], windows=[30], name="quiz",
                  relative=["zscore"], by="program", missing="zero"),
    EventFeatures("library_entry", aggregates=["count", "days_since_last"], windows=[7, 30],
                  missing="constant", fill_value=-1.0, flag_missing=True, name="lib"),
    EventFeatures("no_such_kind", aggregates=["count"], windows=[7]),  # skipped on both paths
    StaticFeatures(["program", "year_of_study", "entry_date"]),
])


def hostile_campus(seed: int) -> tuple[sp.EventTables, pd.DataFrame]:
    """A simulated campus with late known_at, students without events and without a cohort."""
    t = sp.datasets.simulate_campus(n_students=70, days=120, seed=seed)
    rng = np.random.default_rng(seed)
    ev = t.events.copy()
    late = rng.random(len(ev)) < 0.2
    ev.loc[late, "known_at"] = ev.loc[late, "time"] + pd.to_timedelta(
        rng.integers(1, 20, late.sum()), "D")
    st = t.students.copy()
    st["cohort"] = st["cohort"].astype("object")
    st.loc[st.index[:3], "cohort"] = None  # no cohort: transforms NaN, no cohort mean
    quiet = st.iloc[-2:].copy()  # students without a single event
    quiet["student_id"] = [999001, 999002]
    st = pd.concat([st, quiet], ignore_index=True)
    tables = sp.EventTables(students=st, events=ev, outcomes=t.outcomes,
                            audit_attributes=t.audit_attributes)
    grid = sp.features.make_grid(tables, every=14, per="cohort")
    grid = grid.sample(frac=0.5, random_state=seed)  # a grid that covers part of each cohort
    return tables, grid


def spark_inputs(spark: Any, tables: sp.EventTables, grid: pd.DataFrame) -> tuple[Any, ...]:
    return sdf(spark, tables.events), sdf(spark, tables.students), sdf(spark, grid)


# ------------------------------------------------------------------------------ features
@pytest.mark.parametrize("seed", [1, 7])
def test_features_equal_pandas_bit_for_bit(spark: Any, seed: int) -> None:
    from studentprofile import spark as sps

    tables, grid = hostile_campus(seed)
    spec = sp.features.behavioral_features() + COHORT_SPEC
    builder = FeatureBuilder(spec)
    ref = builder.fit_transform(tables, grid)
    ev, st, g = spark_inputs(spark, tables, grid)
    res = sps.build_features(ev, st, g, spec, shards=3,
                             audit_attributes=tables.audit_attributes)
    assert res.feature_names == builder.feature_names_out_
    assert res.feature_info == builder.feature_info_
    assert res.skipped == builder.skipped_ == {"no_such_kind": "no events of kinds "
                                               "['no_such_kind']"}
    assert res.features.columns == ["student_id", "as_of", *builder.feature_names_out_]
    assert_same(res.to_pandas(), ref)


def test_features_equal_pandas_in_a_time_zone(spark: Any) -> None:
    """Aware source times (New York clock), a Shanghai Spark session: same instants, same clock."""
    from studentprofile import spark as sps

    t = sp.datasets.simulate_campus(n_students=50, days=90, seed=4)
    zone = "America/New_York"

    def aware(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        frame = frame.copy()
        for c in cols:
            frame[c] = frame[c].dt.tz_localize("UTC").dt.tz_convert(zone)
        return frame

    events = aware(t.events, ["time", "known_at"])
    students = aware(t.students, ["entry_date", "term_start", "term_end"])
    tables = sp.EventTables(students=students, events=events,
                            audit_attributes=t.audit_attributes)
    assert tables.report.timezone == zone
    grid = sp.features.make_grid(tables, every=7, per="enrolment")
    spec = sp.features.behavioral_features()  # tod / lz entropies read the local clock
    ref = FeatureBuilder(spec).fit_transform(tables, grid)
    old = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "Asia/Shanghai")
    try:
        ev, st = sdf(spark, events), sdf(spark, students)
        g = sdf(spark, grid.assign(as_of=grid["as_of"].dt.tz_localize("UTC")))
        res = sps.build_features(ev, st, g, spec, timezone=zone,
                                 audit_attributes=t.audit_attributes)
        got = res.to_pandas()
    finally:
        spark.conf.set("spark.sql.session.timeZone", old)
    assert_same(got, ref)


def test_features_float_days_and_repeated_grid_rows(spark: Any) -> None:
    from studentprofile import spark as sps

    students = pd.DataFrame({"student_id": ["ana", "ben", "cai"], "cohort": ["a", "a", "b"]})
    events = pd.DataFrame({
        "student_id": ["ana", "ana", "ben", "cai"], "time": [1.0, 5.0, 2.0, 3.0],
        "family": "behavioral", "kind": "class_attendance", "value": [1.0, 0.0, 1.0, 1.0]})
    tables = sp.EventTables(students=students, events=events)
    grid = pd.DataFrame({"student_id": ["ana", "ben", "ana"], "as_of": [6.0, 6.0, 6.0]})
    spec = FeatureSpec([EventFeatures("class_attendance", aggregates=["mean", "count"],
                                      windows=[7], relative=["ratio"])])
    ref = FeatureBuilder(spec).fit_transform(tables, grid)
    res = sps.build_features(*spark_inputs(spark, tables, grid), spec, shards=2)
    got = res.to_pandas()
    assert len(got) == 3  # one row per grid row, as on the pandas path
    assert_same(got, ref)
    # ana's ratio uses the whole cohort 'a' (ana 0.5, ben 1.0) though ben is in the grid once
    assert got["class_attendance_mean_7d_ratio_cohort"].to_numpy()[-1] == 1.0 / 0.75


# ----------------------------------------------------------- typed errors before any job
@pytest.fixture(scope="module")
def small(spark: Any) -> dict[str, Any]:
    students = pd.DataFrame({"student_id": ["ana", "ben"], "cohort": ["a", "a"]})
    events = pd.DataFrame({
        "student_id": ["ana", "ben"], "time": pd.to_datetime(["2024-09-02", "2024-09-03"]),
        "family": "behavioral", "kind": "class_attendance", "value": [1.0, 0.0]})
    grid = pd.DataFrame({"student_id": ["ana", "ben"],
                         "as_of": pd.to_datetime(["2024-09-09", "2024-09-09"])})
    return {"students": sdf(spark, students), "events": sdf(spark, events),
            "grid": sdf(spark, grid), "pandas": (students, events, grid)}


SPEC = FeatureSpec([EventFeatures("class_attendance", aggregates=["mean"], windows=[7])])


def _build(small: dict[str, Any], **changes: Any) -> Any:
    from studentprofile import spark as sps

    args = {"events_sdf": small["events"], "students_sdf": small["students"],
            "grid_sdf": small["grid"], "spec": SPEC}
    args.update(changes)
    spec = args.pop("spec")
    return sps.build_features(args.pop("events_sdf"), args.pop("students_sdf"),
                              args.pop("grid_sdf"), spec, **args)


def test_errors_missing_and_mistyped_columns(spark: Any, small: dict[str, Any]) -> None:
    from pyspark.sql import functions as F

    with pytest.raises(SchemaError, match=r"events.value \[required-column\].*lacks required"):
        _build(small, events_sdf=small["events"].drop("value"))
    with pytest.raises(SchemaError, match=r"events.value \[spark-type\]: `value` must hold "
                       r"numbers(.|\n)*arrived: Spark type 'string'"):
        _build(small, events_sdf=small["events"].withColumn("value", F.lit("1")))
    with pytest.raises(SchemaError, match=r"grid.as_of \[spark-type\]"):
        _build(small, grid_sdf=small["grid"].withColumn("as_of", F.lit("2024-09-09")))
    with pytest.raises(SchemaError, match=r"grid.as_of \[time-kind\]"):
        _build(small, grid_sdf=small["grid"].withColumn("as_of", F.lit(3.0)))
    with pytest.raises(SchemaError, match=r"grid.student_id \[id-type\]"):
        _build(small, grid_sdf=small["grid"].withColumn("student_id", F.lit(1)))
    with pytest.raises(SchemaError, match=r"students \[type\].*must be a Spark DataFrame"):
        _build(small, students_sdf=small["pandas"][0])


def test_errors_spec_and_parameters(spark: Any, small: dict[str, Any]) -> None:
    term = FeatureSpec([EventFeatures("class_attendance", windows=["term"])])
    with pytest.raises(SchemaError, match=r"students.term_start \[required-column\]"):
        _build(small, spec=term)
    rel = FeatureSpec([EventFeatures("class_attendance", relative="zscore", by="program")])
    with pytest.raises(SchemaError, match=r"students.program \[required-column\]"):
        _build(small, spec=rel)
    with pytest.raises(ConfigError, match="spec must be a FeatureSpec"):
        _build(small, spec="behavioral")
    with pytest.raises(ConfigError, match=r"shards must be a positive integer(.|\n)*arrived: 0"):
        _build(small, shards=0)
    with pytest.raises(ConfigError, match=r"timezone must be a time zone name"):
        _build(small, timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match=r"on_absent_kind must be one of"):
        _build(small, on_absent_kind="ignore")


def test_errors_unknown_students_before_the_feature_job(spark: Any,
                                                        small: dict[str, Any]) -> None:
    students, _, grid = small["pandas"]
    bad_grid = sdf(spark, pd.concat([grid, grid.assign(student_id="zoe")]))
    with pytest.raises(SchemaError, match=r"grid.student_id \[membership\](.|\n)*'zoe'"):
        _build(small, grid_sdf=bad_grid)
    _, events, _ = small["pandas"]
    bad_events = sdf(spark, pd.concat([events, events.assign(student_id="yan")]))
    with pytest.raises(SchemaError, match=r"events.student_id \[membership\](.|\n)*'yan'"):
        _build(small, events_sdf=bad_events)
    with pytest.raises(ConfigError, match=r"fit_tables must be EventTables(.|\n)*DataFrame"):
        _build(small, fit_tables=students)


def test_shard_labels_put_one_shard_in_each_partition(spark: Any) -> None:
    """Spark's hash of a bigint, computed on the driver, sends label i to partition i."""
    from pyspark.sql import functions as F

    from studentprofile.spark._shards import shard_labels, spark_hash_long

    values = [0, 1, -1, 7, 2**40 + 3, -(2**63), 2**63 - 1]
    rows = spark.createDataFrame([(v,) for v in values], "v bigint").select(
        "v", F.hash("v").alias("h")).collect()
    assert [spark_hash_long(r.v) for r in rows] == [r.h for r in rows]
    labels = shard_labels(6)
    parts = spark.createDataFrame([(x,) for x in labels], "v bigint").repartition(6, "v")
    assert parts.rdd.glom().map(lambda p: [r.v for r in p]).collect() == [[x] for x in labels]


def test_missing_pyspark_raises_dependency_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith("studentprofile.spark")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # what an absent package looks like
    with pytest.raises(DependencyError, match=r'pip install "studentprofile\[spark\]"'):
        importlib.import_module("studentprofile.spark")


# ------------------------------------------------------------------------------- scoring
@pytest.fixture(scope="module")
def fitted_model() -> tuple[Any, pd.DataFrame]:
    rng = np.random.default_rng(5)
    n = 400
    X = pd.DataFrame({
        "attendance_30d": np.where(rng.random(n) < 0.1, np.nan, rng.random(n)),
        "lms_clicks_14d": rng.poisson(20, n).astype("float64"),
        "mean_score": rng.normal(60, 15, n),
        "library_visits_30d": rng.poisson(3, n).astype("float64"),
    })
    logit = -3 * np.nan_to_num(X["attendance_30d"].to_numpy(), nan=0.3) \
        - 0.05 * X["lms_clicks_14d"].to_numpy() + rng.normal(0, 0.5, n)
    y = (logit > np.median(logit)).astype(int)
    model = sp.RiskModel(n_estimators=40, random_state=0).fit(X, y)
    rows = X.iloc[:120].copy()
    rows.index = pd.MultiIndex.from_arrays(
        [[f"s{i:03d}" for i in range(120)],
         pd.to_datetime("2024-10-07") + pd.to_timedelta(np.arange(120) % 3 * 7, "D")],
        names=["student_id", "as_of"])
    return model, rows


def test_score_equals_predict_proba_and_explain(spark: Any,
                                                fitted_model: tuple[Any, pd.DataFrame]) -> None:
    import json

    from studentprofile import spark as sps

    model, X = fitted_model
    frame = sdf(spark, X.reset_index()).repartition(3)  # several batches and partitions
    tiers = {"high": 0.6, "medium": 0.3}
    scored = sps.score(frame, model, reasons=2, tiers=tiers)
    assert scored.columns == ["student_id", "as_of", "risk", "tier", "reasons"]
    got = scored.toArrow().to_pandas().sort_values("student_id", ignore_index=True)
    risk = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(got["risk"].to_numpy(), risk, rtol=0, atol=1e-12)
    expected_tier = np.where(risk >= 0.6, "high", np.where(risk >= 0.3, "medium", None))
    assert [None if pd.isna(v) else v for v in got["tier"]] == expected_tier.tolist()
    for engine, tol in (("compiled", 1e-12), ("lightgbm", 1e-9)):
        ref = model.explain(X, engine=engine).reasons(2)
        for row, rec in zip(got["reasons"], ref, strict=True):
            mine = json.loads(row)
            assert [r["feature"] for r in mine] == [r["feature"] for r in rec["reasons"]]
            assert [r["sentence"] for r in mine] == [r["sentence"] for r in rec["reasons"]]
            np.testing.assert_allclose([r["contribution"] for r in mine],
                                       [r["contribution"] for r in rec["reasons"]],
                                       rtol=0, atol=tol)


def test_score_errors_before_any_job(spark: Any, fitted_model: tuple[Any, pd.DataFrame]) -> None:
    from studentprofile import spark as sps

    model, X = fitted_model
    frame = sdf(spark, X.reset_index().drop(columns="mean_score"))
    with pytest.raises(SchemaError, match=r"features.mean_score \[required-column\]"):
        sps.score(frame, model)
    with pytest.raises(ConfigError, match="score needs a fitted RiskModel"):
        sps.score(frame, sp.RiskModel())
    with pytest.raises(ConfigError, match="reasons must be a positive integer"):
        sps.score(sdf(spark, X.reset_index()), model, reasons=-1)
    with pytest.raises(ConfigError, match="tiers"):
        sps.score(sdf(spark, X.reset_index()), model, tiers={"high": "x"})


# ------------------------------------------------------------------------- grids, labels
def collected(sdf_: Any) -> pd.DataFrame:
    """Collect through Arrow; timestamps as naive UTC (the session zone is UTC here)."""
    pdf = sdf_.toArrow().to_pandas()
    for c in pdf.columns:
        if isinstance(pdf[c].dtype, pd.DatetimeTZDtype):
            pdf[c] = pdf[c].dt.tz_convert(None).astype("datetime64[ns]")
    return pdf.sort_values(["student_id", "as_of"], ignore_index=True)


@pytest.fixture(scope="module")
def campus() -> sp.EventTables:
    t = sp.datasets.simulate_campus(n_students=60, days=150, seed=11)
    st = t.students.copy()
    st.loc[st.index[:4], "term_end"] = pd.NaT  # these end at the latest known_at
    ev = t.events.copy()
    ev.loc[ev.index[-5:], "known_at"] = ev["time"].max() + pd.Timedelta(9, "D")  # late facts
    return sp.EventTables(students=st, events=ev, outcomes=t.outcomes,
                          audit_attributes=t.audit_attributes)


@pytest.mark.parametrize("per, kw", [
    ("enrolment", {}),
    ("enrolment", {"start": "2024-10-01", "end": "2025-01-10"}),
    ("cohort", {}),
])
def test_make_grid_equals_pandas(spark: Any, campus: sp.EventTables, per: str,
                                 kw: dict[str, Any]) -> None:
    from studentprofile import spark as sps

    ref = sp.features.make_grid(campus, every=14, per=per, **kw)
    ref = ref.sort_values(["student_id", "as_of"], ignore_index=True)
    got = collected(sps.make_grid(sdf(spark, campus.students), sdf(spark, campus.events),
                                  every=14, per=per, **kw))
    pd.testing.assert_frame_equal(got, ref, check_dtype=True)


def test_make_labels_equals_pandas(spark: Any, campus: sp.EventTables) -> None:
    import warnings

    from studentprofile import spark as sps
    from studentprofile.errors import DataQualityWarning

    grid = sp.features.make_grid(campus, every=14, per="enrolment")
    g, oc, ev = sdf(spark, grid), sdf(spark, campus.outcomes), sdf(spark, campus.events)
    for kw in ({"outcome": "withdrawn", "horizon": 60},
               {"outcome": ["withdrawn", "failed"], "horizon": 30, "exclude_prior": False,
                "observed_until": "2024-12-20"}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)  # one-class checks: not here
            ref = sp.labels.make_labels(campus, grid, **kw)
        got = collected(sps.make_labels(g, oc, events_sdf=ev, shards=3, **kw))
        ref = ref.sort_index()
        assert got[["student_id", "as_of"]].equals(ref.index.to_frame(index=False))
        np.testing.assert_array_equal(got["label"].to_numpy(), ref.to_numpy())


def test_make_labels_warns_as_the_pandas_path(spark: Any, campus: sp.EventTables) -> None:
    import warnings

    from studentprofile import spark as sps
    from studentprofile.errors import DataQualityWarning

    grid = sp.features.make_grid(campus, every=14, per="enrolment")
    g, oc, ev = sdf(spark, grid), sdf(spark, campus.outcomes), sdf(spark, campus.events)
    kw = {"outcome": "graduated_with_honours", "horizon": 60}
    with pytest.warns(DataQualityWarning, match=r"every known label is 0") as pandas_says:
        ref = sp.labels.make_labels(campus, grid, **kw)
    with pytest.warns(DataQualityWarning) as spark_says:
        got = collected(sps.make_labels(g, oc, events_sdf=ev, shards=3, **kw))
    said = [str(w.message) for w in spark_says if w.category is DataQualityWarning]
    assert len(said) == 1
    first = said[0].splitlines()
    assert first[0] == str(pandas_says[0].message).splitlines()[0]
    known = int((~ref.isna()).sum())
    assert f"{known:,} known label(s), all 0" in first[1]
    assert f"{int(ref.isna().sum()):,} row(s) without a label" in first[1]
    assert "'graduated_with_honours'" in first[2]
    np.testing.assert_array_equal(got["label"].to_numpy(), ref.sort_index().to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)  # no counting job, no warning
        sps.make_labels(g, oc, events_sdf=ev, warn=False, **kw)
    with pytest.raises(ConfigError, match=r"warn must be True or False"):
        sps.make_labels(g, oc, warn="no", **kw)


# --------------------------------------------------------------------- the weekly job
SIM_TOML = """
name = "sim"
[data]
dataset = "simulated"
simulate = { n_students = 150, days = 240 }
[grid]
every = 14
[features]
presets = ["academic", "behavioral"]
[label]
outcome = ["withdrawn", "failed"]
horizon = 30
[model]
n_estimators = 40
[evaluation]
min_group_size = 5
n_boot = 0
explain_rows = 20
[tracking]
enabled = false
output_dir = "runs"
"""


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Any]:
    """A trained run on a small simulated campus (150 students), its tables and folder."""
    from studentprofile.pipeline import load_config, load_tables, run

    root = tmp_path_factory.mktemp("spark-weekly")
    (root / "sim.toml").write_text(SIM_TOML.replace('"runs"', repr(str(root / "runs"))))
    cfg = load_config(root / "sim.toml")
    return run(cfg).run_dir, load_tables(cfg), root


@pytest.mark.slow  # a training run, then the weekly job on both engines
def test_weekly_alerts_spark_engine_gives_the_pandas_alerts(spark: Any, sim_run: Any) -> None:
    from studentprofile.pipeline import weekly_alerts

    run_dir, tables, root = sim_run
    advisors = pd.DataFrame({"advisor_id": ["a1", "a2"], "capacity": [4, 3]})
    got = {}
    for engine in ("pandas", "spark"):
        got[engine] = weekly_alerts(
            run_dir, "2024-11-11", log=root / f"{engine}.sqlite", tables=tables,
            advisors=advisors, cards_dir=root / f"cards-{engine}", engine=engine,
            spark=spark if engine == "spark" else None)
    ref, mine = got["pandas"], got["spark"]
    assert len(ref.alerts) > 3  # the date has alerts to compare
    for frame in ("alerts", "tiers"):
        a, b = getattr(mine, frame), getattr(ref, frame)
        assert a.drop(columns="score").equals(b.drop(columns="score"))
        np.testing.assert_allclose(a["score"], b["score"], rtol=0, atol=1e-12)
    assert mine.caseloads is not None and mine.caseloads.equals(ref.caseloads)
    cards = sorted(p.name for p in (root / "cards-pandas").iterdir())
    assert cards == sorted(p.name for p in (root / "cards-spark").iterdir())
    for name in cards:
        assert (root / "cards-spark" / name).read_bytes() == \
            (root / "cards-pandas" / name).read_bytes(), name


def test_weekly_alerts_engine_errors_before_any_work(tmp_path: Any) -> None:
    from studentprofile.pipeline import weekly_alerts

    with pytest.raises(ConfigError, match=r"engine must be 'pandas' or 'spark'"):
        weekly_alerts(tmp_path, "2024-11-11", log=tmp_path / "a.sqlite", engine="dask")
    with pytest.raises(ConfigError, match=r"engine='spark' needs a SparkSession(.|\n)*NoneType"):
        weekly_alerts(tmp_path, "2024-11-11", log=tmp_path / "a.sqlite", engine="spark")
