"""Risk models: calibrated LightGBM with SHAP explanations and safe model files.

- :class:`RiskModel`: the scikit-learn classifier (binary or multi-outcome);
- :class:`Calibrator`: raw scores -> calibrated probabilities, numpy only, JSON parameters;
- :func:`holdout_split` / :class:`HoldoutSplit`: the later-in-time, student-disjoint slice used
  for early stopping and calibration;
- :data:`FORMAT_VERSION`: the model directory format this version writes.

See ``docs/models.md``.
"""

from studentprofile.models._calibration import CALIBRATION_METHODS, Calibrator
from studentprofile.models._persistence import FORMAT_NAME, FORMAT_VERSION
from studentprofile.models._risk_model import RiskModel
from studentprofile.models._split import HoldoutSplit, holdout_split

__all__ = [
    "CALIBRATION_METHODS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Calibrator",
    "HoldoutSplit",
    "RiskModel",
    "holdout_split",
]
