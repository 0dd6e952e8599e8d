"""A run that stays running for the dashboard's live-update test: records checkpoint 0, then one
more checkpoint each time the file named by argv[1] appears (it is removed to acknowledge),
until argv[2] appears; then stops. Usage: python running_run.py NEXT_FILE STOP_FILE"""

import os
import sys
import time

import keepsake

next_file, stop_file = sys.argv[1], sys.argv[2]
exp = keepsake.init(path=".", params={"lr": 0.2, "note": "live"})
step = 0
exp.checkpoint(step=step, metrics={"loss": 1.0}, primary_metric=("loss", "minimize"))
print(exp.id, flush=True)
deadline = time.time() + 120
while not os.path.exists(stop_file) and time.time() < deadline:
    if os.path.exists(next_file):
        step += 1
        exp.checkpoint(step=step, metrics={"loss": 1.0 / (step + 1)}, primary_metric=("loss", "minimize"))
        os.remove(next_file)
    time.sleep(0.1)
exp.stop()
