"""Compiled scoring: a LightGBM model turned into flat arrays, scored and explained by numba.

``compile(obj)`` takes a :class:`~studentprofile.models.RiskModel`, a ``lightgbm.Booster`` or
the path of a LightGBM text model and returns a :class:`CompiledScorer` whose
``predict_raw`` / ``predict_proba`` / ``predict`` equal LightGBM's (raw scores bit for bit in
the tests), whose ``shap_values`` equal ``pred_contrib`` (exact path-dependent TreeSHAP, Fast
TreeSHAP v2 with a memory bound and the classic algorithm as fallback) and whose
``predict_one`` scores a single row in a few microseconds. See ``docs/performance.md``.

Examples
--------
>>> import numpy as np, lightgbm as lgb
>>> from studentprofile.compiled import compile
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(100, 2)); y = (X[:, 0] > 0).astype(int)
>>> booster = lgb.train({"objective": "binary", "verbose": -1}, lgb.Dataset(X, y), 3)
>>> scorer = compile(booster)
>>> round(scorer.predict_one(X[0]), 12) == round(float(booster.predict(X[:1])[0]), 12)
True
"""

from studentprofile.compiled._scorer import CompiledScorer, compile

__all__ = ["CompiledScorer", "compile"]
