#!/usr/bin/python3
"""scikit-learn's IsolationForest on the credit data, for comparison with
autoenc's models in the demo and the tutorial: the same split (learn from
the good training rows, score the test rows), categorical columns one-hot
encoded with NULL as a category of its own, numeric NULLs replaced by the
training mean.  Prints the ROC AUC of the test rows against is_anomaly, the
median over five seeds, on every column and on the numeric columns only.

Usage: baseline.py [credit.csv]   (Debian: python3-sklearn, python3-numpy)
"""
import csv
import sys

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

NUMERIC = ["seniority", "time", "age", "expenses", "income", "assets", "debt", "amount", "price"]
CATEGORICAL = ["home", "marital", "records", "job"]


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def matrix(rows, train, cols_cat):
    """Numbers (NULL → the training mean) and one-hot columns (NULL its own)."""
    means = {c: np.mean([float(r[c]) for r in train if r[c] != ""]) for c in NUMERIC}
    levels = {c: sorted({r[c] for r in train}) for c in cols_cat}
    out = []
    for r in rows:
        v = [float(r[c]) if r[c] != "" else means[c] for c in NUMERIC]
        for c in cols_cat:
            v += [1.0 if r[c] == lv else 0.0 for lv in levels[c]]
        out.append(v)
    return np.array(out)


def auc(rows, cols_cat, seed):
    train = [r for r in rows if r["split"] == "train" and r["is_anomaly"] == "0"]
    test = [r for r in rows if r["split"] == "test"]
    forest = IsolationForest(n_estimators=200, random_state=seed).fit(matrix(train, train, cols_cat))
    # score_samples is high for normal rows: its negative ranks anomalies first
    return roc_auc_score([int(r["is_anomaly"]) for r in test], -forest.score_samples(matrix(test, train, cols_cat)))


def main():
    rows = load(sys.argv[1] if len(sys.argv) > 1 else "credit.csv")
    print("| IsolationForest (200 trees, median of 5 seeds) | ROC AUC |")
    print("|---|---|")
    for label, cats in (("numeric and one-hot categorical columns", CATEGORICAL), ("numeric columns only", [])):
        print("| %s | %.3f |" % (label, float(np.median([auc(rows, cats, s) for s in range(5)]))))


if __name__ == "__main__":
    main()
