"""One experiment for the code-snapshot benchmark: init(path=".") on a large project. Prints
the time init() took, as JSON."""

import json
import time

import keepsake

t = time.perf_counter()
experiment = keepsake.init(path=".", params={"bench": True})
took = time.perf_counter() - t
experiment.stop()
print(json.dumps({"init": took}))
