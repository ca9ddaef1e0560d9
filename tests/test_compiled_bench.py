"""The benchmarked implementations agree (small size): the benchmarks time the same answer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str) -> ModuleType:
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    scoring = _load("bench_scoring")
    scoring.CACHE = tmp_path_factory.mktemp("bench-cache")
    X, y = scoring.make_data(3000, n_features=12, seed=3)
    return scoring.train_model(X, y, n_trees=20, num_leaves=15), X


def test_scoring_engines_agree(small_model: tuple[str, np.ndarray]) -> None:
    scoring = _load("bench_scoring")
    path, X = small_model
    ours, p_ours = scoring.run_ours(path, X, (1,), n_single=20, repeat=1)
    lgbm, p_lgb = scoring.run_lightgbm(path, X, (1,), n_single=20, repeat=1)
    np.testing.assert_array_equal(p_ours, p_lgb)
    assert ours["rows_per_s_1t"] > 0 and lgbm["single_row_us"] > 0
    assert np.isnan(X).mean() == pytest.approx(0.05, abs=0.01)


def test_treeshap_engines_agree(small_model: tuple[str, np.ndarray]) -> None:
    treeshap = _load("bench_treeshap")
    path, X = small_model
    rows = np.ascontiguousarray(X[:200])
    _, ours = treeshap.run_ours(path, rows, repeat=1)
    _, ref = treeshap.run_lightgbm(path, rows, repeat=1)
    _, via_shap = treeshap.run_shap(path, rows, repeat=1)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-9)
    np.testing.assert_allclose(via_shap, ref, rtol=0, atol=1e-9)
