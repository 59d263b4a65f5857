"""numpy side of bench/kernels.ts: the same operations, timed, as one JSON line.

Run by bench/kernels.ts with /usr/bin/python3 (numpy + scipy); `--quick` for small sizes.
"""
import json
import os
import sys
import time

import numpy as np

quick = "--quick" in sys.argv
# CPU seconds by default (bench/kernels.ts runs this with one OpenBLAS thread), wall with --wall.
clock = time.perf_counter if "--wall" in sys.argv else time.process_time


def blas_name():
    """The BLAS library numpy actually loaded (Debian's libblas.so.3 is an alternative)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "lapack" in line.lower()}
        names = sorted({os.path.basename(os.path.realpath(p)) for p in libs if p.startswith("/")})
        real = [n for n in names if any(s in n for s in ("openblas", "mkl", "blis", "atlas"))]
        return ", ".join(real or [n for n in names if n.startswith("lib")]) or "unknown"
    except OSError:
        return "unknown"


def best(fn, reps=3):
    fn()
    times = []
    for _ in range(reps):
        t = clock()
        fn()
        times.append(clock() - t)
    return min(times)


rng = np.random.default_rng(0)
out = {"numpy": np.__version__, "cores": os.cpu_count()}
sizes = [256, 512] if quick else [512, 1024, 2048]
out["matmul"] = {}
for n in sizes:
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out["matmul"][str(n)] = 2 * n**3 / best(lambda: a @ b) / 1e9
m, kk, nn = (2000, 512, 128) if quick else (20000, 4096, 512)
a = rng.standard_normal((m, kk), dtype=np.float32)
b = rng.standard_normal((kk, nn), dtype=np.float32)
out["matmulTall"] = 2 * m * kk * nn / best(lambda: a @ b, reps=2) / 1e9
del a, b

n, k = (2000, 256) if quick else (20000, 2048)
x = rng.standard_normal((n, k), dtype=np.float32)
out["gram"] = best(lambda: x.T @ x, reps=2)
del x

k = 256 if quick else 2048
z = rng.standard_normal((k, k))
g = z @ z.T / k + np.eye(k)
import scipy.linalg as sl

out["cholesky"] = best(lambda: np.linalg.cholesky(g))
for rhs in [1, 512, k]:
    bb = rng.standard_normal((k, rhs))
    out[f"solve{rhs if rhs != k else 'K'}"] = best(lambda: sl.cho_solve(sl.cho_factor(g, lower=True), bb))
out["blas"] = blas_name()
print(json.dumps(out))
