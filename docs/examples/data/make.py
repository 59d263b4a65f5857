"""Makes the small example data sets the guides and `attrib init --data csv|npy` use.

    python3 docs/examples/data/make.py

shapes.csv: 300 rows, an id column, four numeric features and a string label (three
classes), as a researcher's own table would look. shapes_x.npy / shapes_y.npy: the same
examples as float32 [300, 4] and int64 [300] (numpy's default integer type), the way
`np.save` writes arrays exported from PyTorch or JAX.
"""
import csv
import os

import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
names = ["circle", "square", "triangle"]
centers = rng.normal(0.0, 2.0, size=(3, 4))
y = rng.integers(0, 3, size=300)
x = (centers[y] + rng.normal(0.0, 1.0, size=(300, 4))).astype(np.float32)

with open(os.path.join(here, "shapes.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "x1", "x2", "x3", "x4", "label"])
    for i in range(300):
        w.writerow([i + 1, *[f"{v:.4f}" for v in x[i]], names[y[i]]])

np.save(os.path.join(here, "shapes_x.npy"), x)
np.save(os.path.join(here, "shapes_y.npy"), y.astype(np.int64))
