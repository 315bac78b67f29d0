#!/usr/bin/python3
"""The numerical core checked against PyTorch on identical weights and data.

For each case (an optimiser or a regulariser on a tiny network) this script
draws initial weights and a few batches, writes them for ref_driver (the C
side), lets both run the same optimiser steps, and compares per named tensor:
the loss parts of every step, the gradient of the first step, the final
weights and the change the steps made to them.  Output is TAP; the exit status is non-zero when any difference is
above the tolerance.

PyTorch runs in float32 like the core, so the differences measured are the
rounding of two float32 implementations: a few 1e-7 is normal, and TOL
(relative to the tensor's largest magnitude) leaves a wide margin while
catching any formula that is off (a wrong constant or a missing term shows
up at 1e-2 and above).

Usage: torch_reference.py DRIVER WORKDIR
"""
import math
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

TOL = 1e-4
KL_CLAMP = 1e-7


def f32(x):
    """A hyperparameter as the core sees it: rounded to float32."""
    return float(np.float32(x))


# ------------------------------------------------------------------ cases

def case(name, hidden, acts, out_act="linear", tied=False, loss="mse", l1=0.0,
         kl=0.0, rho=0.05, contractive=0.0, noise=None, opt="adam", lr=0.01,
         momentum=0.9, nesterov=False, betas=(0.9, 0.999), eps=1e-8, wd=0.0,
         clip=0.0, lr_decay=1.0, epoch_every=0, steps=5, batch=8, d=6, groups=None):
    if groups is not None:
        d = groups["plain"] + sum(groups["widths"])
    return dict(name=name, d=d, hidden=hidden, acts=acts, out_act=out_act, tied=tied, groups=groups,
                loss=loss, l1=l1, kl=kl, rho=rho, contractive=contractive, noise=noise,
                opt=opt, lr=lr, momentum=momentum, nesterov=nesterov, betas=betas,
                eps=eps, wd=wd, clip=clip, lr_decay=lr_decay, epoch_every=epoch_every,
                steps=steps, batch=batch)


NET = [4, 2, 4]
TANH3 = ["tanh"] * 3
# 3 plain inputs, then groups of 3 and 5 categories
MIXED = dict(plain=3, widths=[3, 5], weights=[1.0] * 5)
MIXED_WEIGHTED = dict(plain=3, widths=[3, 5], weights=[0.5, 1.0, 2.0, 1.5, 3.0])
# 5 plain inputs of which the last 2 are 0/1 (missing indicators), then groups of 3 and 5
MIXED_WIDE = dict(plain=5, widths=[3, 5], weights=[1.0, 0.25, 2.0, 0.75, 1.5, 4.0, 0.5],
                  indicators=2)
CASES = [
    # optimisers, plain MSE
    case("sgd", NET, TANH3, opt="sgd", lr=0.1),
    case("sgd_weight_decay", NET, TANH3, opt="sgd", lr=0.1, wd=0.05),
    case("momentum", NET, TANH3, opt="momentum", lr=0.05, momentum=0.9),
    case("nesterov", NET, TANH3, opt="momentum", lr=0.05, momentum=0.8, nesterov=True),
    case("momentum_weight_decay", NET, TANH3, opt="momentum", lr=0.05, wd=0.1),
    case("adam", NET, TANH3, opt="adam", lr=0.01),
    case("adam_betas_eps", NET, TANH3, opt="adam", lr=0.01, betas=(0.8, 0.95), eps=1e-3),
    case("adam_weight_decay", NET, TANH3, opt="adam", lr=0.01, wd=0.1),
    case("adamw", NET, TANH3, opt="adamw", lr=0.01, wd=0.1),
    case("sgd_clip", NET, TANH3, opt="sgd", lr=0.1, clip=0.05),
    case("adam_clip", NET, TANH3, opt="adam", lr=0.01, clip=0.05),
    case("sgd_lr_decay", NET, TANH3, opt="sgd", lr=0.1, lr_decay=0.5, epoch_every=1),
    case("adamw_clip_lr_decay", NET, TANH3, opt="adamw", lr=0.01, wd=0.05, clip=0.1,
         lr_decay=0.7, epoch_every=2),
    # objectives and architectures
    case("bce_sigmoid_output", NET, TANH3, out_act="sigmoid", loss="bce", opt="adam"),
    case("l1_activity", NET, TANH3, l1=0.05, opt="adam"),
    case("kl_sparsity", NET, ["tanh", "sigmoid", "tanh"], kl=0.1, rho=0.1, opt="adam"),
    case("contractive_1_layer", [3], ["sigmoid"], contractive=0.1, opt="adam"),
    case("contractive_deep", [5, 3, 5], TANH3, contractive=0.1, opt="adam"),
    case("contractive_deep_elu", [5, 3, 5], ["elu", "elu", "elu"], contractive=0.1, opt="sgd",
         lr=0.1),
    case("tied", NET, TANH3, tied=True, opt="adam"),
    case("tied_contractive", [5, 3, 5], TANH3, tied=True, contractive=0.1, opt="adam"),
    case("denoising_mask", NET, TANH3, noise="mask", opt="adam"),
    case("denoising_gaussian", NET, TANH3, noise="gaussian", opt="momentum", lr=0.05),
    case("relu_family", NET, ["relu", "leaky_relu", "elu"], opt="momentum", lr=0.05),
    case("everything", [5, 3, 5], ["tanh", "sigmoid", "tanh"], out_act="sigmoid", loss="bce",
         l1=0.01, kl=0.05, rho=0.2, contractive=0.05, noise="mask", opt="adamw", wd=0.05,
         clip=0.5, lr_decay=0.9, epoch_every=1),
    # mixed-type models: plain inputs and softmax groups (ae_groups.h).  How
    # much a wrong formula moves them (measured): one slot weight 1% off,
    # 4e-5 to 2e-3 in the loss and 3e-3 to 4e-2 in the updates; no division
    # by ln K, or the plain mean over slots instead of the weighted one, 8e-2
    # and more; one first-layer weight 1e-3 off, 2e-2
    case("mixed", [6, 3, 6], TANH3, groups=MIXED, opt="adam", batch=16),
    case("mixed_weights", [6, 3, 6], TANH3, groups=MIXED_WEIGHTED, opt="adam", batch=16),
    case("mixed_sigmoid_bce", [6, 3, 6], TANH3, out_act="sigmoid", loss="bce", groups=MIXED_WEIGHTED,
         opt="adam", batch=16),
    case("mixed_sigmoid_mse", [6, 3, 6], TANH3, out_act="sigmoid", groups=MIXED, opt="momentum",
         lr=0.05, batch=16),
    case("mixed_tied_l1", [6, 3, 6], TANH3, tied=True, l1=0.02, groups=MIXED_WEIGHTED, opt="adamw",
         wd=0.05, batch=16),
    case("mixed_groups_only", [4, 2, 4], TANH3, groups=dict(plain=0, widths=[4, 6], weights=[1.0, 2.5]),
         opt="sgd", lr=0.5, batch=16),
    # denoising as the core does it (ae_keep_groups_clean): plain inputs
    # corrupted, groups one-hot; BCE on targets that are exactly 0 or 1 too
    case("mixed_denoising_bce", [8, 3, 8], TANH3, out_act="sigmoid", loss="bce", groups=MIXED_WIDE,
         noise="gaussian_plain", opt="adam", batch=16),
    # every group input nonzero and not 1: the first layer's gather must
    # equal the dense product for any values, not just one-hot rows
    case("mixed_dense_group_inputs", [8, 3, 8], TANH3, groups=MIXED_WIDE, noise="gaussian",
         opt="adam", batch=16),
]

ACT = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "elu": lambda z: F.elu(z, 1.0),
}


def code_layer(hidden):
    """The core's rule: the narrowest hidden layer, the middle one on ties."""
    narrow = min(hidden)
    idx = [i for i, h in enumerate(hidden) if h == narrow]
    return idx[len(idx) // 2]


class Net:
    """The autoencoder as the core defines it, weights in its flat layout."""

    def __init__(self, c, gen):
        self.c = c
        self.dims = [c["d"]] + c["hidden"] + [c["d"]]
        self.L = len(self.dims) - 1
        self.code = code_layer(c["hidden"])
        # a mixed model's last layer is raw: logits, and plain outputs before f_out
        self.acts = c["acts"] + [c["out_act"] if c["groups"] is None else "linear"]
        self.W, self.b = [], []
        for l in range(self.L):
            fan_in, fan_out = self.dims[l], self.dims[l + 1]
            tied = c["tied"] and l > self.code
            bound = 1.0 / math.sqrt(fan_in)
            W = None if tied else (torch.rand(fan_out, fan_in, generator=gen) * 2 - 1) * bound
            b = (torch.rand(fan_out, generator=gen) * 2 - 1) * bound
            self.W.append(None if W is None else W.requires_grad_(True))
            self.b.append(b.requires_grad_(True))

    def weight(self, l):
        # a tied decoder layer l uses its encoder twin's weights transposed
        return self.W[l] if self.W[l] is not None else self.W[self.L - 1 - l].t()

    def tensors(self):
        """(name, tensor) in the core's flat order: W_l (unless tied) then b_l."""
        out = []
        for l in range(self.L):
            if self.W[l] is not None:
                out.append(("W%d" % l, self.W[l]))
            out.append(("b%d" % l, self.b[l]))
        return out

    def forward(self, x):
        a, code = x, None
        for l in range(self.L):
            a = ACT[self.acts[l]](F.linear(a, self.weight(l), self.b[l]))
            if l == self.code:
                code = a
        return a, code

    def encode(self, x):
        a = x
        for l in range(self.code + 1):
            a = ACT[self.acts[l]](F.linear(a, self.weight(l), self.b[l]))
        return a


def objective(net, c, x_in, x_target):
    """total, recon, l1, kl, contractive as the core's ae_nn.h defines them."""
    B = x_in.shape[0]
    need_jac = c["contractive"] > 0
    xin = x_in.clone().requires_grad_(need_jac)
    out, code = net.forward(xin)
    if c["groups"] is not None:
        recon = mixed_recon(c, out, x_target)
    elif c["loss"] == "bce":
        recon = F.binary_cross_entropy(out, x_target)
    else:
        recon = F.mse_loss(out, x_target)
    zero = torch.zeros((), dtype=torch.float32)
    l1 = f32(c["l1"]) * code.abs().sum() / B if c["l1"] > 0 else zero
    if c["kl"] > 0:
        rho = f32(c["rho"])
        rho_hat = code.mean(0).clamp(KL_CLAMP, 1 - KL_CLAMP)
        kl = f32(c["kl"]) * (rho * torch.log(rho / rho_hat)
                        + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
    else:
        kl = zero
    if need_jac:
        # ‖∂code/∂x‖²_F row by row of the Jacobian: rows of different samples
        # never mix, so one backward per code unit gives it for the whole batch
        pen = zero
        for j in range(code.shape[1]):
            g, = torch.autograd.grad(code[:, j].sum(), xin, create_graph=True)
            pen = pen + (g * g).sum()
        contr = f32(c["contractive"]) * pen / B
    else:
        contr = zero
    total = recon + l1 + kl + contr
    return total, [total, recon, l1, kl, contr]


def mixed_recon(c, z, t):
    """The weighted slot mean of ae_groups.h, written with torch's own losses:
    mse or bce (after the output activation) per plain input, cross-entropy on
    each group's logits divided by ln K, weighted, over the weights' sum."""
    g = c["groups"]
    P, w = g["plain"], torch.tensor([f32(v) for v in g["weights"]], dtype=torch.float32)
    row = torch.zeros(z.shape[0], dtype=torch.float32)
    if P > 0:
        y = ACT[c["out_act"]](z[:, :P])
        if c["loss"] == "bce":
            lp = F.binary_cross_entropy(y, t[:, :P], reduction="none")
        else:
            lp = F.mse_loss(y, t[:, :P], reduction="none")
        row = row + (lp * w[:P]).sum(1)
    start = P
    for i, K in enumerate(g["widths"]):
        ce = F.cross_entropy(z[:, start:start + K], t[:, start:start + K].argmax(1), reduction="none")
        row = row + w[P + i] * ce / math.log(K)
        start += K
    return (row / w.sum()).mean()


def make_optimizer(c, params):
    lr = f32(c["lr"])
    if c["opt"] == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=f32(c["wd"]))
    if c["opt"] == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=f32(c["momentum"]),
                               nesterov=c["nesterov"], weight_decay=f32(c["wd"]))
    betas = (f32(c["betas"][0]), f32(c["betas"][1]))
    cls = torch.optim.AdamW if c["opt"] == "adamw" else torch.optim.Adam
    return cls(params, lr=lr, betas=betas, eps=f32(c["eps"]), weight_decay=f32(c["wd"]))


def make_data(c, rng):
    """S batches: targets in (0, 1) (valid for BCE too), and the inputs the
    network sees: the targets, or a corrupted copy for denoising."""
    S, B, d = c["steps"], c["batch"], c["d"]
    # a low-rank signal through a sigmoid: columns correlate, values in (0, 1)
    z = rng.standard_normal((S * B, 2)) @ rng.standard_normal((2, d))
    target = (1.0 / (1.0 + np.exp(-z - 0.1 * rng.standard_normal((S * B, d))))).astype(np.float32)
    if c["groups"] is not None:
        # each group one-hot, at a random category
        start = c["groups"]["plain"]
        for K in c["groups"]["widths"]:
            target[:, start:start + K] = 0.0
            target[np.arange(S * B), start + rng.integers(0, K, S * B)] = 1.0
            start += K
        # the last plain inputs as missing indicators: exactly 0 or 1
        P, k = c["groups"]["plain"], c["groups"].get("indicators", 0)
        target[:, P - k:P] = np.round(target[:, P - k:P])
    inp = target.copy()
    if c["noise"] == "mask":
        inp[rng.random(inp.shape) < 0.25] = 0.0
    elif c["noise"] == "gaussian":
        inp = (inp + 0.1 * rng.standard_normal(inp.shape)).astype(np.float32)
    elif c["noise"] == "gaussian_plain":
        P = c["groups"]["plain"]
        inp[:, :P] = (inp[:, :P] + 0.1 * rng.standard_normal((S * B, P))).astype(np.float32)
    return target.reshape(S, B, d), inp.reshape(S, B, d)


def fmt(values):
    return " ".join("%.9g" % v for v in values)


def write_case(f, c, net, target, inp):
    params = np.concatenate([t.detach().numpy().ravel() for _, t in net.tensors()])
    f.write("case %s\n" % c["name"])
    f.write("arch %d %d %s %s %s %d %d\n" % (c["d"], len(c["hidden"]), fmt(c["hidden"]),
                                          " ".join(c["acts"]), c["out_act"], net.code,
                                          int(c["tied"])))
    f.write("objective %s %.9g %.9g %.9g %.9g\n" % (c["loss"], c["l1"], c["kl"], c["rho"],
                                                    c["contractive"]))
    g = c["groups"]
    if g is None:
        f.write("groups 0 0\n")
    else:
        f.write("groups %d %d %s %s\n" % (g["plain"], len(g["widths"]), fmt(g["widths"]), fmt(g["weights"])))
    f.write("optim %s %.9g %.9g %d %.9g %.9g %.9g %.9g %.9g %.9g\n" % (
        c["opt"], c["lr"], c["momentum"], int(c["nesterov"]), c["betas"][0], c["betas"][1],
        c["eps"], c["wd"], c["clip"], c["lr_decay"]))
    f.write("steps %d %d %d\n" % (c["steps"], c["batch"], c["epoch_every"]))
    f.write("params %d %s\n" % (params.size, fmt(params)))
    f.write("target %s\n" % fmt(target.ravel()))
    f.write("input %s\n" % fmt(inp.ravel()))


def run_torch(c, net, target, inp):
    """The same steps in PyTorch: losses per step, first gradient, final weights."""
    params = [t for _, t in net.tensors()]
    opt = make_optimizer(c, params)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=f32(c["lr_decay"]))
    losses, grad0 = [], None
    for s in range(c["steps"]):
        opt.zero_grad()
        total, parts = objective(net, c, torch.from_numpy(inp[s]), torch.from_numpy(target[s]))
        total.backward()
        losses.append([float(p) for p in parts])
        if s == 0:
            grad0 = [p.grad.detach().clone() for p in params]
        if c["clip"] > 0:
            torch.nn.utils.clip_grad_norm_(params, f32(c["clip"]))
        opt.step()
        if c["epoch_every"] > 0 and (s + 1) % c["epoch_every"] == 0:
            sched.step()
    return losses, grad0, [p.detach().clone() for p in params]


def parse_driver_output(path):
    cases, cur = {}, None
    with open(path) as f:
        for line in f:
            tok = line.split()
            if tok[0] == "case":
                cur = cases.setdefault(tok[1], {"loss": []})
            elif tok[0] == "loss":
                cur["loss"].append([float(v) for v in tok[2:]])
            else:
                cur[tok[0]] = np.array([float(v) for v in tok[2:]], dtype=np.float64)
    return cases


def rel_diff(ours, ref):
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    scale = max(float(np.max(np.abs(ref))), 1e-6)
    return float(np.max(np.abs(ours - ref))) / scale


def main():
    driver, workdir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(20240611)
    cases_path, out_path = workdir + "/cases.txt", workdir + "/driver_out.txt"

    prepared = []
    with open(cases_path, "w") as f:
        for i, c in enumerate(CASES):
            gen = torch.Generator().manual_seed(1000 + i)
            net = Net(c, gen)
            target, inp = make_data(c, rng)
            write_case(f, c, net, target, inp)
            prepared.append((c, net, target, inp))

    res = subprocess.run([driver, cases_path, out_path])
    if res.returncode != 0:
        print("not ok 1 - ref_driver failed with status %d" % res.returncode)
        print("1..1")
        return 1
    ours = parse_driver_output(out_path)

    n, failed, worst = 0, 0, 0.0
    part_names = ["total", "recon", "l1", "kl", "contractive"]
    for c, net, target, inp in prepared:
        init = [t.detach().numpy().ravel().astype(np.float64) for _, t in net.tensors()]
        losses, grad0, final = run_torch(c, net, target, inp)
        o = ours.get(c["name"])
        checks = []
        if o is None:
            checks.append(("missing from the driver's output", float("inf")))
        else:
            for k, pname in enumerate(part_names):
                ref = [row[k] for row in losses]
                if max(abs(v) for v in ref) == 0.0 and pname != "total":
                    continue    # regulariser switched off in this case
                checks.append(("loss.%s" % pname, rel_diff([row[k] for row in o["loss"]], ref)))
            offset = 0
            for tname, g, p, p0 in zip([t for t, _ in net.tensors()], grad0, final, init):
                size = g.numel()
                ours_p = o["params"][offset:offset + size]
                checks.append(("grad.%s" % tname,
                               rel_diff(o["grad"][offset:offset + size], g.numpy().ravel())))
                checks.append(("param.%s" % tname, rel_diff(ours_p, p.numpy().ravel())))
                # the change the steps made, on its own scale: far more
                # sensitive to the optimiser's arithmetic than the weights
                checks.append(("update.%s" % tname,
                               rel_diff(ours_p - p0, p.numpy().ravel().astype(np.float64) - p0)))
                offset += size
        for tname, diff in checks:
            n += 1
            ok = diff <= TOL
            failed += not ok
            worst = max(worst, diff)
            print("%sok %d - %s %s: max rel diff %.2e" % ("" if ok else "not ", n, c["name"],
                                                        tname, diff))
    print("# %d tensors compared over %d cases, worst max rel diff %.2e, tolerance %.0e"
          % (n, len(CASES), worst, TOL))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
