#!/usr/bin/python3
"""PyTorch side of the training-throughput benchmark.

Trains the same autoencoder as `train_bench train` on the same rows from the
same initial weights: tanh hidden layers, linear output, MSE, Adam lr 1e-3,
a fresh permutation each epoch, one thread.  The loop is PyTorch's fastest
plain idiom for an in-memory tensor (index a batch out of it, no DataLoader),
so the comparison is with PyTorch at its best, not with its data pipeline.

Usage: train_torch.py DATA INIT n d epochs batch h_1 .. h_k
Prints "samples_per_s S seconds T loss L" (L: the last epoch's row-weighted
mean batch loss, the same quantity ae_train reports).
"""
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F


def main():
    data, init = sys.argv[1], sys.argv[2]
    n, d, epochs, bs = (int(v) for v in sys.argv[3:7])
    hidden = [int(v) for v in sys.argv[7:]]
    torch.set_num_threads(1)
    torch.manual_seed(0)

    X = torch.from_numpy(np.fromfile(data, dtype=np.float32).reshape(n, d))
    dims = [d] + hidden + [d]
    layers = []
    for l in range(len(dims) - 1):
        layers.append(torch.nn.Linear(dims[l], dims[l + 1]))
        if l < len(dims) - 2:
            layers.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)

    # the initial weights ae_model_init_weights drew, in nn.Linear's layout
    flat = np.fromfile(init, dtype=np.float32)
    off = 0
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                for p in (m.weight, m.bias):
                    p.copy_(torch.from_numpy(flat[off:off + p.numel()]).view_as(p))
                    off += p.numel()
    assert off == flat.size, "initial weights do not match the architecture"

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        loss_sum = 0.0
        for start in range(0, n, bs):
            xb = X[perm[start:start + bs]]
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(model(xb), xb)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * xb.shape[0]
    secs = time.perf_counter() - t0
    print("samples_per_s %.1f seconds %.4f loss %.6g" % (n * epochs / secs, secs, loss_sum / n))


if __name__ == "__main__":
    main()
