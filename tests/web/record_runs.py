"""Records the dashboard tests' experiments with the keepsake package, in the current directory
(a git project made by fixtures/make-git-project.sh). Four runs with learning rates and a
hostile `note` param that must show as text; losses fall at a rate set by the learning rate.

Usage: python record_runs.py"""

import keepsake

HOSTILE = '<img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>'

RUNS = [
    {"lr": 0.01, "batch": 32, "note": "baseline"},
    {"lr": 0.1, "batch": 32, "note": HOSTILE},
    {"lr": 0.5, "batch": 64, "note": "big batch"},
    {"lr": 1.0, "batch": 64, "note": "fast"},
]

for i, params in enumerate(RUNS):
    exp = keepsake.init(path=".", params=params)
    loss = 1.0
    for step in range(5 + i):
        loss = loss * (1 - params["lr"] / 2.5)
        with open("weights.txt", "w") as f:
            f.write(f"weights lr={params['lr']} step={step}\n" * (step + 1))
        exp.checkpoint(
            path="weights.txt",
            step=step,
            metrics={"loss": round(loss, 6), "accuracy": round(1 - loss / 2, 6)},
            primary_metric=("loss", "minimize"),
        )
    exp.stop()
