"""Scale-out on Apache Spark: features, grids, labels and scoring over Spark DataFrames.

The same :class:`~studentprofile.features.FeatureSpec`, builder kernels, label rules and
compiled scorer as the single-machine path, run per shard of students inside
``applyInPandas`` / ``mapInPandas``; results equal the pandas path (see ``docs/scaling.md``).
This is the only package that imports pyspark; install it with
``pip install "studentprofile[spark]"``.
"""

from studentprofile.errors import DependencyError

try:
    import pyspark  # noqa: F401  (the optional dependency this package needs)
except ImportError as exc:  # pragma: no cover - exercised by a test that hides pyspark
    raise DependencyError(
        "studentprofile.spark needs pyspark, which is not installed",
        arrived=repr(exc),
        hint='pip install "studentprofile[spark]" (pyspark >= 3.5 and a Java runtime)',
    ) from exc

from studentprofile.spark._convert import from_pandas, from_tables
from studentprofile.spark._features import SparkFeatureResult, build_features
from studentprofile.spark._labels import make_grid, make_labels
from studentprofile.spark._score import score

__all__ = ["SparkFeatureResult", "build_features", "from_pandas", "from_tables", "make_grid",
           "make_labels", "score"]
