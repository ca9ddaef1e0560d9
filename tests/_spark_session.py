"""The Spark session of the tests: one per test process, started on first use.

Spark needs pyspark (the ``[spark]`` extra) and a Java runtime. Outside CI a machine without
them skips the Spark tests with the reason; in CI (``.ci/run`` installs both) they always run.
Import :func:`require_spark` at the top of a test module, before anything imports pyspark.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
from typing import Any

import pytest


def require_spark() -> None:
    """Skip the calling module when pyspark or Java is missing; never in CI (fail there)."""
    try:
        import pyspark  # noqa: F401 - the availability check
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("needs pyspark: pip install -e '.[spark]'", allow_module_level=True)
    if shutil.which("java") is None and not os.environ.get("CI"):
        pytest.skip("needs a Java runtime (Debian: apt-get install openjdk-17-jre-headless)",
                    allow_module_level=True)


_SESSION: list[Any] = []


def spark_session() -> Any:
    """Return this process's ``local[2]`` session (UTC, small shuffles, no UI).

    The JVM starts once per process (one per pytest-xdist worker) and is stopped at exit, so
    each test module no longer pays for its own.
    """
    if not _SESSION:
        from pyspark.sql import SparkSession

        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
        session = (
            SparkSession.builder.master("local[2]")
            .appName("studentprofile-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        atexit.register(session.stop)
        _SESSION.append(session)
    return _SESSION[0]
