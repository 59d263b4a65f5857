"""Train the models of a command-models stage with PyTorch.

One model (per: model):  train.py --data DIR --out DIR --mask-file mask.npy --seed S
All models (per: once):  train.py --data DIR --out DIR --masks-file masks.npy --seeds R --seed S

Writes what docs/artifacts.md asks of a models artifact: margins_train.npy float32
[nTrain] and margins_test.npy float32 [nTest] per model (or [models, n] for per: once),
plus model.pt (the weights, for featurize.py) and fit.json (accuracies, shown in reports).
"""
import argparse
import json
import os

import numpy as np
import torch

from model import load_data, margins, mlp, threads


def fit(x, y, mask, hidden, classes, epochs, batch, lr, momentum, seed):
    rows = torch.from_numpy(np.flatnonzero(mask))
    net = mlp(x.shape[1], hidden, classes, seed)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    shuffle = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        order = rows[torch.randperm(len(rows), generator=shuffle)]
        for start in range(0, len(order), batch):
            b = order[start : start + batch]
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x[b]), y[b]).backward()
            opt.step()
    return net


def score(net, x, y):
    with torch.no_grad():
        logits = net(x)
    return margins(logits, y).numpy().astype(np.float32), float((logits.argmax(1) == y).float().mean())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--mask-file")
    p.add_argument("--masks-file")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--hidden", type=int, nargs="+", default=[32])
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    a = p.parse_args()
    threads()
    x, y, xt, yt, classes = load_data(a.data)
    train = lambda mask, seed: fit(x, y, mask, a.hidden, classes, a.epochs, a.batch, a.lr, a.momentum, seed)

    if a.mask_file:
        net = train(np.load(a.mask_file), a.seed)
        m_train, acc_train = score(net, x, y)
        m_test, acc_test = score(net, xt, yt)
        np.save(os.path.join(a.out, "margins_train.npy"), m_train)
        np.save(os.path.join(a.out, "margins_test.npy"), m_test)
        torch.save(net.state_dict(), os.path.join(a.out, "model.pt"))
        json.dump({"trainAccuracy": acc_train, "testAccuracy": acc_test, "hidden": a.hidden}, open(os.path.join(a.out, "fit.json"), "w"))
        print(f"test accuracy {acc_test:.3f}")
        return

    masks = np.load(a.masks_file)
    train_rows, test_rows = [], []
    for m in range(len(masks) * a.seeds):
        net = train(masks[m // a.seeds], a.seed + 7919 * m)
        train_rows.append(score(net, x, y)[0])
        test_rows.append(score(net, xt, yt)[0])
    np.save(os.path.join(a.out, "margins_train.npy"), np.stack(train_rows))
    np.save(os.path.join(a.out, "margins_test.npy"), np.stack(test_rows))
    print(f"trained {len(train_rows)} models")


if __name__ == "__main__":
    main()
