"""Bundled real data and the campus simulator, as canonical EventTables.

- :func:`load_oulad`: the Open University Learning Analytics Dataset (CC BY 4.0), one student
  row per module enrolment, calendar dates;
- :func:`load_uci_dropout`: the UCI "Predict Students' Dropout and Academic Success" set
  (CC BY 4.0), float days;
- :func:`list_datasets`: the catalogue with row counts, licences and citations;
- :func:`simulate_campus`: a seeded synthetic campus (all four record families) with a known
  ground truth, at any scale;

Both datasets ship inside the package, verified by SHA-256 on load; nothing is downloaded.
``docs/datasets.md`` documents every mapping rule.
"""

from studentprofile.datasets._oulad import load_oulad, presentation_start
from studentprofile.datasets._registry import list_datasets
from studentprofile.datasets._simulate import simulate_campus
from studentprofile.datasets._uci import load_uci_dropout, uci_dropout_frame

__all__ = [
    "list_datasets",
    "load_oulad",
    "load_uci_dropout",
    "uci_dropout_frame",
    "presentation_start",
    "simulate_campus",
]
