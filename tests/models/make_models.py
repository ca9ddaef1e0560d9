"""Re-create the small LightGBM text models committed next to this file.

Run from the repository root: ``python tests/models/make_models.py``. The models are committed
so that the tests also check files written by a LightGBM build other than the one installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def main() -> None:
    import lightgbm as lgb
    import pandas as pd

    rng = np.random.default_rng(20241130)
    n = 3000
    base = {"verbose": -1, "num_threads": 1, "deterministic": True, "seed": 1}

    # binary, NaN as missing (default left and right), a 70-level categorical (3-word bitsets)
    X = rng.normal(size=(n, 5))
    X[:, 4] = rng.integers(0, 70, n)
    X[:, :4][rng.random((n, 4)) < 0.15] = np.nan
    y = ((np.nan_to_num(X[:, 0]) + (X[:, 4] % 7 == 3) + rng.normal(size=n) * 0.5) > 0.5)
    params = {**base, "objective": "binary", "num_leaves": 15, "max_cat_to_onehot": 1,
              "min_data_per_group": 5, "cat_smooth": 1.0}
    lgb.train(params, lgb.Dataset(X, y.astype(float), categorical_feature=[4]), 12).save_model(
        HERE / "binary_nan_categorical.txt"
    )

    # multiclass, zero as missing
    X = np.round(rng.normal(size=(n, 4)), 1)
    X[rng.random(X.shape) < 0.3] = 0.0
    y = np.digitize(X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(size=n) * 0.3, [-0.4, 0.4])
    params = {**base, "objective": "multiclass", "num_class": 3, "num_leaves": 7,
              "zero_as_missing": True}
    lgb.train(params, lgb.Dataset(X, y), 6).save_model(HERE / "multiclass_zero.txt")

    # regression, missing type None (use_missing=False), depth-limited, one-hot categorical
    X = rng.normal(size=(n, 4))
    X[:, 3] = rng.integers(0, 3, n)
    y = X[:, 0] * 2 + X[:, 3] + rng.normal(size=n) * 0.2
    params = {**base, "objective": "regression", "num_leaves": 31, "max_depth": 4,
              "use_missing": False}
    lgb.train(params, lgb.Dataset(X, y, categorical_feature=[3]), 8).save_model(
        HERE / "regression_none_depth4.txt"
    )

    # binary from a DataFrame with pandas categorical columns (pandas_categorical trailer),
    # NaN as missing on a feature that has zeros too
    df = pd.DataFrame(
        {
            "attendance": rng.random(n),
            "program": pd.Categorical(rng.choice(["law", "math", "art", "bio"], n)),
            "absences": np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 5, n)),
        }
    )
    y = ((df["program"] == "math") ^ (df["attendance"] > 0.6)).astype(int)
    params = {**base, "objective": "binary", "num_leaves": 7, "min_data_per_group": 5}
    lgb.train(params, lgb.Dataset(df, y), 6).save_model(HERE / "binary_pandas_categorical.txt")


if __name__ == "__main__":
    main()
