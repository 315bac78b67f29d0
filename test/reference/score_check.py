#!/usr/bin/python3
"""Scoring functions against a NumPy recomputation, on random models.

Imports random models into a running server (ae_import), reads each back
with ae_export, scores random rows with every scoring function, recomputes
everything in NumPy from the exported JSON alone and compares.  Prints TAP.

Connection: psql with PGHOST / PGPORT / PGUSER / PGDATABASE from the
environment.  Everything it creates is named score_check_* and dropped at
the end.

Tolerances: the network runs in float32 on both sides, with different
summation orders (and fused multiply-adds on the server), so values agree
to float32 rounding: |server - numpy| <= 2e-5 * (1 + |numpy|).  Errors are
reduced in double precision on both sides from float32 differences.
"""
import json
import os
import sys

import numpy as np

from tap import done, ok, psql_script

RTOL = 2e-5
N_ROWS = 150



def query_json(sql):
    out = psql_script(sql).strip()
    return json.loads(out) if out else None


# ------------------------------------------------------------ models

def f32list(a):
    return [float(v) for v in np.asarray(a, dtype=np.float32).ravel()]


def random_model(rng, d, hidden, acts, out_act, norm, tied=False, columns=None):
    dims = [d] + hidden + [d]
    L = len(dims) - 1
    Ws = []
    layers = []
    for l in range(L):
        if tied and l > len(hidden) // 2:
            W = Ws[L - 1 - l].T
        else:
            W = (rng.uniform(-1, 1, (dims[l + 1], dims[l])) * np.sqrt(3.0 / dims[l])).astype(np.float32)
        Ws.append(W)
        b = rng.uniform(-0.2, 0.2, dims[l + 1]).astype(np.float32)
        layer = {"activation": acts[l] if l < L - 1 else out_act, "bias": f32list(b)}
        if not (tied and l > len(hidden) // 2):
            layer["weight"] = [f32list(row) for row in W]
        layers.append(layer)
    q = np.sort(rng.uniform(0.0, 2.0, 101))
    q[0] = 0.0
    doc = {"format": "autoenc", "format_version": 1, "n_inputs": d, "layers": layers,
           "tied": tied,
           "feature_mean": f32list(rng.uniform(-1, 1, d)),
           "threshold": float(q[95]), "contamination": 0.05,
           "quantiles": [float(v) for v in q]}
    if norm == "zscore":
        doc["normalization"] = {"method": "zscore", "offset": f32list(rng.uniform(-1, 1, d)),
                                "scale": f32list(rng.uniform(0.5, 2.0, d))}
    elif norm == "minmax":
        doc["normalization"] = {"method": "minmax", "offset": f32list(np.full(d, -2.0)),
                                "scale": f32list(np.full(d, 4.0))}
    if columns:
        doc["columns"] = columns
    return doc


MODELS = {
    "score_check_deep": dict(d=64, hidden=[32, 8, 32], acts=["relu", "relu", "relu"], out_act="linear",
                             norm="zscore"),
    "score_check_tied": dict(d=13, hidden=[7, 3, 7], acts=["tanh", "tanh", "tanh"], out_act="linear",
                             norm="zscore", tied=True),
    "score_check_sigmoid": dict(d=10, hidden=[6], acts=["sigmoid"], out_act="sigmoid", norm="minmax"),
    "score_check_named": dict(d=20, hidden=[12, 5, 12], acts=["elu", "leaky_relu", "elu"], out_act="linear",
                              norm="zscore", columns=["f%02d" % j for j in range(20)]),
}

# ------------------------------------------------------------ numpy reference

ACT = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, np.float32(0)),
    "leaky_relu": lambda z: np.where(z > 0, z, np.float32(0.01) * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(z)),
    "tanh": np.tanh,
    "sigmoid": lambda z: np.float32(1) / (np.float32(1) + np.exp(-z)),
}


class Ref:
    """The model of an ae_export document, computed in float32."""

    def __init__(self, doc):
        self.d = doc["n_inputs"]
        self.layers = [(np.array(l["weight"], dtype=np.float32), np.array(l["bias"], dtype=np.float32),
                        l["activation"]) for l in doc["layers"]]
        self.code_layer = doc["code_layer"]
        norm = doc.get("normalization") or {}
        self.offset = np.array(norm.get("offset") or [0.0] * self.d, dtype=np.float32)
        self.scale = np.array(norm.get("scale") or [1.0] * self.d, dtype=np.float32)
        self.mean = np.array(doc["feature_mean"], dtype=np.float32)
        self.threshold = doc["threshold"]
        self.q = np.array(doc["quantiles"], dtype=np.float64)
        self.columns = doc.get("columns")
        self.sigmoid_out = doc["layers"][-1]["activation"] == "sigmoid"

    def run(self, a, start, stop):
        for W, b, act in self.layers[start:stop]:
            a = ACT[act]((a @ W.T + b).astype(np.float32)).astype(np.float32)
        return a

    def score(self, x):
        """x: float64 vector with NaN for missing; returns a dict of everything."""
        present = ~np.isnan(x)
        xf = np.where(present, x, self.mean).astype(np.float32)
        z = ((xf - self.offset) / self.scale).astype(np.float32)
        code = self.run(z, 0, self.code_layer + 1)
        out = self.run(code, self.code_layer + 1, len(self.layers))
        e = (out - z).astype(np.float32)
        e64 = e[present].astype(np.float64)
        mse = float(np.mean(e64 ** 2))
        r = {
            "present": present, "z": z, "code": code, "out": out,
            "reconstruction": (out * self.scale + self.offset).astype(np.float32),
            "feature_errors": np.where(present, (e * e).astype(np.float32), np.nan),
            "mse": mse, "mae": float(np.mean(np.abs(e64))), "rmse": float(np.sqrt(mse)),
            "max": float(np.max(np.abs(e64))),
            "score": float(np.interp(mse, self.q, np.arange(101) / 100.0)),
            "flag": mse > self.threshold,
            "flag_c10": mse > float(np.interp(0.9, np.arange(101) / 100.0, self.q)),
        }
        if self.sigmoid_out:
            o = out[present].astype(np.float64)
            t = z[present].astype(np.float64)
            lo = np.maximum(np.log(np.where(o > 0, o, 1e-300)), -100.0)
            l1 = np.maximum(np.log(np.where(1 - o > 0, 1 - o, 1e-300)), -100.0)
            r["bce"] = float(-np.mean(t * lo + (1 - t) * l1))
        return r


# ------------------------------------------------------------ comparisons

def close(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False, "shape %s vs %s" % (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b)
    diff = np.where(both_nan, 0.0, np.abs(a - b) / (1.0 + np.abs(b)))
    worst = float(np.nanmax(diff)) if diff.size else 0.0
    return bool(np.all(diff <= RTOL)), worst


def compare(name, server, ref):
    good, worst = close(server, ref)
    ok(good, "%s (max scaled diff %s)" % (name, "%.2e" % worst if isinstance(worst, float) else worst))


def sql_array(v):
    return "'{" + ",".join("NULL" if np.isnan(t) else repr(float(np.float32(t))) for t in v) + "}'"


def main():
    rng = np.random.default_rng(int(os.environ.get("SCORE_CHECK_SEED", "20240607")))
    names = list(MODELS)
    setup = ["SET client_min_messages = warning;", "CREATE EXTENSION IF NOT EXISTS autoenc;",
             "SELECT ae_drop(m, if_exists => true) FROM unnest(ARRAY[%s]) m;" % ",".join("'%s'" % n for n in names),
             "DROP TABLE IF EXISTS score_check_rows, score_check_named_rows;",
             "CREATE TABLE score_check_rows (model text, id int, v real[], code real[]);"]
    docs = {}
    for n in names:
        docs[n] = random_model(rng, **MODELS[n])
        setup.append("SELECT ae_import($doc$%s$doc$::jsonb, '%s');" % (json.dumps(docs[n]), n))
    psql_script("\n".join(setup))

    exported = {n: query_json("SELECT ae_export('%s');" % n) for n in names}
    refs = {n: Ref(exported[n]) for n in names}

    # rows around the normalisation offsets; then some with missing values
    rows = {}
    inserts = []
    for n in names:
        ref = refs[n]
        if MODELS[n]["norm"] == "minmax":
            X = rng.uniform(0, 1, (N_ROWS, ref.d)) * ref.scale + ref.offset     # z in [0, 1] for bce
        else:
            X = rng.normal(0, 1.5, (N_ROWS, ref.d)) * ref.scale + ref.offset
        X = X.astype(np.float32).astype(np.float64)
        rows[n] = X
        for i in range(N_ROWS):
            code = ref.score(X[i])["code"]
            inserts.append("('%s', %d, %s, %s)" % (n, i, sql_array(X[i]), sql_array(code)))
    # rows with missing values, scored with missing => 'impute'
    missing = {}
    for n in names:
        M = rows[n][:40].copy()
        for i in range(40):
            k = rng.integers(1, max(2, refs[n].d // 2))
            M[i, rng.choice(refs[n].d, size=k, replace=False)] = np.nan
        missing[n] = M
        for i in range(40):
            inserts.append("('%s', %d, %s, NULL)" % (n, 1000 + i, sql_array(M[i])))
    psql_script("INSERT INTO score_check_rows VALUES\n" + ",\n".join(inserts) + ";")

    # version 2 of every model: threshold and quantiles from these rows' own
    # errors, so that scores spread over [0, 1] and about half the rows are
    # flagged; scored below through the re-imported, re-exported model
    reimport = []
    for n in names:
        mses = np.array([refs[n].score(rows[n][i])["mse"] for i in range(N_ROWS)])
        docs[n]["threshold"] = float(np.median(mses))
        docs[n]["quantiles"] = [float(v) for v in np.quantile(mses, np.arange(101) / 100.0)]
        reimport.append("SELECT ae_import($doc$%s$doc$::jsonb, '%s');" % (json.dumps(docs[n]), n))
    psql_script("\n".join(reimport))
    exported = {n: query_json("SELECT ae_export('%s');" % n) for n in names}
    refs = {n: Ref(exported[n]) for n in names}
    ok(all(exported[n]["version"] == 2 for n in names), "the models were re-imported as version 2")

    # the named-column model's rows as a table with its columns shuffled, of mixed types
    cols = refs["score_check_named"].columns
    order = list(rng.permutation(len(cols)))
    types = ["real", "double precision", "numeric"]
    psql_script("CREATE TABLE score_check_named_rows (id int, %s);\n" % ", ".join(
        "%s %s" % (cols[j], types[j % 3]) for j in order) +
        "INSERT INTO score_check_named_rows SELECT id, %s FROM score_check_rows WHERE model = 'score_check_named' AND id < 1000;"
        % ", ".join("v[%d]" % (j + 1) for j in order))

    for n in names:
        ref = refs[n]
        server = query_json("""
            SELECT json_agg(json_build_object(
                'id', id,
                'encode', ae_encode(model, v), 'reconstruct', ae_reconstruct(model, v),
                'decode', ae_decode(model, code),
                'mse', ae_error(model, v), 'mae', ae_error(model, v, 'mae'),
                'rmse', ae_error(model, v, 'rmse'), 'max', ae_error(model, v, 'max'),
                'bce', CASE WHEN %(sig)s THEN ae_error(model, v, 'bce') END,
                'mse8', ae_error(model, v::float8[]),
                'feature_errors', ae_feature_errors(model, v),
                'explain', (SELECT json_agg(json_build_object('f', feature, 'e', error, 's', share))
                            FROM ae_explain(model, v)),
                'score', ae_anomaly_score(model, v),
                'flag', ae_is_anomaly(model, v), 'flag_c10', ae_is_anomaly(model, v, 0.1)
            ) ORDER BY id)
            FROM score_check_rows WHERE model = '%(n)s' AND id < 1000;
        """ % {"n": n, "sig": "true" if ref.sigmoid_out else "false"})
        expect = [ref.score(rows[n][i]) for i in range(N_ROWS)]
        tag = "%s (%d rows)" % (n, N_ROWS)

        compare("%s: ae_encode" % tag, [s["encode"] for s in server], [e["code"] for e in expect])
        compare("%s: ae_reconstruct, original units" % tag, [s["reconstruct"] for s in server],
                [e["reconstruction"] for e in expect])
        compare("%s: ae_decode of the code" % tag, [s["decode"] for s in server],
                [e["reconstruction"] for e in expect])
        for m in ["mse", "mae", "rmse", "max"]:
            compare("%s: ae_error %s" % (tag, m), [s[m] for s in server], [e[m] for e in expect])
        if ref.sigmoid_out:
            compare("%s: ae_error bce" % tag, [s["bce"] for s in server], [e["bce"] for e in expect])
        ok(all(s["mse8"] == s["mse"] for s in server),
           "%s: double precision[] input scores exactly like real[]" % tag)
        compare("%s: ae_feature_errors" % tag, [s["feature_errors"] for s in server],
                [e["feature_errors"] for e in expect])
        compare("%s: ae_anomaly_score" % tag, [s["score"] for s in server], [e["score"] for e in expect])

        # explain: the three largest squared errors, their features and shares
        bad = []
        for i, (s, e) in enumerate(zip(server, expect)):
            fe = e["feature_errors"]
            idx = sorted(range(ref.d), key=lambda j: (-fe[j], j))
            top = idx[:3]
            names_ref = [ref.columns[j] if ref.columns else str(j + 1) for j in top]
            got = s["explain"]
            ties = abs(fe[idx[2]] - fe[idx[3]]) <= RTOL * (1 + fe[idx[2]]) if ref.d > 3 else False
            if [g["f"] for g in got] != names_ref and not ties:
                bad.append((i, [g["f"] for g in got], names_ref))
            good, _ = close([g["e"] for g in got], [fe[j] for j in top])
            good2, _ = close([g["s"] for g in got], [fe[j] / np.sum(fe) for j in top])
            if not (good and good2):
                bad.append((i, got, [(fe[j], fe[j] / np.sum(fe)) for j in top]))
        ok(not bad, "%s: ae_explain names the top 3 features with their errors and shares" % tag, bad[:3])

        # flags: skip rows within rounding of the threshold
        def flags_agree(key, thr):
            wrong = [i for i, (s, e) in enumerate(zip(server, expect))
                     if s[key] != e[key] and abs(e["mse"] - thr) > RTOL * (1 + thr)]
            return not wrong, wrong
        good, wrong = flags_agree("flag", ref.threshold)
        ok(good, "%s: ae_is_anomaly against the stored threshold (%d flagged)"
           % (tag, sum(e["flag"] for e in expect)), wrong[:5])
        good, wrong = flags_agree("flag_c10", float(np.interp(0.9, np.arange(101) / 100.0, ref.q)))
        ok(good, "%s: ae_is_anomaly with contamination 0.1 (%d flagged)"
           % (tag, sum(e["flag_c10"] for e in expect)), wrong[:5])

        # missing values, imputed
        server = query_json("""
            SELECT json_agg(json_build_object(
                'mse', ae_error(model, v, missing => 'impute'),
                'max', ae_error(model, v, 'max', 'impute'),
                'reconstruct', ae_reconstruct(model, v, missing => 'impute'),
                'feature_errors', ae_feature_errors(model, v, missing => 'impute'),
                'score', ae_anomaly_score(model, v, missing => 'impute')) ORDER BY id)
            FROM score_check_rows WHERE model = '%s' AND id >= 1000;
        """ % n)
        expect = [ref.score(missing[n][i]) for i in range(40)]
        compare("%s: impute: ae_error mse over present features" % n, [s["mse"] for s in server],
                [e["mse"] for e in expect])
        compare("%s: impute: ae_error max over present features" % n, [s["max"] for s in server],
                [e["max"] for e in expect])
        compare("%s: impute: ae_reconstruct with the training mean filled in" % n,
                [s["reconstruct"] for s in server], [e["reconstruction"] for e in expect])
        compare("%s: impute: ae_feature_errors, NULL where missing" % n,
                [[np.nan if v is None else v for v in s["feature_errors"]] for s in server],
                [e["feature_errors"] for e in expect])
        compare("%s: impute: ae_anomaly_score" % n, [s["score"] for s in server], [e["score"] for e in expect])

    # rows: the named-column model scores a row value like the array in column order
    server = query_json("""
        SELECT json_agg(json_build_object('row', ae_error('score_check_named', t),
                                          'array', (SELECT ae_error('score_check_named', v) FROM score_check_rows r
                                                    WHERE r.model = 'score_check_named' AND r.id = t.id))
                        ORDER BY id)
        FROM score_check_named_rows t;
    """)
    compare("score_check_named: a row value (columns shuffled, real/float8/numeric) scores like the array",
            [s["row"] for s in server], [s["array"] for s in server])
    compare("score_check_named: and like NumPy", [s["row"] for s in server],
            [refs["score_check_named"].score(rows["score_check_named"][i])["mse"] for i in range(N_ROWS)])

    # the BLAS kernel agrees as well
    server = query_json("""
        SET autoenc.scoring_kernel = blas;
        SELECT json_agg(ae_reconstruct(model, v) ORDER BY id) FROM score_check_rows
        WHERE model = 'score_check_deep' AND id < 1000;
    """)
    compare("score_check_deep: ae_reconstruct with autoenc.scoring_kernel = blas", server,
            [refs["score_check_deep"].score(rows["score_check_deep"][i])["reconstruction"] for i in range(N_ROWS)])

    psql_script("SET client_min_messages = warning;\n"
                "SELECT ae_drop(m, if_exists => true) FROM unnest(ARRAY[%s]) m;\n"
                "DROP TABLE score_check_rows, score_check_named_rows;" % ",".join("'%s'" % n for n in names))
    return done()


if __name__ == "__main__":
    sys.exit(main())
