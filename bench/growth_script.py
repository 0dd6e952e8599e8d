"""Checkpoint cost as checkpoints accumulate: N checkpoints without files (metrics only), as fast
as the loop can go. Prints the time until all of them are durably saved, as JSON. Runs under
either keepsake package."""

import json
import sys
import time

import keepsake

n = int(sys.argv[1])
experiment = keepsake.init(params={"checkpoints": n})
t = time.perf_counter()
for step in range(n):
    experiment.checkpoint(step=step, metrics={"loss": 1.0 / (step + 1), "accuracy": step / n}, primary_metric=("loss", "minimize"), quiet=True)
experiment.stop()
print(json.dumps({"seconds": time.perf_counter() - t}))
