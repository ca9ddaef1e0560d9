"""The MLflow route on Spark: ``mlflow.pyfunc.spark_udf`` with the studentprofile flavour.

A small model is logged and registered as ``models:/risk@champion`` in a temporary MLflow store
(SQLite); ``spark_udf`` loads it under Spark local mode (``local[2]``, one module-scoped
session) and must return risk, tier and reasons equal to the Python API
(``RiskModel.predict_proba`` to 1e-12, ``StudentProfileModel.predict`` for tier and reasons).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from _spark_session import require_spark, spark_session

require_spark()

import studentprofile as sp  # noqa: E402
from studentprofile import tracking  # noqa: E402

mlflow = pytest.importorskip("mlflow")

pytestmark = [
    # pyspark 4.x warns that it "does not yet fully support pandas >= 3.0.0" each time a pandas
    # UDF is defined or a frame converted; the answers are checked against pandas below.
    pytest.mark.filterwarnings(
        "ignore:PySpark does not yet fully support pandas:FutureWarning"
    ),
    # a Spark session, a model download and Python workers that import the library
    pytest.mark.slow,
]

TIERS = {"high": 0.5, "medium": 0.3}
FEATURES = ["attendance", "score", "program"]
STRUCT = ("risk double, tier string, reason_1 string, reason_2 string, reason_3 string, "
          "reasons string")


@pytest.fixture(scope="module")
def spark() -> Any:
    """This process's Spark session (tests/_spark_session.py)."""
    return spark_session()


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"attendance": rng.uniform(0, 1, n), "score": rng.normal(60, 10, n),
         "program": rng.choice(["law", "math", "arts"], n).astype(object)},
        index=pd.Index([f"s{seed}-{i:04d}" for i in range(n)], name="student_id"),
    )
    X.iloc[::7, 0] = np.nan  # attendance unknown for some students
    X.iloc[::11, 2] = None  # and the programme for others
    return X


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``models:/risk@champion`` in a temporary store; the tracking URI set for the module."""
    root = tmp_path_factory.mktemp("spark_udf")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    X = _frame(300, 0)
    att = np.nan_to_num(X["attendance"].to_numpy(), nan=0.5)
    y = (np.random.default_rng(1).uniform(size=len(X)) < 1 / (1 + np.exp(4 * att - 1))).astype(int)
    model = sp.RiskModel(random_state=0, n_estimators=40).fit(X, y)
    rep = tracking.log_experiment(
        tracking_uri=uri, experiment="spark-udf", run_name="r", model=model,
        artifact_location=root / "artifacts", registered_model="risk", alias="champion",
        model_kwargs={"tiers": TIERS, "input_example": tracking.synthetic_example(X)},
    )
    assert rep.complete, rep.not_logged
    with pytest.MonkeyPatch.context() as mp:
        # spark_udf resolves models:/ through the tracking URI (driver side only)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        yield model, tracking.load_model("models:/risk@champion")


def _sdf(spark: Any, pdf: pd.DataFrame) -> Any:
    """A Spark DataFrame through Arrow (pyspark 4's pandas path warns under pandas 3)."""
    import pyarrow as pa

    return spark.createDataFrame(pa.Table.from_pandas(pdf, preserve_index=False))


def _check(got: pd.DataFrame, X: pd.DataFrame, model: Any, ref: Any) -> None:
    """``got``: student_id plus the output columns, any row order."""
    got = got.set_index("student_id").loc[X.index]
    want = ref.predict(X)
    np.testing.assert_allclose(got["risk"].to_numpy(), model.predict_proba(X)[:, 1],
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(got["risk"].to_numpy(), want["risk"].to_numpy(),
                               rtol=0, atol=1e-12)
    for col in ["tier", "reason_1", "reason_2", "reason_3", "reasons"]:
        assert got[col].tolist() == want[col].tolist(), col
    assert json.loads(got["reasons"].iloc[0])[0]["sentence"] == got["reason_1"].iloc[0]


def test_spark_udf_infers_the_struct_from_the_signature(spark, registered):
    from pyspark.sql import functions as F

    model, ref = registered
    X = _frame(90, 3)
    frame = _sdf(spark, X.reset_index()).repartition(3)  # several partitions and batches
    udf = mlflow.pyfunc.spark_udf(spark, "models:/risk@champion", env_manager="local")
    assert udf.returnType.simpleString() == (
        "struct<risk:double,tier:string,reason_1:string,reason_2:string,reason_3:string,"
        "reasons:string>")
    out = frame.withColumn("p", udf()).select("student_id", "p.*")
    assert out.columns == ["student_id", "risk", "tier", "reason_1", "reason_2", "reason_3",
                           "reasons"]
    _check(out.toArrow().to_pandas(), X, model, ref)
    # named columns in any order: a struct passes them by name
    shuffled = frame.select("program", "student_id", "score", "attendance")
    out = shuffled.withColumn("p", udf(F.struct(*FEATURES[::-1]))).select("student_id", "p.*")
    _check(out.toArrow().to_pandas(), X, model, ref)


def test_spark_udf_with_an_explicit_result_type(spark, registered):
    model, ref = registered
    X = _frame(20, 4)
    udf = mlflow.pyfunc.spark_udf(spark, "models:/risk@champion", result_type=STRUCT,
                                  env_manager="local")
    out = _sdf(spark, X.reset_index()).withColumn("p", udf(*FEATURES))
    _check(out.select("student_id", "p.*").toArrow().to_pandas(), X, model, ref)
    # only the risk: a double result type takes the first column of the answer
    risk_udf = mlflow.pyfunc.spark_udf(spark, "models:/risk@champion", result_type="double",
                                       env_manager="local")
    got = _sdf(spark, X.reset_index()).select("student_id", risk_udf(*FEATURES).alias("risk"))
    got = got.toArrow().to_pandas().set_index("student_id").loc[X.index]
    np.testing.assert_allclose(got["risk"].to_numpy(), model.predict_proba(X)[:, 1],
                               rtol=0, atol=1e-12)


def test_spark_udf_refuses_a_missing_feature_and_text_in_a_number(spark, registered):
    from pyspark.errors import AnalysisException, PythonException

    X = _frame(5, 5).reset_index()
    udf = mlflow.pyfunc.spark_udf(spark, "models:/risk@champion", env_manager="local")
    # the signature names the columns: Spark refuses the plan before any job starts
    with pytest.raises(AnalysisException, match=r"`score` cannot be resolved"):
        _sdf(spark, X.drop(columns="score")).withColumn("p", udf())
    # text where the model reads a number: the error from the worker names the column
    text = _sdf(spark, X.assign(score=["n/a"] * len(X)))
    with pytest.raises(PythonException, match=r"Incompatible input types for column score"):
        text.withColumn("p", udf()).collect()
