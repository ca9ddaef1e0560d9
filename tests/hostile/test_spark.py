"""Hostile inputs for the Spark engine (issue 16): text that campuses really send, kept forever.

The test process's ``local[2]`` session (tests/_spark_session.py); each case compares with the
pandas path bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from _spark_session import require_spark, spark_session

require_spark()

import studentprofile as sp  # noqa: E402
from studentprofile.features import EventFeatures, FeatureBuilder, FeatureSpec  # noqa: E402

pytestmark = [
    # pyspark 4.x warns that it "does not yet fully support pandas >= 3.0.0" each time a pandas
    # UDF is defined; the results are compared with the pandas path below.
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
]


@pytest.fixture(scope="module")
def spark() -> Any:
    """This process's Spark session (tests/_spark_session.py)."""
    return spark_session()


def test_leading_zero_ids_chinese_kinds_and_formula_text_equal_pandas(spark: Any) -> None:
    """16: ids with leading zeros stay text; kinds in Chinese, with a comma, a formula, a NUL-free
    separator lookalike and a kind no entry reads travel as codes and come back as the same
    columns and values as on the pandas path."""
    from studentprofile import spark as sps

    ids = ["007", "07", "7", "学生甲", "=1+1"]
    kinds = ["课堂出勤", "lms,click", "=HYPERLINK(1)", "a\x1fb", "未使用"]
    rng = np.random.default_rng(3)
    n = 400
    events = pd.DataFrame({
        "student_id": rng.choice(ids, n),
        "time": pd.Timestamp("2024-09-02") + pd.to_timedelta(rng.integers(0, 80 * 24, n), "h"),
        "family": "behavioral",
        "kind": rng.choice(kinds, n),
        "value": rng.random(n).round(3),
    })
    students = pd.DataFrame({"student_id": ids, "cohort": ["甲", "甲", "乙", "乙", "甲"]})
    tables = sp.EventTables(students=students, events=events)
    grid = sp.features.make_grid(tables, every=7, per="cohort")
    spec = FeatureSpec([
        EventFeatures(["课堂出勤", "lms,click"], aggregates=["count", "mean"], windows=[14],
                      relative=["zscore"], name="att"),
        EventFeatures(["=HYPERLINK(1)", "a\x1fb"], aggregates=["sum", "last"], windows=[30],
                      name="odd"),
    ])
    builder = FeatureBuilder(spec)
    ref = builder.fit_transform(tables, grid).sort_index(kind="stable")
    sdfs = sps.from_tables(spark, tables)
    res = sps.build_features(sdfs["events"], sdfs["students"], sps.from_pandas(spark, grid),
                             spec, shards=3)
    got = res.to_pandas()
    assert res.feature_names == builder.feature_names_out_
    assert sorted(set(got.index.get_level_values("student_id"))) == sorted(ids)
    assert got.index.equals(ref.index)
    a, b = got.to_numpy(), ref.to_numpy()
    assert ((a == b) | (np.isnan(a) & np.isnan(b))).all()
