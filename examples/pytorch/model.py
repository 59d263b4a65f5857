"""The network and the data, shared by train.py and featurize.py.

The MLP is attrib's `{kind: mlp, hidden: [H]}`: dense(H, relu), dense(classes), weights
W ~ N(0, gain²/fan_in) (gain √2 before a relu, else 1), biases 0, so the native pipeline
(native.yaml) trains the same architecture with the same recipe.
"""
import json
import os

import numpy as np
import torch
from torch import nn


def load_split(data_dir, split):
    """x float32 [n, features] (images flattened), y int64 [n] from an attrib dataset folder."""
    x = np.load(os.path.join(data_dir, f"x_{split}.npy"))
    y = np.load(os.path.join(data_dir, f"y_{split}.npy"))
    return torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y.astype(np.int64))


def load_data(data_dir):
    """Both splits and the number of classes of an attrib dataset folder."""
    x, y = load_split(data_dir, "train")
    xt, yt = load_split(data_dir, "test")
    classes = json.load(open(os.path.join(data_dir, "dataset.json")))["classes"]
    return x, y, xt, yt, classes


def mlp(features, hidden, classes, seed):
    g = torch.Generator().manual_seed(seed)
    layers, width = [], features
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    layers.append(nn.Linear(width, classes))
    net = nn.Sequential(*layers)
    with torch.no_grad():
        for i, layer in enumerate(net):
            if isinstance(layer, nn.Linear):
                gain = 2 ** 0.5 if i + 1 < len(net) else 1.0
                layer.weight.normal_(0, gain / layer.in_features ** 0.5, generator=g)
                layer.bias.zero_()
    return net


def margins(logits, y):
    """f(z) = logit_y − logsumexp_{y′≠y} logit_y′ (attrib's and TRAK's margin)."""
    correct = logits.gather(1, y[:, None])[:, 0]
    others = logits.scatter(1, y[:, None], float("-inf"))
    return correct - torch.logsumexp(others, dim=1)


def threads():
    # attrib runs --jobs units at once: one thread each keeps the cores from thrashing.
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
