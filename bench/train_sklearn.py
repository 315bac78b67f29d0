#!/usr/bin/python3
"""scikit-learn side of the training-throughput benchmark.

Trains the same autoencoder as `train_bench train` and train_torch.py on the
same rows from the same initial weights with sklearn.neural_network's
MLPRegressor (the rows are both input and target): tanh hidden layers,
identity output, squared error, Adam lr 1e-3 (betas 0.9/0.999, eps 1e-8, as
the others), no L2 penalty (alpha 0), a fresh permutation each epoch, no
early stopping, float32 throughout, one BLAS thread (the caller sets
OPENBLAS_NUM_THREADS=1 and friends before NumPy loads).

MLPRegressor draws its own initial weights; to start from the shared ones,
a one-epoch fit on a few rows sets the estimator up (warm_start), the
weights are then overwritten and the counters reset; the timed fit runs the
epochs with a fresh Adam.  coefs_[l] is W_lᵀ (in × out).

Usage: train_sklearn.py DATA INIT n d epochs batch h_1 .. h_k
Prints "samples_per_s S seconds T loss L" (L: the last epoch's row-weighted
mean batch loss as MSE — MLPRegressor's loss_curve_ holds half of it).
"""
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor


def main():
    data, init = sys.argv[1], sys.argv[2]
    n, d, epochs, bs = (int(v) for v in sys.argv[3:7])
    hidden = [int(v) for v in sys.argv[7:]]
    warnings.simplefilter("ignore", ConvergenceWarning)

    X = np.fromfile(data, dtype=np.float32).reshape(n, d)
    dims = [d] + hidden + [d]

    mlp = MLPRegressor(hidden_layer_sizes=tuple(hidden), activation="tanh", solver="adam",
                       alpha=0.0, batch_size=bs, learning_rate_init=1e-3, max_iter=1,
                       shuffle=True, random_state=0, tol=0.0, n_iter_no_change=10**9,
                       early_stopping=False, warm_start=True)
    mlp.fit(X[:bs], X[:bs])

    # the initial weights ae_model_init_weights drew (W_l out×in, then b_l)
    flat = np.fromfile(init, dtype=np.float32)
    off = 0
    coefs, intercepts = [], []
    for l in range(len(dims) - 1):
        w = flat[off:off + dims[l + 1] * dims[l]].reshape(dims[l + 1], dims[l])
        off += w.size
        b = flat[off:off + dims[l + 1]]
        off += b.size
        coefs.append(np.ascontiguousarray(w.T))
        intercepts.append(b.copy())
    assert off == flat.size, "initial weights do not match the architecture"
    assert all(c.shape == s.shape and c.dtype == s.dtype for c, s in zip(coefs, mlp.coefs_))
    mlp.coefs_, mlp.intercepts_ = coefs, intercepts
    mlp.n_iter_, mlp.t_, mlp.loss_curve_ = 0, 0, []
    mlp.best_loss_, mlp._no_improvement_count = np.inf, 0
    mlp.max_iter = epochs

    t0 = time.perf_counter()
    mlp.fit(X, X)
    secs = time.perf_counter() - t0
    assert mlp.n_iter_ == epochs
    print("samples_per_s %.1f seconds %.4f loss %.6g" % (n * epochs / secs, secs, 2 * mlp.loss_curve_[-1]))


if __name__ == "__main__":
    main()
