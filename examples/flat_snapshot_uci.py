"""A flat table, one row per student: the UCI dropout file, from CSV to a cross-validated model.

Many first projects start from such a snapshot (attributes, first-year results and a final
outcome; no times). This walks the flat path twice, as a data scientist in Python and as a
campus engineer with a ten-line TOML file and the command line:

    python examples/flat_snapshot_uci.py            # writes dropout.csv and flat.toml here
    studentprofile check flat.toml
    studentprofile train --config flat.toml

Data: Realinho et al., "Predict Students' Dropout and Academic Success" (UCI, CC BY 4.0),
bundled with studentprofile.
"""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import studentprofile as sp
from studentprofile.errors import DataQualityWarning
from studentprofile.evaluation import cross_validate
from studentprofile.features import snapshot_matrix
from studentprofile.io import from_snapshot

AUDIT = ["Gender", "Nacionality", "Marital status", "Age at enrollment",
         "Educational special needs", "International", "Displaced"]


def main(folds: int = 5) -> dict[str, float]:
    frame = sp.datasets.uci_dropout_frame()                 # the published file, 37 columns
    frame.to_csv("dropout.csv", sep=";", index=False)     # as a campus would export it

    # --- in Python: the snapshot, its features, student-disjoint k-fold CV
    snap = from_snapshot(frame, student_id=None, outcome="Target", positive="Dropout",
                         audit_attributes=AUDIT)
    X = snapshot_matrix(snap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # said once above, not per fold
        cv = cross_validate(sp.RiskModel(random_state=0), X, snap.y, cv=folds,
                            attributes=snap.audit_frame(), reasons=3)
    s = cv.summary()
    print(f"{len(X):,} students, {X.shape[1]} attribute features "
          f"({len(AUDIT)} audit attributes kept out)")
    print(f"{folds}-fold ROC AUC {s['auc']['mean']:.3f} (sd {s['auc']['std']:.3f}), "
          f"pooled {s['pooled_auc']:.3f}; precision@5% {s['precision_at_k']['mean']:.2f}")
    print("the first student's reasons:",
          *[r["sentence"] for r in cv.reasons[0]["reasons"]], sep="\n  - ")
    cv.report.save("cross_validation.html")

    # --- the same from a ten-line config, for the command line
    audit = ", ".join(f'"{a}"' for a in AUDIT)
    snapshot = ('snapshot = { path = "dropout.csv", sep = ";", outcome = { column = "Target", '
                f'positive = "Dropout" }}, audit_attributes = [{audit}] }}')
    Path("flat.toml").write_text(textwrap.dedent(f"""\
        name = "uci-dropout-flat"
        [data]
        {snapshot}
        [splits]
        kind = "kfold"
        folds = {folds}
        [tracking]
        enabled = false
        """))
    print("wrote dropout.csv, flat.toml and cross_validation.html; next:\n"
          "  studentprofile check flat.toml\n  studentprofile train --config flat.toml")
    return {"auc": s["auc"]["mean"], "pooled_auc": s["pooled_auc"]}


if __name__ == "__main__":
    main()
