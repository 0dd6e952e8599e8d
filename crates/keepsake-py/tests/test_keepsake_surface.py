"""Keepsake 0.4.2's Python surface: each snippet runs under this package and, where it describes
Keepsake's behaviour, under the real Keepsake 0.4.2 too ($KEEPSAKE_VENV), so the test shows both
agree. A snippet prints one JSON document as its last line of stdout."""

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import require_env, run_python

PRELUDE = """
import json, os, sys, datetime
import keepsake
from keepsake.exceptions import DoesNotExist
def out(v):
    print(json.dumps(v, sort_keys=True, default=str))
"""


def keepsake_python():
    return str(Path(require_env("KEEPSAKE_VENV")) / "bin/python")


def run_in(tmp_path, name, code, python=None, env=None):
    """Runs `code` in a new storage-only project (keepsake.yaml, no git) and returns its JSON."""
    d = tmp_path / name
    d.mkdir()
    (d / "keepsake.yaml").write_text("repository: file://.keepsake\n")
    proc = run_python(PRELUDE + textwrap.dedent(code), cwd=d, python=python, env=env, timeout=300)
    assert proc.returncode == 0, f"{name}:\n{proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc


def both(tmp_path, code, env=None):
    ours, _ = run_in(tmp_path, "ours", code, env=env)
    theirs, _ = run_in(tmp_path, "theirs", code, python=keepsake_python(), env=env)
    return ours, theirs


DOES_NOT_EXIST = """
e = keepsake.init(params={"lr": 0.1})
c = e.checkpoint(metrics={"loss": 1.0}, quiet=True)
e.stop()
result = {}
for prefix in ["nosuch", "ffffffffff"]:
    try:
        keepsake.experiments.get(prefix)
        result[prefix] = "found"
    except DoesNotExist as exc:
        result[prefix] = "DoesNotExist"
        if isinstance(exc, ValueError):
            result[prefix + " ValueError"] = True
got = keepsake.experiments.get(e.id)
try:
    got.checkpoints[0].checkout("out")
    result["checkout"] = "ok"
except DoesNotExist as exc:
    result["checkout"] = "DoesNotExist"
    result["message"] = str(exc)
out(result)
"""


def test_unknown_ids_and_a_checkout_without_files_raise_does_not_exist(tmp_path):
    ours, theirs = both(tmp_path, DOES_NOT_EXIST)
    for r in (ours, theirs):
        assert r["nosuch"] == r["ffffffffff"] == r["checkout"] == "DoesNotExist"
        assert "have any files associated with them" in r["message"]
        assert "'path' argument to 'init()' or 'checkpoint()'" in r["message"]
    # Ours is also a bad argument (InvalidArgument is a ValueError): older `except` clauses hold.
    assert ours.get("nosuch ValueError") and not theirs.get("nosuch ValueError")
    assert "experiment experiment" not in ours["message"]


PROJECT_MODULE = """
from keepsake.project import init, Project, ProjectSpec, Experiment, ExperimentCollection
e = init(params={"lr": 0.5})
e.stop()
listed = Project().experiments.list()
spec = ProjectSpec.from_json({"version": 1})
out({"params": [x.params for x in listed], "types": [type(x).__name__ for x in listed],
     "spec": [spec.version, json.loads(spec.to_json())], "same": isinstance(listed[0], Experiment),
     "collection": isinstance(Project().experiments, ExperimentCollection)})
"""


def test_keepsake_project_module_has_keepsakes_names(tmp_path):
    ours, theirs = both(tmp_path, PROJECT_MODULE)
    assert ours == theirs
    assert ours["params"] == [{"lr": 0.5}] and ours["same"] and ours["collection"]


PLOT = """
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for lr in (0.1, 0.2):
    e = keepsake.init(params={"lr": lr})
    for i in range(3):
        e.checkpoint(metrics={"loss": 1.0 / (i + 1), "acc": i * lr}, primary_metric=("loss", "minimize"), quiet=True)
    e.stop()
exps = keepsake.experiments.list()
states = []
def state(tag):
    ax = plt.gca()
    states.append([tag, len(ax.lines), ax.get_ylabel(), [list(map(float, l.get_ydata())) for l in ax.lines]])
exps.plot(); state("list.plot()")
exps.plot(metric="acc"); state("list.plot(acc)")
exps.plot(); state("list.plot() again")
exps[0].plot(); state("exp.plot()")
exps[0].checkpoints.plot("acc"); state("checkpoints.plot(acc)")
out({"states": states, "figures": len(plt.get_fignums())})
"""


def test_plot_draws_each_list_plot_afresh(tmp_path):
    ours, theirs = both(tmp_path, PLOT)
    # What is drawn where the user looks (the current axes) is the same after every call:
    # ExperimentList.plot() starts afresh with its own lines only; Experiment.plot() and
    # CheckpointList.plot() add to the current axes, so a loop of them overlays experiments.
    assert ours["states"] == theirs["states"]
    assert [s[1] for s in ours["states"]] == [2, 2, 2, 3, 4]
    assert [s[2] for s in ours["states"]] == ["loss", "acc", "loss", "loss", "acc"]
    # Ours opens a figure per ExperimentList.plot() (Keepsake stacked new axes in one figure).
    assert ours["figures"] == 3


REPR_HTML = """
import html.parser
for i, lr in enumerate([0.1, 0.2]):
    e = keepsake.init(params={"lr": lr, "name": "<b>&" + str(i)})
    e.checkpoint(metrics={"loss": 0.5 - i / 10}, primary_metric=("loss", "minimize"), quiet=True)
    e.checkpoint(metrics={"loss": 0.9}, primary_metric=("loss", "minimize"), quiet=True)
    e.stop()
exps = keepsake.experiments.list()
text = exps._repr_html_()
rows = []
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            rows.append([])
    def handle_data(self, data):
        rows[-1].append(data)
P().feed(text)
out({"rows": rows, "raw_escaped": "&lt;b&gt;&amp;0" in text and "<b>&" not in text,
     "ids": [e.short_id() for e in exps], "best": [e.best().short_id() for e in exps],
     "latest": [e.latest().short_id() for e in exps], "one": "params:" in exps[0]._repr_html_()})
"""


def test_experiment_list_repr_html_has_keepsakes_columns_escaped(tmp_path):
    ours, theirs = both(tmp_path, REPR_HTML)
    for r in (ours, theirs):
        head, *rows = r["rows"]
        assert head == ["id", "created", "params", "latest_checkpoint", "best_checkpoint"]
        assert r["raw_escaped"] and r["one"]
        for row, i, best, latest in zip(rows, r["ids"], r["best"], r["latest"]):
            assert row[0] == i and row[1]  # created: a local datetime in Keepsake, UTC here
            assert row[3] == f"{latest} (step 1; loss: 0.9)"
            assert row[4] == f"{best} (step 0; loss: {0.5 if row is rows[0] else 0.4})"
    # Same params cell (Python's dict repr, keys in either order) in both.
    import ast
    params = lambda r: [ast.literal_eval(row[2]) for row in r["rows"][1:]]
    assert params(ours) == params(theirs) == [{"lr": 0.1, "name": "<b>&0"}, {"lr": 0.2, "name": "<b>&1"}]


CONSTRUCT = """
from keepsake.checkpoint import Checkpoint, CheckpointList
from keepsake.experiment import Experiment
t = datetime.datetime(2020, 10, 7, 22, 44, 6)
cs = CheckpointList([
    Checkpoint(id="a" * 64, created=t, path="model.pth", step=0, metrics={"loss": 0.5, "acc": 0.1},
               primary_metric={"name": "loss", "goal": "minimize"}),
    Checkpoint(id="b" * 64, created=t, step=1, metrics={"loss": 0.2},
               primary_metric={"name": "loss", "goal": "minimize"}),
    Checkpoint(id="c" * 64, created=t, step=2, metrics={"loss": 0.3, "acc": 0.3},
               primary_metric={"name": "loss", "goal": "minimize"}),
])
e = Experiment(None, id="d" * 64, created=t, params={"lr": 0.1}, checkpoints=cs)
c = cs[0]
out({"fields": [c.id, str(c.created), c.path, c.step, c.metrics, c.primary_metric],
     "no_path": cs[1].path, "acc": cs.metrics["acc"], "step": cs.step, "pm": cs.primary_metric(),
     "slice": [type(cs[1:]).__name__, len(cs[1:])], "eq": cs[0] == Checkpoint(id="a" * 64, created=t,
     path="model.pth", step=0, metrics={"loss": 0.5, "acc": 0.1}, primary_metric={"name": "loss", "goal": "minimize"}),
     "ne": cs[0] == cs[1], "exp": [e.short_id(), e.params, str(e.created), len(e.checkpoints)],
     "best": e.best().step, "latest": e.latest().step, "duration": str(e.duration),
     "short": c.short_id()})
"""


def test_checkpoint_and_experiment_from_keepsakes_keyword_fields(tmp_path):
    ours, theirs = both(tmp_path, CONSTRUCT)
    assert ours == theirs
    assert ours["best"] == 1 and ours["acc"] == [0.1, None, 0.3] and ours["slice"] == ["CheckpointList", 2]


def fake_distributions(site):
    """Two installed distributions on a path of their own: one imported under another name
    (as scikit-learn is imported as sklearn), one under its own."""
    for dist, module, version in [("sk-fake-learn", "skfakelearn", "1.2.3"), ("samename", "samename", "4.5.6")]:
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        (info / "top_level.txt").write_text(module + "\n")
        (site / module).mkdir()
        (site / module / "__init__.py").write_text("")
        (info / "RECORD").write_text(f"{module}/__init__.py,,\n{info.name}/METADATA,,\n")


PACKAGES = """
import skfakelearn, samename
e = keepsake.init(params={"lr": 0.1})
e.stop()
out(dict(keepsake.experiments.get(e.id).python_packages))
"""


def test_packages_are_recorded_by_distribution_name(tmp_path):
    site = tmp_path / "site"
    fake_distributions(site)
    ours, theirs = both(tmp_path, PACKAGES, env={"PYTHONPATH": str(site)})
    assert ours["samename"] == theirs["samename"] == "4.5.6"
    assert ours["keepsake"]
    # Keepsake 0.4.2 matched distribution names against module names, and missed this one.
    assert ours["sk-fake-learn"] == "1.2.3" and "sk-fake-learn" not in theirs


FILTERS = """
from keepsake.exceptions import InvalidArgument
for lr in (0.001, 0.01, 0.1):
    e = keepsake.init(params={"lr": lr, "opt": {"name": "adam"}})
    e.checkpoint(metrics={"loss": lr * 10}, primary_metric=("loss", "minimize"), quiet=True)
    e.stop()
ex = keepsake.experiments
lrs = lambda items: [x.params["lr"] for x in items]
result = {"gt": lrs(ex.list(filter="lr > 0.005")), "metric": lrs(ex.list(filter="loss <= 0.1")),
          "nested": lrs(ex.list(filter="opt.name = adam")), "callable": lrs(ex.list(filter=lambda x: x.params["lr"] < 0.05))}
for bad in ["lr2 > 1", "lr >> 1", "nothing_like_it = 1"]:
    try:
        ex.list(filter=bad)
    except InvalidArgument as exc:
        result[bad] = str(exc)
out(result)
"""


def test_string_filters_use_the_clis_grammar_and_suggest_names(tmp_path):
    ours, _ = run_in(tmp_path, "ours", FILTERS)
    assert ours["gt"] == [0.01, 0.1]
    assert ours["metric"] == [0.001, 0.01]
    assert ours["nested"] == [0.001, 0.01, 0.1]
    assert ours["callable"] == [0.001, 0.01]
    assert "`lr2`" in ours["lr2 > 1"] and "did you mean `lr`" in ours["lr2 > 1"].lower()
    assert "lr >> 1" in ours["lr >> 1"]
    assert "did you mean" not in ours["nothing_like_it = 1"].lower()


def test_callable_filters_agree_with_keepsake(tmp_path):
    code = """
    for lr in (0.001, 0.1):
        keepsake.init(params={"lr": lr}).stop()
    out([x.params["lr"] for x in keepsake.experiments.list(filter=lambda x: x.params["lr"] > 0.01)])
    """
    ours, theirs = both(tmp_path, code)
    assert ours == theirs == [0.1]


def test_a_missing_s3_bucket_is_created_at_the_first_write_in_its_region(tmp_path):
    """Keepsake 0.4.2 created a missing bucket (region AWS_DEFAULT_REGION, else us-east-1; SPEC
    §3.3). Its Go daemon cannot be pointed at the local S3 server, so this one runs ours only."""
    import urllib.request
    import uuid

    endpoint = require_env("KEEPSAKE_TEST_S3_ENDPOINT")
    bucket = f"keepsake-py-{uuid.uuid4().hex[:8]}"
    d = tmp_path / "s3"
    d.mkdir()
    (d / "keepsake.yaml").write_text(f"repository: s3://{bucket}/runs\n")
    (d / "model.pth").write_bytes(os.urandom(1 << 16))
    env = {"AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT": endpoint}

    def buckets():
        with urllib.request.urlopen(endpoint + "/") as r:
            return r.read().decode()

    read = run_python(PRELUDE + "keepsake.experiments.list()", cwd=d, env=env, timeout=120)
    assert read.returncode != 0 and "StorageError" in read.stderr and bucket in read.stderr, read.stderr
    assert bucket not in buckets()

    proc = run_python(PRELUDE + textwrap.dedent("""
        e = keepsake.init(path="model.pth", params={"lr": 0.1})
        c = e.checkpoint(path="model.pth", metrics={"loss": 0.5}, quiet=True)
        e.stop()
        got = keepsake.experiments.get(e.id)
        out([got.params, len(got.checkpoints), got.checkpoints[0].open("model.pth").read() == open("model.pth", "rb").read()])
    """), cwd=d, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == [{"lr": 0.1}, 1, True]
    assert bucket in buckets()
    with urllib.request.urlopen(f"{endpoint}/{bucket}?location") as r:
        assert "eu-west-1" in r.read().decode()


TEMPDIR_TRAINING = """
import glob, subprocess, tempfile
with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    if GIT:
        subprocess.run(["bash", MAKE_GIT_PROJECT, d], check=True)
    open("keepsake.yaml", "w").write("repository: file://.keepsake\\n")
    e = keepsake.init(path="keepsake.yaml", params={"lr": 0.1})
    ids, seen = [], []
    for step in range(5):
        open("model.pth", "wb").write(os.urandom(1 << 20))
        c = e.checkpoint(path="model.pth", step=step, metrics={"loss": 1.0 / (step + 1)})
        ids.append(c.id)
        # Right when checkpoint() returns, the store has its files and its record.
        seen.append(os.path.isfile(f".keepsake/checkpoints/{c.id}.tar.gz"))
    record = json.load(open(f".keepsake/metadata/experiments/{e.id}.json"))
    listed = [c.id for c in keepsake.experiments.get(e.id).checkpoints]
    os.chdir("/")
out({"seen": seen, "recorded": [c["id"] for c in record["checkpoints"]] == ids, "listed": listed == ids})
"""


@pytest.mark.parametrize("git", [False, True], ids=["storage-only", "git"])
def test_a_training_run_in_a_temporary_directory_is_written_when_checkpoint_returns(tmp_path, git):
    from conftest import ROOT

    code = f"GIT = {git!r}\nMAKE_GIT_PROJECT = {str(ROOT / 'fixtures/make-git-project.sh')!r}\n" + TEMPDIR_TRAINING
    result, proc = run_in(tmp_path, "ours", code)
    assert result == {"seen": [True] * 5, "recorded": True, "listed": True}
    # The directory was removed with the experiment still open: the exit has nothing left to
    # write there, so it reports nothing.
    assert "warning" not in proc.stderr and "NOT saved" not in proc.stderr, proc.stderr
    assert "saved 'model.pth'" in proc.stderr and "in the background" not in proc.stderr
