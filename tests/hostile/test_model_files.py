"""Hostile model files: tampered, re-hashed or hand-made LightGBM texts are refused, typed.

LightGBM trusts its text. A ``model.txt`` whose hashes were rewritten can make it read or write
outside its buffers and abort the interpreter (``terminate called without an active exception``,
exit -6; ``munmap_chunk(): invalid pointer``). ``RiskModel.load`` must refuse every such file
with a ModelIntegrityError before LightGBM sees it. The crafted directories are loaded in a
child process, so that an abort shows up as a failed test, not as a dead pytest.

``compile()`` reads model files itself: every size is bounded by the file's own content, and
every malformed number, zero count or non-finite leaf is a ModelIntegrityError.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studentprofile.compiled import compile
from studentprofile.errors import ModelIntegrityError
from studentprofile.models import RiskModel
from studentprofile.models._lgb_text import parse_model_text


# ------------------------------------------------------------------------------------------
# saved models to tamper with
# ------------------------------------------------------------------------------------------
def _frame(seed: int, n: int = 240) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"attendance": rng.uniform(0, 1, n), "score": rng.normal(60, 15, n),
                      "logins": rng.poisson(3, n).astype(float)})
    signal = X["attendance"].to_numpy() + (X["score"].to_numpy() - 60) / 30
    return X, signal


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    X, signal = _frame(0)
    binary = RiskModel(n_estimators=4, num_leaves=4).fit(X, (signal > 0.5).astype(int))
    X3, signal3 = _frame(1)
    labels = np.digitize(signal3, np.quantile(signal3, [0.33, 0.66]))
    multi = RiskModel(n_estimators=3, num_leaves=4).fit(X3, labels)
    return {"binary": binary.save(root / "binary"), "multiclass": multi.save(root / "multi")}


def _rehash(root: Path) -> None:
    """An attacker who rewrites the manifest too: only the content checks can notice."""
    data = (root / "model.txt").read_bytes()
    manifest = json.loads((root / "MANIFEST.json").read_text())
    manifest["files"]["model.txt"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                      "bytes": len(data)}
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    lines = [f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}\n"
             for n in ("model.txt", "metadata.json", "MANIFEST.json")]
    (root / "manifest.sha256").write_text("".join(lines))


def _sub(pattern: str, repl: str, count: int = 1) -> Callable[[str], str]:
    def edit(text: str) -> str:
        out, n = re.subn(pattern, repl, text, count=count, flags=re.M)
        assert n, f"the craft {pattern!r} found nothing to change"
        return out
    return edit


# (which saved model, how model.txt is changed, what the refusal says); each of these crashed
# or misled LightGBM on 23130bb (see the comments)
CRAFTS: dict[str, tuple[str, Callable[[str], str], str]] = {
    # "num_class=3 with one tree per iteration reads garbage"
    "multiclass_one_tree_per_iteration": (
        "multiclass", _sub(r"^num_tree_per_iteration=3$", "num_tree_per_iteration=1"),
        "num_tree_per_iteration must equal num_class"),
    # corrupted size vs. prev_size, exit -6
    "multiclass_num_class_1": (
        "multiclass", _sub(r"^num_class=3$", "num_class=1"),
        "num_tree_per_iteration must equal num_class"),
    "binary_num_class_3": (
        "binary", _sub(r"^num_class=1$", "num_class=3"),
        "num_tree_per_iteration must equal num_class"),
    # terminate called without an active exception, exit -6
    "left_child_too_short": (
        "binary", _sub(r"^left_child=\S.*$", "left_child="), "`left_child` must hold"),
    # segmentation fault, exit -11
    "left_child_out_of_range": (
        "binary", _sub(r"^left_child=\S+", "left_child=50"),
        "every value of `left_child` must be between"),
    "split_feature_out_of_range": (
        "binary", _sub(r"^split_feature=\S+", "split_feature=9999999"),
        "every value of `split_feature` must be between 0 and 2"),
    "tree_sizes_wrong": (
        "binary", _sub(r"^tree_sizes=\d+", "tree_sizes=99999"),
        "tree_sizes must equal the size in bytes"),
    "line_without_equals": (
        "binary", _sub(r"^is_linear=0$", "is_linear0"), "every line must read key=value"),
    "num_cat_without_bitsets": (
        "binary", _sub(r"^num_cat=0$", "num_cat=5"), "the field `cat_boundaries` is missing"),
    # floating point exception, exit -8
    "zero_trees_per_iteration": (
        "binary", _sub(r"^num_tree_per_iteration=1$", "num_tree_per_iteration=0"),
        "num_tree_per_iteration must be between 1"),
    # segmentation fault: a categorical decision with no bitset
    "categorical_decision_without_bitset": (
        "binary", _sub(r"^decision_type=\S+", "decision_type=1"),
        "a categorical split points outside cat_boundaries"),
    # segmentation fault when LightGBM reads its parameters back
    "parameters_without_end": (
        "binary", _sub(r"^end of parameters$", "end abc parameters"),
        "every parameter line must read '[name: value]'"),
    "parameters_cut_short": (
        "binary", lambda t: t[: t.index("end of parameters")],
        "the parameters section has no 'end of parameters' line"),
    "huge_max_feature_idx": (
        "binary", _sub(r"^max_feature_idx=\d+$", "max_feature_idx=20000000"),
        "feature_names must list one entry per feature"),
    "nan_leaf": (
        "binary", _sub(r"^leaf_value=\S+", "leaf_value=nan"), "`leaf_value` must hold finite"),
    "nul_byte": (
        "binary", _sub(r"^objective=binary", "objective=bin\x00ary"), "no NUL"),
}

_LOADER = """
import sys
from studentprofile.errors import ModelIntegrityError
from studentprofile.models import RiskModel
from studentprofile.models._lgb_text import parse_model_text
for path in sys.argv[1:]:
    print("START", path, flush=True)
    try:
        RiskModel.load(path)
    except ModelIntegrityError as exc:
        print("REFUSED", path, exc.message.replace(chr(10), " "), flush=True)
    except BaseException as exc:
        print("OTHER", path, type(exc).__name__, flush=True)
    else:
        print("LOADED", path, flush=True)
"""


@pytest.fixture(scope="module")
def load_results(saved_models: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
                 ) -> tuple[dict[str, str], str]:
    root = tmp_path_factory.mktemp("crafted")
    paths = []
    for name, (which, edit, _) in CRAFTS.items():
        target = root / name
        shutil.copytree(saved_models[which], target)
        text = (target / "model.txt").read_text()
        (target / "model.txt").write_text(edit(text))
        _rehash(target)
        paths.append(str(target))
    done = subprocess.run([sys.executable, "-c", _LOADER, *paths], capture_output=True,
                          text=True, timeout=600, check=False)
    results: dict[str, str] = {}
    for line in done.stdout.splitlines():
        kind, path, *rest = line.split(" ", 2)
        results[Path(path).name] = f"{kind} {' '.join(rest)}".strip()
    tail = f"exit {done.returncode}; stderr: {done.stderr[-400:]}"
    return results, tail


@pytest.mark.parametrize("name", list(CRAFTS))
def test_rehashed_hostile_model_text_is_refused_before_lightgbm(
    name: str, load_results: tuple[dict[str, str], str]
) -> None:
    results, tail = load_results
    outcome = results.get(name, "NOT REACHED")
    assert outcome.startswith("REFUSED"), f"{name}: {outcome} ({tail})"
    assert "model.txt: not a well-formed LightGBM model" in outcome
    assert CRAFTS[name][2] in outcome


def test_the_untouched_models_still_load(saved_models: dict[str, Path]) -> None:
    for path in saved_models.values():
        model = RiskModel.load(path)
        assert model.booster_.num_trees() >= 1


# ------------------------------------------------------------------------------------------
# compile(): hand-made files
# ------------------------------------------------------------------------------------------
_HEAD = ("tree\nversion=v4\nnum_class={k}\nnum_tree_per_iteration={k}\nlabel_index=0\n"
         "max_feature_idx={mfi}\nobjective={objective}\nfeature_names={names}\n"
         "feature_infos={infos}\n\n")
_STUMP = ("Tree={i}\nnum_leaves=2\nnum_cat=0\nsplit_feature=0\nsplit_gain=1\n"
          "threshold=0.5\ndecision_type=2\nleft_child=-1\nright_child=-2\n"
          "leaf_value={values}\nleaf_weight=5 5\nleaf_count={counts}\n"
          "internal_value=0\ninternal_weight=10\ninternal_count={internal}\n"
          "is_linear=0\nshrinkage=1\n\n\n")


def _text(*, k: int = 1, objective: str = "binary sigmoid:1", trees: int = 1,
          values: str = "-1 1", counts: str = "4 6", internal: str = "10",
          mfi: int = 1, names: str = "a b", infos: str = "none none") -> str:
    head = _HEAD.format(k=k, mfi=mfi, objective=objective, names=names, infos=infos)
    body = "".join(_STUMP.format(i=i, values=values, counts=counts, internal=internal)
                   for i in range(trees))
    return head + body + "end of trees\n"


def _compile_text(tmp_path: Path, text: str) -> object:
    path = tmp_path / "model.txt"
    path.write_text(text)
    return compile(path)


def test_hand_made_stump_compiles(tmp_path: Path) -> None:
    scorer = _compile_text(tmp_path, _text())
    proba = scorer.predict_proba(np.array([[0.0, 0.0], [1.0, 0.0]]))  # type: ignore[attr-defined]
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp([1.0, -1.0])))


def test_huge_max_feature_idx_is_bounded_by_the_file(tmp_path: Path) -> None:
    """181 bytes that said max_feature_idx=20000000 took 27 s and 3 GB in compile()."""
    text = ("tree\nversion=v4\nnum_class=1\nnum_tree_per_iteration=1\nlabel_index=0\n"
            "max_feature_idx=20000000\nobjective=binary sigmoid:1\nfeature_names=x\n"
            "feature_infos=none\n\nTree=0\nnum_leaves=1\nnum_cat=0\nleaf_value=0.5\n"
            "leaf_count=10\nis_linear=0\n\n\nend of trees\n")
    tracemalloc.start()
    try:
        with pytest.raises(ModelIntegrityError,
                           match=r"(?s)feature_names must list one entry per feature.*1 entries"):
            _compile_text(tmp_path, text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # bytes: nothing was sized by the claimed 20 million features


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_text().replace("num_cat=0", "num_cat=abc"), r"(?s)tree 0: num_cat must be an integer"
                                                      r".*'abc'"),
        (_text(objective="binary sigmoid:abc"),
         r"(?s)the objective option sigmoid must be a finite number.*'abc'"),
        (_text(objective="binary sigmoid:0"), "sigmoid must be positive"),
        (_text(objective="binary"), "a binary objective must state sigmoid:"),
        (_text(counts="abc 6"), r"(?s)tree 0: `leaf_count` must hold integers.*'abc 6'"),
        (_text(counts="0 0", internal="0"), "every value of `internal_count` must be between 1"),
        (_text(counts="0 0"), "every leaf_count must be at least 1"),
        (_text(counts="3 3"), "internal_count the sum of its two children's counts"),
        (_text(values="nan 1"), r"tree 0: `leaf_value` must hold finite numbers"),
        (_text(values="inf 1"), r"tree 0: `leaf_value` must hold finite numbers"),
        (_text(values="1e308 1e308", trees=2), "leaf values add up past the largest"),
        # a multiclass file with one tree per iteration: predict_one 1.0, predict_proba 0.125
        (_text(objective="multiclass num_class:3").replace(
            "num_class=1\nnum_tree_per_iteration=1", "num_class=3\nnum_tree_per_iteration=1"),
         "num_tree_per_iteration must equal num_class"),
        (_text(k=3, trees=3, objective="multiclass num_class:4"),
         "the objective's num_class must equal the header's num_class"),
        (_text(objective="multiclass num_class:1"), "must have num_class >= 2"),
        (_text(k=3, trees=2, objective="multiclass num_class:3"),
         "a whole number .* of iterations"),
        (_text(trees=0), "a whole number .* of iterations"),
        (_text(objective="bogus"), "unknown objective"),
        (_text(names="a"), "feature_names must list one entry per feature"),
        (_text().replace("\n", "\r\n"), "no NUL or carriage-return"),
        (_text().replace("Tree=0", "Tree=7"), "must start with the line 'Tree=0'"),
        (_text().replace("\n\n\nend of trees", "\nend of trees"), "must end with a blank line"),
        (_text().replace("shrinkage=1\n", "shrinkage=1\n" + "x=1\n" * 10),
         "more than 22 lines"),
        (_text().replace("shrinkage=1\n", "shrinkage=1\nshrinkage=2\n"), "appears twice"),
        (_text().replace("split_feature=0", "split_feature=\u0661"), "must hold integers"),
        (_text().replace("leaf_value=-1 1", "leaf_value=-1\t1"), "must hold finite numbers"),
        (_text() + "pandas_categorical:" + "[" * 100_000 + "]" * 100_000 + "\n",
         "pandas_categorical trailer is not valid JSON"),
        (_text() + "parameters:\n[boosting: gbdt]\nno colon here\nend of parameters\n",
         r"every parameter line must read '\[name: value\]'"),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else None,
)
def test_malformed_model_files_are_model_integrity_errors(tmp_path: Path, text: str,
                                                          message: str) -> None:
    with pytest.raises(ModelIntegrityError, match=message):
        _compile_text(tmp_path, text)


def test_linear_trees_are_read_but_not_compiled(tmp_path: Path) -> None:
    """The reader checks linear trees' fields (LightGBM can score them); compile() refuses."""
    import lightgbm as lgb

    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 2))
    booster = lgb.train({"objective": "regression", "linear_tree": True, "verbose": -1,
                         "num_leaves": 3}, lgb.Dataset(X, X[:, 0] * 2), 2)
    text = booster.model_to_string()
    with pytest.raises(ModelIntegrityError, match="linear trees .* are not supported"):
        _compile_text(tmp_path, text)
    broken = re.sub(r"^leaf_features=.*$", "leaf_features=7 7 7", text, count=2, flags=re.M)
    with pytest.raises(ModelIntegrityError, match="leaf_features"):
        _compile_text(tmp_path, broken)


# ------------------------------------------------------------------------------------------
# mutation fuzzing: whatever the reader accepts, LightGBM survives
# ------------------------------------------------------------------------------------------
_SURVIVE = """
import json, sys
import lightgbm as lgb
import numpy as np
for i, text in enumerate(json.load(open(sys.argv[1]))):
    print(i, flush=True)
    try:
        booster = lgb.Booster(model_str=text)
        X = np.random.default_rng(i).normal(size=(6, booster.num_feature()))
        X[0] = np.nan
        booster.predict(X)
        booster.predict(X, pred_contrib=True)
    except Exception:  # a Python-level refusal is fine; an abort is not
        pass
print("done", flush=True)
"""
_TOKENS = ["0", "-1", "1", "2", "3", "-3", "999999", "-999999", "2147483648", "nan", "inf",
           "1e308", "abc", "", "  ", " 0", "=", "\n", "\n\n", "Tree=1\n", "num_cat=1", "-0",
           "4294967295", "0.5", ":"]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        spans = [m.span() for m in re.finditer(r"-?[0-9.e+]+|[a-z_]+", text)]
        if kind < 0.6:
            a, b = rng.choice(spans)
            text = text[:a] + rng.choice(_TOKENS) + text[b:]
        elif kind < 0.8:
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[i]
            else:
                lines.insert(i, rng.choice(lines))
            text = "\n".join(lines)
        else:
            i = rng.randrange(len(text))
            text = text[:i] + text[i + rng.randint(1, 5):]
    return text


@pytest.mark.slow
def test_every_mutant_the_reader_accepts_is_safe_for_lightgbm(
    saved_models: dict[str, Path], tmp_path: Path
) -> None:
    """Seeded random edits of real model texts (numbers, lines, cuts): none that the reader
    accepts may abort LightGBM (23130bb handed LightGBM every one of them)."""
    import lightgbm as lgb

    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 3))
    X[:, 2] = rng.integers(0, 40, 300)
    cat = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 6,
                     "max_cat_to_onehot": 1, "min_data_per_group": 1, "cat_smooth": 1.0},
                    lgb.Dataset(X, (X[:, 2] % 3 == 0).astype(int), categorical_feature=[2]), 3)
    bases = [(p / "model.txt").read_text() for p in saved_models.values()]
    bases.append(cat.model_to_string())
    rand = random.Random(20261205)
    accepted = []
    for _ in range(1500):
        mutant = _mutate(rand, rand.choice(bases))
        try:
            parse_model_text(mutant)
        except ModelIntegrityError:
            continue
        accepted.append(mutant)
    assert len(accepted) > 100  # the fuzzing reaches LightGBM with many accepted edits
    path = tmp_path / "accepted.json"
    path.write_text(json.dumps(accepted))
    done = subprocess.run([sys.executable, "-c", _SURVIVE, str(path)], capture_output=True,
                          text=True, timeout=900, check=False)
    last = done.stdout.split()[-1:] or ["nothing"]
    assert done.returncode == 0 and last == ["done"], (
        f"LightGBM died (exit {done.returncode}) on accepted mutant {last}: "
        f"{accepted[int(last[0])][:300] if last[0].isdigit() else ''!r}"
    )
