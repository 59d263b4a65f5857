"""Per-example gradients of the margin, randomly projected, for attrib's trak stage.

featurize.py --data DIR --model-dir DIR --out DIR --model S --targets target_index.npy --dim K --proj-seed SEED

For every train example i and target x_j: g = ∇θ f(z; θ_s) over all weights and biases,
φ = Pᵀ g / √k with P ~ N(0, 1), seeded SEED + 10⁴·S (a different projection per model,
as MadryLab/trak and attrib's linearize do). Per-example gradients of an MLP come from
one backward pass: for each linear layer ∇W f = a ⊗ δ, with a the layer input and δ the
gradient at its output (computed for the whole batch at once, since the examples of a
batch do not interact). Writes train.npy [nTrain, k], targets.npy [nTargets, k] and
probs_train.npy [nTrain] = σ(f(z_i; θ_s)) into --out.
"""
import argparse
import json
import os

import numpy as np
import torch

from model import load_data, margins, mlp, threads


def per_example_grads(net, x, y):
    """[n, params]: ∇θ f(z_i) for each row, in the order of net.parameters() (W then b)."""
    inputs, outputs = [], []

    def tap(module, inp, out):
        inputs.append(inp[0].detach())
        outputs.append(out)
        out.retain_grad()

    hooks = [layer.register_forward_hook(tap) for layer in net if isinstance(layer, torch.nn.Linear)]
    f = margins(net(x), y)
    for h in hooks:
        h.remove()
    f.sum().backward()  # f_i depends only on row i, so the batch sum separates per row
    parts = []
    for a, o in zip(inputs, outputs):
        d = o.grad  # [n, out]
        parts += [torch.einsum("no,ni->noi", d, a).reshape(len(x), -1), d]  # W is [out, in]
    net.zero_grad()
    return torch.cat(parts, dim=1), f.detach()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--model", type=int, required=True)
    p.add_argument("--targets", required=True)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--proj-seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=250)
    a = p.parse_args()
    threads()
    x, y, xt, yt, classes = load_data(a.data)
    targets = torch.from_numpy(np.load(a.targets).astype(np.int64))
    fit = json.load(open(os.path.join(a.model_dir, "fit.json")))
    net = mlp(x.shape[1], fit["hidden"], classes, 0)
    net.load_state_dict(torch.load(os.path.join(a.model_dir, "model.pt")))

    n_params = sum(p.numel() for p in net.parameters())
    proj = torch.randn(n_params, a.dim, generator=torch.Generator().manual_seed(a.proj_seed + 10**4 * a.model)) / a.dim ** 0.5

    def features(xs, ys):
        phi, f = [], []
        for start in range(0, len(xs), a.batch):
            g, fb = per_example_grads(net, xs[start : start + a.batch], ys[start : start + a.batch])
            phi.append(g @ proj)
            f.append(fb)
        return torch.cat(phi).numpy().astype(np.float32), torch.cat(f)

    phi_train, f_train = features(x, y)
    phi_targets, _ = features(xt[targets], yt[targets])
    np.save(os.path.join(a.out, "train.npy"), phi_train)
    np.save(os.path.join(a.out, "targets.npy"), phi_targets)
    np.save(os.path.join(a.out, "probs_train.npy"), torch.sigmoid(f_train).numpy().astype(np.float32))
    print(f"model {a.model}: {n_params} parameters projected to {a.dim}")


if __name__ == "__main__":
    main()
