"""MLflow tracking: runs, the ``studentprofile`` model flavour, the registry, privacy.

The only part of studentprofile that imports mlflow (lazily, inside functions, so
``import studentprofile`` stays fast).

- :func:`log_experiment` -> :class:`TrackingReport`: one run (parameters, metrics, tags,
  artefacts, the model, the registry), every step tried on its own; failures are reported, never
  raised, and never lose the work;
- :func:`default_tracking_uri`: ``MLFLOW_TRACKING_URI``, else a local SQLite store;
- :func:`metric_name`, :func:`metric_names`: valid, unique, stable MLflow metric names;
  :func:`tracking_error`: any MLflow failure as a :class:`~studentprofile.errors.TrackingError`;
- the flavour: :func:`save_model`, :func:`log_model`, :func:`load_model` ->
  :class:`StudentProfileModel` (no pickle; ``mlflow.pyfunc.load_model(uri).predict(df)``
  returns risk, tier and reasons);
- privacy: :func:`pseudonymize` (HMAC-SHA256), :func:`pseudonym_key`, :func:`find_identifiers`,
  :func:`scan_text`, :func:`scan_run`.

See ``docs/tracking.md``.
"""

from studentprofile.tracking._flavour import (
    FLAVOR_NAME,
    StudentProfileModel,
    load_model,
    log_model,
    save_model,
    synthetic_example,
)
from studentprofile.tracking._privacy import (
    find_identifiers,
    pseudonym_key,
    pseudonymize,
    scan_text,
)
from studentprofile.tracking._runs import (
    TrackingReport,
    default_tracking_uri,
    log_experiment,
    metric_name,
    metric_names,
    tracking_error,
)
from studentprofile.tracking._scan import scan_run

__all__ = [
    "FLAVOR_NAME",
    "StudentProfileModel",
    "TrackingReport",
    "default_tracking_uri",
    "find_identifiers",
    "load_model",
    "log_experiment",
    "log_model",
    "metric_name",
    "metric_names",
    "pseudonym_key",
    "pseudonymize",
    "save_model",
    "scan_run",
    "scan_text",
    "synthetic_example",
    "tracking_error",
]
