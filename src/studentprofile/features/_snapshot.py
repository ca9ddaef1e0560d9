"""The feature matrix of a flat snapshot (:func:`studentprofile.io.from_snapshot`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from studentprofile.features._builder import FeatureBuilder
from studentprofile.features._spec import FeatureSpec, StaticFeatures

if TYPE_CHECKING:
    from studentprofile.io import Snapshot

__all__ = ["snapshot_matrix"]


def snapshot_matrix(snapshot: Snapshot) -> pd.DataFrame:
    """Build the feature matrix of a snapshot: its attributes as static features.

    Numbers and booleans become floats, text and categories become category codes (fixed here
    and recorded in each column's FeatureInfo), dates become days to the snapshot's as-of. The
    matrix carries its FeatureInfo records in ``X.attrs["feature_info"]``.

    Parameters
    ----------
    snapshot : Snapshot
        From :func:`studentprofile.io.from_snapshot`.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``student_id``, ``as_of``) like ``snapshot.y``.

    Examples
    --------
    >>> import pandas as pd
    >>> from studentprofile.io import from_snapshot
    >>> flat = pd.DataFrame({"id": ["a", "b"], "credits": [60, 12], "status": [0, 1]})
    >>> X = snapshot_matrix(from_snapshot(flat, student_id="id", outcome="status"))
    >>> X["credits"].tolist(), sorted(X.attrs["feature_info"])
    ([60.0, 12.0], ['credits'])
    """
    builder = FeatureBuilder(FeatureSpec([
        StaticFeatures(list(snapshot.attributes), allow_audit=list(snapshot.allow_audit))
    ]))
    return builder.fit_transform(snapshot.tables, snapshot.grid)  # sets X.attrs
