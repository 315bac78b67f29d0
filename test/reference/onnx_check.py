#!/usr/bin/python3
"""ONNX in and out, against tools autoenc did not write.

In:  nn.Sequential autoencoders built in PyTorch (several activations, with
     and without bias, with and without a normalisation module) are exported
     by torch.onnx.export at opsets 13 and 17, imported with ae_import_onnx
     and scored: ae_reconstruct must equal PyTorch's own forward pass within
     ATOL, ae_encode the encoder's output, ae_error the mean squared error
     in normalised units; a calibration query gives a threshold, and
     without one ae_is_anomaly refuses (55000).
Out: models trained in SQL are exported with ae_export_onnx, must pass
     onnx.checker.check_model (with full shape inference), and a small
     NumPy interpreter of the graph (written here: python3-onnx 1.12 has no
     reference evaluator) must give autoenc's own reconstructions, codes and
     errors.  Imported back, they must score identically.

Connection: psql with PGHOST / PGPORT / PGUSER / PGDATABASE from the
environment.  Everything it creates is named onnx_check_* and dropped at
the end.  Prints TAP, with the max |diff| of each model.
"""
import base64
import io
import json
import sys
import warnings

import numpy as np

from tap import done, ok, psql_script

warnings.filterwarnings("ignore")
import onnx  # noqa: E402
import onnx.checker  # noqa: E402
import onnx.numpy_helper  # noqa: E402
import torch  # noqa: E402

ATOL = 1e-5          # PyTorch vs autoenc, inputs and outputs of order 1
EVAL_ATOL = 1e-5     # the NumPy interpreter vs autoenc, relative to 1 + |value|
N_ROWS = 64

def psql(sql):
    return psql_script(sql).strip()


def sql_bytes(b):
    return "decode('%s', 'base64')" % base64.b64encode(b).decode()


def sql_array(row):
    return "'{%s}'::real[]" % ",".join("%.9g" % v for v in row)


def load_rows(table, X):
    values = ",\n".join("(%d, %s)" % (i, sql_array(r)) for i, r in enumerate(X))
    psql("DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int, x real[]);"
         "INSERT INTO %s VALUES %s;" % (table, table, table, values))


def scores(model, table):
    """ae_reconstruct, ae_encode and ae_error of every row, in id order."""
    out = psql("SELECT json_build_object("
               "'r', json_agg(ae_reconstruct('%s', x) ORDER BY id),"
               "'c', json_agg(ae_encode('%s', x) ORDER BY id),"
               "'e', json_agg(ae_error('%s', x) ORDER BY id)) FROM %s"
               % (model, model, model, table))
    j = json.loads(out)
    return np.array(j["r"], np.float64), np.array(j["c"], np.float64), np.array(j["e"], np.float64)


def sqlstate_of(sql):
    """"ok", or the SQLSTATE that evaluating sql raises."""
    return psql("CREATE FUNCTION pg_temp.st() RETURNS text LANGUAGE plpgsql AS $f$ "
                "BEGIN PERFORM %s; RETURN 'ok'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE; END $f$;"
                "SELECT pg_temp.st();" % sql)


# ------------------------------------------------------------ PyTorch in

class Normalize(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    def forward(self, x):
        return (x - self.mean) / self.std


class Affine(torch.nn.Module):
    """x * scale + shift: how an affine map is usually written in PyTorch."""
    def __init__(self, scale, shift):
        super().__init__()
        self.register_buffer("scale", scale)
        self.register_buffer("shift", shift)

    def forward(self, x):
        return x * self.scale + self.shift


class Denormalize(torch.nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean))
        self.register_buffer("std", torch.tensor(std))

    def forward(self, x):
        return x * self.std + self.mean


ACTS = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh, "sigmoid": torch.nn.Sigmoid,
        "leaky_relu": torch.nn.LeakyReLU, "elu": torch.nn.ELU, "linear": None}

# name, widths, hidden activations, output activation, bias, normalise
# (False, True: Sub/Div and Mul/Add, "affine": Mul/Add both ways)
TORCH_CASES = [
    ("relu", [5, 3, 5], ["relu"], "linear", True, False),
    ("tanh_deep", [6, 4, 2, 4, 6], ["tanh", "tanh", "tanh"], "linear", True, True),
    ("sigmoid_out", [4, 3, 4], ["sigmoid"], "sigmoid", True, False),
    ("leaky_nobias", [5, 2, 5], ["leaky_relu"], "linear", False, False),
    ("elu_norm", [7, 5, 3, 5, 7], ["elu", "relu", "elu"], "linear", True, True),
    ("linear_code", [4, 2, 4], ["linear"], "linear", False, True),
    ("tanh_affine", [6, 3, 6], ["tanh"], "linear", True, "affine"),
]


def torch_model(widths, acts, out_act, bias, norm, seed):
    torch.manual_seed(seed)
    d = widths[0]
    mods = []
    mean = [float(v) for v in np.linspace(-1, 2, d).astype(np.float32)]
    std = [float(v) for v in np.linspace(0.5, 2, d).astype(np.float32)]
    if norm == "affine":
        m, sd = torch.tensor(mean), torch.tensor(std)
        mods.append(Affine(1 / sd, -m / sd))
    elif norm:
        mods.append(Normalize(mean, std))
    enc_end = None
    for l in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[l], widths[l + 1], bias=bias)
        with torch.no_grad():
            lin.weight.uniform_(-1, 1)
            if bias:
                lin.bias.uniform_(-0.5, 0.5)
        mods.append(lin)
        act = acts[l] if l < len(widths) - 2 else out_act
        if ACTS[act] is not None:
            mods.append(ACTS[act]())
        if widths[l + 1] == min(widths[1:-1]) and enc_end is None:
            enc_end = len(mods)
    if norm == "affine":
        mods.append(Affine(torch.tensor(std), torch.tensor(mean)))
    elif norm:
        mods.append(Denormalize(mean, std))
    return torch.nn.Sequential(*mods).eval(), enc_end, (np.array(mean, np.float32), np.array(std, np.float32))


def check_torch_imports():
    rng = np.random.default_rng(7)
    for ci, (name, widths, acts, out_act, bias, norm) in enumerate(TORCH_CASES):
        for opset in (13, 17):
            model, enc_end, (mean, std) = torch_model(widths, acts, out_act, bias, norm, 100 + ci)
            d = widths[0]
            X = (rng.normal(size=(N_ROWS, d)) * (std if norm else 1) + (mean if norm else 0)).astype(np.float32)
            buf = io.BytesIO()
            torch.onnx.export(model, torch.zeros(2, d), buf, opset_version=opset,
                              input_names=["input"], output_names=["reconstruction"],
                              dynamic_axes={"input": {0: "N"}, "reconstruction": {0: "N"}})
            with torch.no_grad():
                want = model(torch.from_numpy(X)).double().numpy()
                code = model[:enc_end](torch.from_numpy(X)).double().numpy()
            mname = "onnx_check_%s_%d" % (name, opset)
            table = "onnx_check_rows"
            load_rows(table, X)
            psql("SELECT ae_import_onnx(%s, '%s', calibration => 'SELECT x FROM %s')"
                 % (sql_bytes(buf.getvalue()), mname, table))
            r, c, e = scores(mname, table)
            diff = np.max(np.abs(r - want))
            ok(diff <= ATOL, "%s opset %d: ae_reconstruct vs PyTorch, max |diff| %.3g" % (name, opset, diff))
            cdiff = np.max(np.abs(c - code))
            ok(cdiff <= ATOL, "%s opset %d: ae_encode vs PyTorch's encoder, max |diff| %.3g" % (name, opset, cdiff))
            # the error in normalised units, from PyTorch's output
            zs = (X - mean) / std if norm else X
            zo = (want - mean) / std if norm else want
            ew = np.mean((zo - zs) ** 2, axis=1)
            ediff = np.max(np.abs(e - ew) / (1 + np.abs(ew)))
            ok(ediff <= 1e-4, "%s opset %d: ae_error vs PyTorch, max rel diff %.3g" % (name, opset, ediff))
            thr = float(psql("SELECT threshold FROM ae_models WHERE name = '%s'" % mname) or "nan")
            want_thr = np.quantile(ew, 0.95)
            ok(abs(thr - want_thr) <= 1e-4 * (1 + want_thr),
               "%s opset %d: calibrated threshold %.6g, NumPy's 95%% quantile %.6g" % (name, opset, thr, want_thr))
    # no calibration: scores, but ae_is_anomaly needs a threshold
    model, _, _ = torch_model([3, 2, 3], ["relu"], "linear", True, False, 1)
    buf = io.BytesIO()
    torch.onnx.export(model, torch.zeros(2, 3), buf, opset_version=17, input_names=["input"])
    psql("SELECT ae_import_onnx(%s, 'onnx_check_nocal')" % sql_bytes(buf.getvalue()))
    st = sqlstate_of("ae_is_anomaly('onnx_check_nocal', '{1,2,3}'::real[])")
    ok(st == "55000", "without calibration ae_is_anomaly raises 55000 (got %s)" % st)
    st = sqlstate_of("ae_error('onnx_check_nocal', '{1,2,3}'::real[])")
    ok(st == "ok", "without calibration ae_error scores (got %s)" % st)


# ------------------------------------------------------------ NumPy interpreter

def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def run_graph(mp, x):
    """Evaluate the graph in float32: the ops autoenc's export uses."""
    g = mp.graph
    env = {t.name: onnx.numpy_helper.to_array(t) for t in g.initializer}
    env[g.input[0].name] = x.astype(np.float32)
    for n in g.node:
        a = [env[i] for i in n.input if i]
        op = n.op_type
        if op == "Sub":
            y = a[0] - a[1]
        elif op == "Div":
            y = a[0] / a[1]
        elif op == "Mul":
            y = a[0] * a[1]
        elif op == "Add":
            y = a[0] + a[1]
        elif op == "Gemm":
            A = a[0].T if attr(n, "transA", 0) else a[0]
            B = a[1].T if attr(n, "transB", 0) else a[1]
            y = np.float32(attr(n, "alpha", 1.0)) * (A @ B)
            if len(a) > 2:
                y = y + np.float32(attr(n, "beta", 1.0)) * a[2]
        elif op == "MatMul":
            y = a[0] @ a[1]
        elif op == "Relu":
            y = np.maximum(a[0], np.float32(0))
        elif op == "Tanh":
            y = np.tanh(a[0])
        elif op == "Sigmoid":
            y = np.float32(1) / (np.float32(1) + np.exp(-a[0]))
        elif op == "LeakyRelu":
            y = np.where(a[0] >= 0, a[0], np.float32(attr(n, "alpha", 0.01)) * a[0])
        elif op == "Elu":
            y = np.where(a[0] >= 0, a[0], np.float32(attr(n, "alpha", 1.0)) * np.expm1(a[0]))
        elif op == "Identity":
            y = a[0]
        elif op == "ReduceMean":
            y = np.mean(a[0], axis=tuple(attr(n, "axes", None)), keepdims=bool(attr(n, "keepdims", 1)))
        else:
            raise ValueError("the interpreter has no op %s" % op)
        env[n.output[0]] = y.astype(np.float32)
    return {o.name: env[o.name] for o in g.output}


# ------------------------------------------------------------ autoenc out

SQL_CASES = [
    ("tanh", "hidden => ARRAY[6, 2, 6], activation => 'tanh'"),
    ("relu", "hidden => ARRAY[4], activation => 'relu'"),
    ("leaky", "hidden => ARRAY[5, 3, 5], activation => 'leaky_relu'"),
    ("elu_tied", "hidden => ARRAY[5, 2, 5], activation => 'elu', tied_weights => true"),
    ("sigmoid_minmax", "hidden => ARRAY[3], activation => 'sigmoid', output_activation => 'sigmoid', "
                       '"normalize" => \'minmax\', loss => \'bce\''),
]


def check_exports():
    rng = np.random.default_rng(11)
    X = np.column_stack([rng.normal(5, 2, 200), rng.uniform(-1, 1, 200), rng.normal(0, 10, 200),
                         rng.uniform(0, 100, 200), rng.normal(1, 0.1, 200), rng.exponential(1, 200)]).astype(np.float32)
    load_rows("onnx_check_train", X)
    for name, opts in SQL_CASES:
        mname = "onnx_check_sql_" + name
        psql("SELECT ae_train('%s', 'onnx_check_train', 'x', %s, epochs => 20, seed => 3)" % (mname, opts))
        b64 = psql("SELECT encode(ae_export_onnx('%s'), 'base64')" % mname)
        raw = base64.b64decode(b64)
        mp = onnx.load_from_string(raw)
        try:
            onnx.checker.check_model(mp, full_check=True)
            err = None
        except Exception as ex:  # noqa: BLE001
            err = ex
        ok(err is None, "%s: onnx.checker.check_model(full_check=True) passes (opset %d, IR %d)"
           % (name, mp.opset_import[0].version, mp.ir_version), err)
        outs = run_graph(mp, X)
        r, c, e = scores(mname, "onnx_check_train")
        rdiff = np.max(np.abs(outs["reconstruction"] - r) / (1 + np.abs(r)))
        ok(rdiff <= EVAL_ATOL, "%s: NumPy-evaluated reconstruction vs ae_reconstruct, max rel diff %.3g" % (name, rdiff))
        cdiff = np.max(np.abs(outs["code"] - c))
        ok(cdiff <= EVAL_ATOL, "%s: NumPy-evaluated code vs ae_encode, max |diff| %.3g" % (name, cdiff))
        ediff = np.max(np.abs(outs["error"] - e) / (1 + np.abs(e)))
        ok(ediff <= 1e-4, "%s: NumPy-evaluated error vs ae_error, max rel diff %.3g" % (name, ediff))
        # round trip: the same scores, bit for bit
        psql("SELECT ae_import_onnx(ae_export_onnx('%s'), '%s_rt')" % (mname, mname))
        r2, c2, e2 = scores(mname + "_rt", "onnx_check_train")
        ok(np.array_equal(r, r2) and np.array_equal(c, c2) and np.array_equal(e, e2),
           "%s: export -> import round trip scores identically" % name)


def main():
    print("TAP version 13")
    try:
        check_torch_imports()
        check_exports()
    finally:
        psql("SELECT ae_drop(name) FROM ae_models WHERE name LIKE 'onnx\\_check\\_%';"
             "DROP TABLE IF EXISTS onnx_check_rows, onnx_check_train;")
    return done()


if __name__ == "__main__":
    sys.exit(main())
