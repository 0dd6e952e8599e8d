"""keepsake.hf_callback on transformers' Trainer with torch: a two-layer BERT built from a
config (nothing downloaded), synthetic data."""

import filecmp

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from keepsake.exceptions import ConfigNotFound, InvalidArgument
from keepsake.hf_callback import KeepsakeCallback

from conftest import checkout, ls_json, only_experiment


class Tokens(torch.utils.data.Dataset):
    def __init__(self, n, seed):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randint(1, 30, (n, 8), generator=g)
        self.y = (self.x[:, 0] > 15).long()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"input_ids": self.x[i], "attention_mask": torch.ones(8, dtype=torch.long), "labels": self.y[i]}


def tiny_bert():
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2,
    )
    return BertForSequenceClassification(config)


def accuracy(prediction):
    return {"accuracy": float((np.argmax(prediction.predictions, -1) == prediction.label_ids).mean())}


def trainer(callback, output_dir="out", **overrides):
    args = dict(
        output_dir=output_dir, num_train_epochs=2, per_device_train_batch_size=16, learning_rate=1e-3,
        eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
        metric_for_best_model="accuracy", report_to="none", use_cpu=True, disable_tqdm=True, seed=0,
    )
    args.update(overrides)
    return Trainer(
        model=tiny_bert(), args=TrainingArguments(**args), train_dataset=Tokens(64, 1),
        eval_dataset=Tokens(32, 2), compute_metrics=accuracy, callbacks=[callback],
    )


def test_a_checkpoint_per_save_with_the_trainer_directory_metrics_and_params(project, tmp_path):
    t = trainer(KeepsakeCallback(params={"note": "tiny"}))
    t.train()

    row, exp = only_experiment()
    assert row["running"] is False
    params = exp["params"]
    assert params["note"] == "tiny"
    assert params["learning_rate"] == 1e-3 and params["num_train_epochs"] == 2  # TrainingArguments
    assert params["per_device_train_batch_size"] == 16 and params["save_strategy"] == "epoch"
    assert params["hidden_size"] == 16 and params["num_hidden_layers"] == 2  # the model's config
    assert params["model_type"] == "bert"
    assert params["model_class"] == "BertForSequenceClassification"
    assert params["model_parameters"] == sum(p.numel() for p in t.model.parameters())

    checkpoints = exp["checkpoints"]
    assert [c["step"] for c in checkpoints] == [4, 8]  # 64 examples / 16 per step, two epochs
    assert [c["path"] for c in checkpoints] == ["out/checkpoint-4", "out/checkpoint-8"]
    # The metrics are what the Trainer logged up to each save: its training and evaluation logs.
    history = t.state.log_history
    for c in checkpoints:
        logged = {}
        for entry in history:
            if entry["step"] == c["step"] and "train_runtime" not in entry:
                logged.update({k: v for k, v in entry.items() if k != "step"})
        assert c["metrics"] == logged
        assert {"loss", "learning_rate", "epoch", "eval_loss", "eval_accuracy"} <= set(logged)
        assert c["primary_metric"] == {"name": "eval_accuracy", "goal": "maximize"}

    # The checked-out directory is the Trainer's, file for file, and loads back.
    out = checkout(checkpoints[0]["id"], tmp_path / "out")
    saved = project / "out/checkpoint-4"
    names = sorted(p.name for p in saved.iterdir())
    assert "config.json" in names and "model.safetensors" in names
    assert sorted(p.name for p in (out / "out/checkpoint-4").iterdir()) == names
    match, mismatch, errors = filecmp.cmpfiles(saved, out / "out/checkpoint-4", names, shallow=False)
    assert mismatch == [] and errors == []
    loaded = AutoModelForSequenceClassification.from_pretrained(out / "out/checkpoint-4")
    reference = AutoModelForSequenceClassification.from_pretrained(saved)
    for (k, v), (k2, v2) in zip(loaded.state_dict().items(), reference.state_dict().items()):
        assert k == k2 and torch.equal(v, v2), k


def test_greater_is_better_false_and_an_explicit_primary_metric(project):
    trainer(KeepsakeCallback(), metric_for_best_model="eval_loss", greater_is_better=False, num_train_epochs=1).train()
    trainer(KeepsakeCallback(primary_metric=("loss", "minimize")), num_train_epochs=1).train()
    listed = sorted(ls_json(), key=lambda r: r["created"])
    assert [r["latest_checkpoint"]["primary_metric"] for r in listed] == [
        {"name": "eval_loss", "goal": "minimize"},
        {"name": "loss", "goal": "minimize"},
    ]


def test_a_trainer_that_never_saves_gets_one_checkpoint_without_files(project):
    t = trainer(KeepsakeCallback(), save_strategy="no", metric_for_best_model=None, num_train_epochs=2)
    t.train()
    _, exp = only_experiment()
    (c,) = exp["checkpoints"]
    assert c["path"] == "" and c["step"] == 8  # Keepsake's "no files"
    assert c["metrics"]["eval_accuracy"] == t.state.log_history[-2]["eval_accuracy"]
    assert "train_loss" in c["metrics"]  # the Trainer's summary, logged after the last epoch
    assert list((project / "out").glob("checkpoint-*")) == []


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_metric": ("eval_accuracy", "best")}, "goal 'best'"),
        ({"primary_metric": ["eval_accuracy"]}, r"primary_metric = \['eval_accuracy'\]"),
        ({"params": 3}, "params must be a dict"),
    ],
)
def test_bad_arguments_fail_at_construction_and_leave_no_experiment(project, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        KeepsakeCallback(**kwargs)
    assert ls_json() == []


def test_an_output_dir_outside_the_project_fails_when_the_trainer_is_built(project, tmp_path):
    with pytest.raises(InvalidArgument, match="TrainingArguments.output_dir = .* is not inside the project"):
        trainer(KeepsakeCallback(), output_dir=str(tmp_path / "elsewhere"))
    assert ls_json() == []


def test_outside_a_project_fails_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigNotFound):
        KeepsakeCallback()
