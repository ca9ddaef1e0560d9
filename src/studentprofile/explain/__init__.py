"""Explanations of risk scores: SHAP values in log-odds and reasons advisors can read.

- :class:`Explanations`: what ``RiskModel.explain(X)`` returns (values, base value, sums by
  family and kind, ``reasons``, JSON output, ``to_shap``, PNG plots);
- :func:`reason_sentence`: the plain-language sentence of one reason.

See ``docs/explanations.md``.
"""

from studentprofile.explain._explanations import Explanations
from studentprofile.explain._reasons import reason_sentence

__all__ = ["Explanations", "reason_sentence"]
