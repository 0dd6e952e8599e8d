"""Writes a Keepsake-layout repository of N experiments x M checkpoints directly (Keepsake's own
recording is far too slow for this), with Go's JSON layout, into <dir>/.keepsake, plus a
keepsake.yaml. Usage: gen_listing.py DIR N M"""

import json
import os
import random
import sys
from datetime import datetime, timedelta, timezone


def hexid(rng):
    return "%064x" % rng.getrandbits(256)


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def main():
    root, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rng = random.Random(42)
    repo = os.path.join(root, ".keepsake")
    meta = os.path.join(repo, "metadata", "experiments")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(root, "keepsake.yaml"), "w") as f:
        f.write('repository: "file://.keepsake"\n')
    with open(os.path.join(repo, "repository.json"), "w") as f:
        f.write('{"version":1}')
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(n):
        created = start + timedelta(minutes=i)
        checkpoints = []
        for j in range(m):
            checkpoints.append({
                "id": hexid(rng),
                "created": ts(created + timedelta(seconds=j + 1)),
                "metrics": {"accuracy": round(rng.random(), 6), "loss": round(rng.random(), 6)},
                "step": j,
                "path": "",
                "primary_metric": {"name": "accuracy", "goal": "maximize"},
            })
        exp = {
            "id": hexid(rng),
            "created": ts(created),
            "params": {"learning_rate": round(rng.choice([0.1, 0.01, 0.001]), 6), "batch_size": rng.choice([32, 64])},
            "host": "",
            "user": "bench",
            "config": {"repository": "file://" + os.path.abspath(repo), "storage": ""},
            "command": "train.py",
            "path": "",
            "python_version": "3.11.7",
            "python_packages": {"keepsake": "0.4.2"},
            "checkpoints": checkpoints or None,
            "keepsake_version": "0.4.2",
        }
        with open(os.path.join(meta, exp["id"] + ".json"), "w") as f:
            f.write(json.dumps(exp, indent=1))


if __name__ == "__main__":
    main()
