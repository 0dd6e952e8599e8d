"""One training run for the recording benchmark: N checkpoints of an M-MB float32 weight file.
Prints the time each checkpoint() call blocked, as JSON. Runs under either keepsake package."""

import json
import sys
import time

import numpy as np

import keepsake

n, mb = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
weights = rng.standard_normal(mb * 1024 * 1024 // 4).astype(np.float32)
experiment = keepsake.init(path="train.py", params={"checkpoints": n, "mb": mb})
blocked = []
for step in range(n):
    weights[: 1 << 16] += np.float32(0.001)  # training moved some weights
    weights.tofile("model.pth")
    t = time.perf_counter()
    experiment.checkpoint(path="model.pth", step=step, metrics={"loss": 1.0 / (step + 1)}, primary_metric=("loss", "minimize"))
    blocked.append(time.perf_counter() - t)
t = time.perf_counter()
if hasattr(experiment, "wait"):
    experiment.stop()
print(json.dumps({"blocked": blocked, "stop": time.perf_counter() - t}))
