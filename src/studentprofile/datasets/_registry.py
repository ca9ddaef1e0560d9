"""The catalogue of bundled datasets (what ``studentprofile datasets`` lists)."""

from __future__ import annotations

import pandas as pd

from studentprofile.datasets import _oulad, _uci

__all__ = ["list_datasets"]

# Row counts of the tables each loader returns with its defaults; tests check them against a
# real load, so the listing never needs to parse the data.
_CATALOGUE: tuple[dict[str, object], ...] = (
    {
        "name": "oulad",
        "loader": "load_oulad()",
        "description": _oulad.DESCRIPTION,
        "students": 32_593,
        "events": 266_086,
        "outcomes": 32_593,
        "time": "datetime",
        "licence": _oulad.LICENCE,
        "citation": _oulad.CITATION,
    },
    {
        "name": "uci_dropout",
        "loader": "load_uci_dropout()",
        "description": _uci.DESCRIPTION,
        "students": 4_424,
        "events": 53_088,
        "outcomes": 4_424,
        "time": "float days",
        "licence": _uci.LICENCE,
        "citation": _uci.CITATION,
    },
)


def list_datasets() -> pd.DataFrame:
    """List the datasets bundled with studentprofile (no download is ever needed).

    Returns
    -------
    DataFrame
        One row per dataset: ``name``, ``loader``, ``description``, ``students``, ``events``,
        ``outcomes`` (row counts of the tables the loader returns with its defaults), ``time``
        (the time kind), ``licence`` and ``citation``.

    Examples
    --------
    >>> from studentprofile.datasets import list_datasets
    >>> list_datasets()[["name", "students", "licence"]]
              name  students    licence
    0        oulad     32593  CC BY 4.0
    1  uci_dropout      4424  CC BY 4.0
    """
    return pd.DataFrame([dict(entry) for entry in _CATALOGUE])
