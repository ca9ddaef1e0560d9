"""Temporal splits and backtests: windows by hand, both leakage rules by construction, errors."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from _evaluation_fakes import CausalBuilder, LeakyBuilder, grid_for, synthetic_tables
from studentprofile.errors import ConfigError, SchemaError
from studentprofile.evaluation import TemporalSplits, _backtest, backtest, precision_at_k, roc_auc
from studentprofile.tables import EventTables


class RecordingLR(LogisticRegression):
    """LogisticRegression that remembers what it was trained on."""

    def fit(self, X, y, sample_weight=None):
        self.seen_index_ = X.index.copy()
        self.seen_y_ = np.asarray(y).copy()
        return super().fit(X, y, sample_weight=sample_weight)


@pytest.fixture(scope="module")
def tables():
    return synthetic_tables(200, seed=3)


@pytest.fixture(scope="module")
def grid(tables):
    return grid_for(tables)


SPLITS = dict(test_start=250.0, test_end=400.0, horizon=30, retrain_every=50, gap=3)


def run(tables, grid, builder=None, model=None, **kw):
    splits = TemporalSplits(**{**SPLITS, **kw.pop("splits", {})})
    return backtest(
        tables,
        splits,
        feature_builder=builder or CausalBuilder(),
        model=model or RecordingLR(solver="liblinear"),
        outcome="withdrawn",
        grid=grid,
        **kw,
    )


# ------------------------------------------------------------------------------ splits
def test_windows_by_hand():
    splits = TemporalSplits(
        test_start=100.0, test_end=170.0, horizon=30, retrain_every=30, gap=2, max_history=50
    )
    f = splits.to_frame()
    assert f["test_from"].tolist() == [100.0, 130.0, 160.0]
    assert f["test_until"].tolist() == [130.0, 160.0, 170.0]
    assert f["label_cutoff"].tolist() == [98.0, 128.0, 158.0]
    assert f["train_until"].tolist() == [68.0, 98.0, 128.0]
    assert f["train_from"].tolist() == [18.0, 48.0, 78.0]
    assert len(splits) == splits.get_n_splits() == 3
    X = pd.DataFrame({"as_of": [17.0, 18.0, 68.0, 69.0, 100.0, 129.9, 130.0, 170.0]})
    pairs = [(tr.tolist(), te.tolist()) for tr, te in splits.split(X)]
    assert pairs[0] == ([1, 2], [4, 5])
    assert pairs[2] == ([4], [])  # train [78, 128]; test [160, 170) and 170 is excluded
    assert splits.to_frame(X)["n_test"].tolist() == [2, 1, 0]


def test_datetime_windows_and_train_start():
    splits = TemporalSplits(
        test_start="2014-02-01", test_end="2014-04-01", horizon=pd.Timedelta(days=28),
        train_start="2013-06-01",
    )
    w = next(iter(splits))
    assert w.test_from == pd.Timestamp("2014-02-01")
    assert w.train_until == pd.Timestamp("2014-01-04")
    assert w.train_from == pd.Timestamp("2013-06-01")
    assert splits.time_kind == "datetime"
    idx = pd.MultiIndex.from_arrays(
        [[1, 2, 3], pd.to_datetime(["2013-05-01", "2013-12-01", "2014-03-01"])],
        names=["student_id", "as_of"],
    )
    (tr, te), = splits.split(pd.DataFrame({"x": [1, 2, 3]}, index=idx))
    assert tr.tolist() == [1] and te.tolist() == [2]


@given(
    st.floats(50, 200), st.floats(1, 60), st.floats(0, 20), st.floats(5, 80),
    st.one_of(st.none(), st.floats(1, 100)),
    st.lists(st.floats(0, 400), min_size=1, max_size=60),
)
def test_training_windows_never_reach_the_test_as_of(start, horizon, gap, every, history, dates):
    splits = TemporalSplits(
        test_start=start, test_end=start + 150, horizon=horizon, gap=gap, retrain_every=every,
        max_history=history,
    )
    X = pd.DataFrame({"as_of": dates})
    for window, (tr, te) in zip(splits, splits.split(X), strict=True):
        as_of = X["as_of"].to_numpy()
        # every training label window [as_of, as_of + horizon) closes by the cutoff
        assert np.all(as_of[tr] + horizon <= window.label_cutoff + 1e-9)
        assert window.label_cutoff <= window.test_from
        assert np.all((as_of[te] >= window.test_from) & (as_of[te] < window.test_until))
        if history is not None:
            assert np.all(as_of[tr] >= window.train_until - history - 1e-9)
    # test windows tile [start, end) without overlap
    f = splits.to_frame()
    assert f["test_from"].iloc[0] == start and f["test_until"].iloc[-1] == start + 150
    assert np.all(f["test_from"].to_numpy()[1:] == f["test_until"].to_numpy()[:-1])


def test_splits_work_as_a_scikit_learn_cv(tables, grid):
    X = CausalBuilder().transform(tables, grid)
    from studentprofile.labels import make_labels

    y = make_labels(tables, grid, outcome="withdrawn", horizon=30).reindex(X.index)
    keep = y.notna().to_numpy()
    splits = TemporalSplits(test_start=200.0, test_end=350.0, horizon=30, retrain_every=50)
    scores = cross_val_score(
        LogisticRegression(), X[keep], y[keep].astype(int), cv=splits, scoring="roc_auc"
    )
    assert len(scores) == 3 and np.all((scores > 0.5) & (scores <= 1))


def test_split_errors():
    with pytest.raises(ConfigError, match=re.escape(_backtest.EMPTY_WINDOW)):
        TemporalSplits(test_start=10.0, test_end=10.0, horizon=5)
    with pytest.raises(ConfigError, match=re.escape(_backtest.DATES_MIXED)):
        TemporalSplits(test_start="2014-01-01", test_end=10.0, horizon=5)
    with pytest.raises(ConfigError, match=re.escape(
        _backtest.DAYS_INVALID.format(key="horizon"))):
        TemporalSplits(test_start=0.0, test_end=10.0, horizon=0)
    with pytest.raises(ConfigError, match=re.escape(
        _backtest.DAYS_INVALID_OR_ZERO.format(key="gap"))):
        TemporalSplits(test_start=0.0, test_end=10.0, horizon=5, gap=-1)
    with pytest.raises(ConfigError, match=re.escape(_backtest.DATE_INVALID.format(
        key="test_start"))):
        TemporalSplits(test_start="next monday", test_end=10.0, horizon=5)
    splits = TemporalSplits(test_start=0.0, test_end=10.0, horizon=5)
    with pytest.raises(SchemaError, match=re.escape(_backtest.NO_AS_OF)):
        list(splits.split(pd.DataFrame({"when": [1.0]})))
    with pytest.raises(SchemaError, match=re.escape(_backtest.KIND_MISMATCH)):
        list(splits.split(pd.DataFrame({"as_of": pd.to_datetime(["2014-01-01"])})))


# ------------------------------------------------------------------------------ backtest
def test_backtest_metrics_match_the_scores(tables, grid):
    res = run(tables, grid)
    assert len(res.metrics) == 3 and len(res.models) == 3
    for split, row in res.metrics.iterrows():
        sub = res.scores[(res.scores["split"] == split) & res.scores["label"].notna()]
        assert row["n_test"] == len(sub)
        assert row["roc_auc"] == pytest.approx(roc_auc(sub["label"], sub["score"]))
        per_date = [
            precision_at_k(d["label"], d["score"], 0.1, ties="expected")
            for _, d in sub.groupby("as_of")
        ]
        assert row["precision@10%"] == pytest.approx(np.nanmean(per_date))
    # the trained models really learned something on this data
    assert (res.metrics["roc_auc"] > 0.6).all()
    assert set(res.to_frame().columns) >= {"pr_auc", "brier", "ece", "lift@20%", "recall@5%"}


def test_truncation_changes_nothing_for_a_causal_builder(tables, grid):
    a = run(tables, grid, truncate=True)
    b = run(tables, grid, truncate=False)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    pd.testing.assert_frame_equal(a.metrics, b.metrics)


def _plant(tables: EventTables, *, events=None, outcomes=None) -> EventTables:
    ev = tables.events.drop(columns=[]).astype({"family": object, "kind": object})
    oc = tables.outcomes.astype({"outcome": object})
    if events is not None:
        ev = pd.concat([ev, events], ignore_index=True)
    if outcomes is not None:
        oc = pd.concat([oc, outcomes], ignore_index=True)
    return EventTables(
        students=tables.students, events=ev, outcomes=oc,
        audit_attributes=tables.audit_attributes,
    )


def test_rule_1_test_rows_use_nothing_known_after_their_as_of(tables, grid):
    """Plant events (and outcomes) known at day 321: rows scored at or before day 321 keep their
    scores exactly, even with a builder that reads the whole history, because each as-of
    date's features are built from the tables truncated to what was known before it."""
    ids = tables.students["student_id"].to_numpy()
    planted = pd.DataFrame(
        {
            "student_id": ids,
            "time": 321.0,
            "known_at": 321.0,
            "family": "behavioral",
            "kind": "lms_click",
            "value": 1000.0,
        }
    )
    late_outcomes = pd.DataFrame({"student_id": ids[:40], "time": 321.0, "outcome": "withdrawn"})
    changed = _plant(tables, events=planted, outcomes=late_outcomes)
    before = run(tables, grid, builder=LeakyBuilder(), test_observed_until=320.0)
    after = run(changed, grid, builder=LeakyBuilder(), test_observed_until=320.0)
    early = (before.scores["as_of"] <= 321.0).to_numpy()
    assert early.sum() > 500
    np.testing.assert_array_equal(
        before.scores.loc[early, "score"].to_numpy(), after.scores.loc[early, "score"].to_numpy()
    )
    # later rows legitimately see the planted events
    assert not np.array_equal(
        before.scores.loc[~early, "score"].to_numpy(), after.scores.loc[~early, "score"].to_numpy()
    )
    # the same builder without truncation leaks into the early rows: the check has teeth
    leaky_before = run(tables, grid, builder=LeakyBuilder(), truncate=False,
                       test_observed_until=320.0)
    leaky_after = run(changed, grid, builder=LeakyBuilder(), truncate=False,
                      test_observed_until=320.0)
    assert not np.array_equal(
        leaky_before.scores.loc[early, "score"].to_numpy(),
        leaky_after.scores.loc[early, "score"].to_numpy(),
    )


def test_rule_2_no_training_label_reaches_past_the_test_as_of(tables, grid):
    """Plant withdrawals exactly at split i's label cutoff (the earliest moment rule 2 forbids
    it to see): model i and every earlier one train on exactly the same rows and labels, so
    their scores do not move. Inside the latest training window they do: the check has teeth."""
    res = run(tables, grid)
    for window, model in zip(res.splits.itertuples(), res.models, strict=True):
        as_of = model.seen_index_.get_level_values("as_of").to_numpy()
        assert np.all(as_of + 30 <= window.label_cutoff)
        assert window.label_cutoff <= window.test_from
    never = tables.students.loc[
        ~tables.students["student_id"].isin(tables.outcomes["student_id"]), "student_id"
    ].to_numpy()[:60]
    for i, cutoff in enumerate(res.splits["label_cutoff"]):
        planted = pd.DataFrame({"student_id": never, "time": cutoff, "outcome": "withdrawn"})
        again = run(_plant(tables, outcomes=planted), grid)
        for j in range(i + 1):
            m0, m1 = res.models[j], again.models[j]
            pd.testing.assert_index_equal(m0.seen_index_, m1.seen_index_)
            np.testing.assert_array_equal(m0.seen_y_, m1.seen_y_)
            np.testing.assert_array_equal(m0.coef_, m1.coef_)
            same = (res.scores["split"] == j).to_numpy()
            np.testing.assert_array_equal(
                res.scores.loc[same, "score"], again.scores.loc[same, "score"]
            )
        # inside the latest training label window (before the cutoff) it must show
        latest = res.models[i].seen_index_.get_level_values("as_of").max()
        inside = planted.assign(time=latest + 29.0)
        assert latest + 29.0 < cutoff
        earlier = run(_plant(tables, outcomes=inside), grid)
        assert not np.array_equal(res.models[i].seen_y_, earlier.models[i].seen_y_)


def test_test_windows_past_the_end_of_observation_are_unlabelled(tables, grid):
    res = run(tables, grid, test_observed_until=380.0)
    late = res.scores["as_of"] + 30 > 380.0
    assert res.scores.loc[late, "label"].isna().all()
    assert res.scores.loc[~late, "label"].notna().any()


def test_masks_restrict_rows(tables, grid):
    cohort_a = (grid["student_id"].str[-1].astype(int) % 2 == 0).to_numpy()
    res = run(tables, grid, train_mask=cohort_a, test_mask=~cohort_a)
    tested = set(res.scores["student_id"])
    trained = {sid for m in res.models for sid in m.seen_index_.get_level_values(0)}
    assert tested.isdisjoint(trained)
    assert all(int(s[-1]) % 2 == 0 for s in trained)


def test_generated_grid_every_seven_days(tables):
    res = run(tables, None, splits={"retrain_every": None})
    days = np.sort(res.scores["as_of"].unique())
    assert days[0] == 250.0 and np.all(np.diff(days) == 7.0)
    assert res.scores.groupby("as_of").size().iloc[0] == len(tables.students)


def test_datetime_tables():
    tables = synthetic_tables(150, seed=5, datetimes=True)
    grid = grid_for(tables)
    splits = TemporalSplits(
        test_start="2020-09-01", test_end="2021-02-01", horizon=30, retrain_every=60
    )
    res = backtest(tables, splits, feature_builder=CausalBuilder(), model=LogisticRegression(),
                   outcome="withdrawn", grid=grid)
    assert res.scores["as_of"].dtype.kind == "M"
    assert res.metrics["test_from"].iloc[0] == pd.Timestamp("2020-09-01")
    assert res.metrics["n_test"].sum() > 0
    by_date = res.metrics_by_as_of(k=[0.1])
    assert {"roc_auc", "precision@10%"} <= set(by_date.columns)


def test_backtest_errors(tables, grid):
    with pytest.raises(ConfigError, match=re.escape(_backtest.BUILDER_INVALID)):
        run(tables, grid, builder=object())
    with pytest.raises(ConfigError, match=re.escape(_backtest.MODEL_NOT_CLONEABLE)):
        run(tables, grid, model=object())
    with pytest.raises(ConfigError, match=re.escape(_backtest.NO_TRAINING_ROWS.format(index=0))):
        run(tables, grid, splits={"test_start": 20.0})
    with pytest.raises(SchemaError, match=re.escape(_backtest.GRID_DUPLICATES)):
        run(tables, pd.concat([grid, grid.iloc[:3]]))
    with pytest.raises(SchemaError, match=re.escape(_backtest.MASK_INVALID.format(
        name="train_mask"))):
        run(tables, grid, train_mask=[1, 0])
    with pytest.raises(SchemaError, match=re.escape(_backtest.KIND_MISMATCH)):
        run(tables, grid, splits={"test_start": "2020-01-01", "test_end": "2020-06-01"})

    class Partial(CausalBuilder):
        def transform(self, tables, grid):
            return super().transform(tables, grid).iloc[1:]

    with pytest.raises(SchemaError, match=re.escape(_backtest.FEATURES_MISSING_ROWS)):
        run(tables, grid, builder=Partial(), truncate=False)

    class Shifting(CausalBuilder):
        def transform(self, tables, grid):
            X = super().transform(tables, grid)
            return X if grid["as_of"].iloc[0] < 300 else X.iloc[:, :2]

    with pytest.raises(ConfigError, match=re.escape(_backtest.FEATURES_COLUMNS_DIFFER)):
        run(tables, grid, builder=Shifting())


def test_one_class_training_labels(tables, grid):
    quiet = EventTables(students=tables.students, events=tables.events)
    with pytest.raises(ConfigError, match=re.escape(_backtest.ONE_CLASS.format(index=0))):
        backtest(quiet, TemporalSplits(**SPLITS), feature_builder=CausalBuilder(),
                 model=LogisticRegression(), outcome="withdrawn", grid=grid)


def test_a_fitting_builder_is_cloned_and_fitted_on_the_past_only(tables, grid):
    from _evaluation_fakes import FittingBuilder

    builder = FittingBuilder()
    res = run(tables, grid, builder=builder)
    assert not hasattr(builder, "fitted_on_until_")  # the caller's builder is left alone
    assert res.feature_info is not None
    assert set(res.feature_info) == {"clicks_14d", "weeks_active", "mean_clicks",
                                     "days_since_last"}
    fitted = FittingBuilder()
    from studentprofile.evaluation._backtest import _prepared_builder

    ready = _prepared_builder(fitted, tables, 250.0)
    assert ready.fitted_on_until_ < 250.0
    already = FittingBuilder().fit(tables)
    assert _prepared_builder(already, tables, 250.0) is already


def test_features_do_not_depend_on_which_rows_a_split_uses(tables, grid):
    """A cohort-relative builder sees every grid row of a date, so restricting the test rows
    leaves the remaining rows' features, and scores, unchanged."""
    from _evaluation_fakes import CohortBuilder

    even = (grid["student_id"].str[-1].astype(int) % 2 == 0).to_numpy()
    all_rows = run(tables, grid, builder=CohortBuilder())
    some_rows = run(tables, grid, builder=CohortBuilder(), test_mask=even)
    merged = all_rows.scores.merge(some_rows.scores, on=["split", "student_id", "as_of"])
    assert len(merged) == len(some_rows.scores) > 0
    np.testing.assert_array_equal(merged["score_x"], merged["score_y"])


class InfoLR(LogisticRegression):
    """A classifier whose fit takes feature infos, as RiskModel's does."""

    def fit(self, X, y, sample_weight=None, feature_info=None):
        self.feature_info_seen_ = feature_info
        return super().fit(X, y, sample_weight=sample_weight)


def test_feature_infos_reach_a_model_that_takes_them(tables, grid):
    from _evaluation_fakes import FittingBuilder

    res = run(tables, grid, builder=FittingBuilder(), model=InfoLR(solver="liblinear"))
    assert all(m.feature_info_seen_ == res.feature_info for m in res.models)
    plain = run(tables, grid, builder=FittingBuilder())  # RecordingLR.fit has no such argument
    assert len(plain.models) == 3


def test_with_the_real_feature_builder_truncation_changes_nothing(tables, grid):
    """The library's FeatureBuilder is causal, so building each date from truncated tables
    gives exactly the features (and scores) of one transform over the full tables."""
    from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec

    spec = FeatureSpec(
        [EventFeatures("lms_click", aggregates=["count", "sum", "days_since_last"],
                       windows=[14, "all"])]
    )
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=30, random_state=0)  # takes NaN
    a = run(tables, grid, builder=FeatureBuilder(spec), model=model, truncate=True)
    b = run(tables, grid, builder=FeatureBuilder(spec), model=model, truncate=False)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    assert set(a.feature_info) == {"lms_click_count_14d", "lms_click_sum_14d",
                                   "lms_click_days_since_last_14d", "lms_click_count_all",
                                   "lms_click_sum_all", "lms_click_days_since_last_all"}
    assert (a.metrics["roc_auc"] > 0.6).all()
