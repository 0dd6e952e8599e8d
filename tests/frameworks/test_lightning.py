"""keepsake.pl_callback on Lightning 2 with torch, under `lightning` and under
`pytorch_lightning` (both installed at once, as pip leaves them)."""

import importlib

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import keepsake
from keepsake.exceptions import ConfigNotFound, InvalidArgument, KeepsakeWarning
from keepsake.pl_callback import KeepsakeCallback

from conftest import checkout, ls_json, only_experiment

PACKAGES = ["lightning.pytorch", "pytorch_lightning"]
EPOCHS = 3


def make_module(pl):
    class Regression(pl.LightningModule):
        def __init__(self, lr=0.05, hidden=8):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
            self.step_losses = {}  # epoch -> the training loss of each batch
            self.val_losses = {}  # epoch -> the epoch's validation loss, as Lightning aggregated it
            self.state_by_epoch = {}

        def training_step(self, batch, batch_idx):
            loss = torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.step_losses.setdefault(self.current_epoch, []).append(loss.item())
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            return loss

        def validation_step(self, batch, batch_idx):
            self.log("val_loss", torch.nn.functional.mse_loss(self.net(batch[0]), batch[1]))

        def on_validation_epoch_end(self):
            if not self.trainer.sanity_checking:
                self.val_losses[self.current_epoch] = self.trainer.callback_metrics["val_loss"].item()

        def on_train_epoch_end(self):
            # Logged after the callbacks' on_train_epoch_end: still this epoch's.
            self.log("epoch_times_ten", float(self.current_epoch * 10))
            self.state_by_epoch[self.current_epoch] = {k: v.clone() for k, v in self.state_dict().items()}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Regression


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x.sum(1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=16), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=16)


def train(pl, callback, epochs=EPOCHS, **trainer_kwargs):
    torch.manual_seed(0)
    module = make_module(pl)(lr=0.05)
    trainer = pl.Trainer(
        max_epochs=epochs, callbacks=[callback], logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **trainer_kwargs,
    )
    train_dl, val_dl = loaders()
    trainer.fit(module, train_dl, val_dl)
    return module, trainer


@pytest.fixture(params=PACKAGES)
def pl(request):
    return importlib.import_module(request.param)


def test_both_packages_trainers_accept_the_callback():
    import lightning.pytorch
    import pytorch_lightning

    cb = KeepsakeCallback.__mro__
    assert lightning.pytorch.Callback in cb and pytorch_lightning.Callback in cb


def test_a_checkpoint_per_epoch_with_epoch_aggregates_and_a_file_that_loads(pl, project, tmp_path):
    module, trainer = train(pl, KeepsakeCallback(params={"note": "tiny"}, primary_metric=("val_loss", "minimize")))

    row, exp = only_experiment()
    assert row["running"] is False
    params = exp["params"]
    assert params["note"] == "tiny" and params["lr"] == 0.05 and params["hidden"] == 8  # user's + hparams
    assert params["trainer"]["max_epochs"] == EPOCHS and params["trainer"]["accumulate_grad_batches"] == 1
    assert params["optimizer"]["name"] == "SGD" and params["optimizer"]["lr"] == 0.05
    assert params["batch_size"] == 16
    assert params["model"] == {"class": "Regression", "parameters": 49}

    checkpoints = exp["checkpoints"]
    assert [c["step"] for c in checkpoints] == list(range(EPOCHS))
    assert [c["path"] for c in checkpoints] == ["model.pth"] * EPOCHS
    for epoch, c in enumerate(checkpoints):
        m = c["metrics"]
        losses = module.step_losses[epoch]
        mean = sum(losses) / len(losses)  # equal batches: Lightning's weighted mean is the mean
        assert m["train_loss_epoch"] == pytest.approx(mean, rel=1e-6)
        assert m["train_loss"] == m["train_loss_epoch"]  # the epoch's value, not the last batch's
        assert m["train_loss_step"] == pytest.approx(losses[-1], rel=1e-6)
        assert m["val_loss"] == pytest.approx(module.val_losses[epoch], rel=1e-7)  # the same epoch's
        assert m["epoch_times_ten"] == epoch * 10  # logged in the module's on_train_epoch_end
        assert m["global_step"] == 4 * (epoch + 1)
        assert c["primary_metric"] == {"name": "val_loss", "goal": "minimize"}
    # The last epoch's values are what Lightning itself reports at the end.
    for key, value in trainer.logged_metrics.items():
        assert checkpoints[-1]["metrics"][key] == pytest.approx(float(value), rel=1e-7), key

    # Epoch 1's file checks out, and loads back with epoch 1's weights.
    out = checkout(checkpoints[1]["id"], tmp_path / "out")
    loaded = type(module).load_from_checkpoint(str(out / "model.pth"))
    assert loaded.hparams.lr == 0.05
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, module.state_by_epoch[1][k]), k
    assert torch.load(out / "model.pth", weights_only=False)["epoch"] == 1


def test_period_filepath_placeholders_and_weights_only(pl, project):
    train(pl, KeepsakeCallback(filepath="ckpt/epoch-{epoch}.ckpt", period=2, save_weights_only=True), epochs=4)
    _, exp = only_experiment()
    assert [c["step"] for c in exp["checkpoints"]] == [1, 3]
    assert [c["path"] for c in exp["checkpoints"]] == ["ckpt/epoch-1.ckpt", "ckpt/epoch-3.ckpt"]
    saved = torch.load(project / "ckpt/epoch-3.ckpt", weights_only=False)
    assert "state_dict" in saved and "optimizer_states" not in saved


def test_filepath_none_and_a_tensor_metric_of_several_elements(pl, project):
    class Vector(pl.Callback):
        def on_train_epoch_end(self, trainer, module):
            trainer.callback_metrics["histogram"] = torch.tensor([1.0, 2.0])

    torch.manual_seed(0)
    module = make_module(pl)()
    trainer = pl.Trainer(
        max_epochs=2, callbacks=[Vector(), KeepsakeCallback(filepath=None)], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )
    with pytest.warns(KeepsakeWarning, match=r"'histogram' is a tensor of shape \(2,\)"):
        trainer.fit(module, *loaders())
    _, exp = only_experiment()
    assert [c["path"] for c in exp["checkpoints"]] == ["", ""]  # Keepsake's "no files"
    assert all("histogram" not in c["metrics"] and "train_loss_epoch" in c["metrics"] for c in exp["checkpoints"])
    assert not (project / "model.pth").exists()


def test_a_run_that_fails_keeps_its_finished_epochs_and_is_stopped(pl, project):
    class Boom(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            if trainer.current_epoch == 2:
                raise RuntimeError("boom")

    torch.manual_seed(0)
    trainer = pl.Trainer(
        max_epochs=4, callbacks=[KeepsakeCallback(filepath=None), Boom()], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(make_module(pl)(), *loaders())
    row, exp = only_experiment()
    assert [c["step"] for c in exp["checkpoints"]] == [0, 1]
    assert row["running"] is False


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"primary_metric": ("val_loss", "min")}, "goal 'min'"),
        ({"primary_metric": ("val_loss",)}, r"primary_metric = \('val_loss',\)"),
        ({"period": 0}, "period = 0"),
        ({"period": 1.5}, "period = 1.5"),
        ({"filepath": ""}, "filepath is an empty string"),
        ({"filepath": "../model.pth"}, "not inside the project"),
        ({"filepath": "model-{epoch"}, "not a valid format string"),
        ({"params": "lr=0.1"}, "params must be a dict"),
    ],
)
def test_bad_arguments_fail_at_construction_and_leave_no_experiment(project, kwargs, message):
    with pytest.raises(InvalidArgument, match=message):
        KeepsakeCallback(**kwargs)
    assert ls_json() == []


def test_a_placeholder_naming_nothing_fails_at_the_first_save_and_leaves_no_experiment(project):
    import lightning.pytorch as pl

    with pytest.raises(InvalidArgument, match=r"placeholder \{val_loss\}"):
        train(pl, KeepsakeCallback(filepath="model-{val_loss}.pth"), epochs=1)
    assert ls_json() == []


def test_outside_a_project_fails_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigNotFound):
        KeepsakeCallback()


def test_lightning_1_hook_arguments_are_accepted(project):
    # Lightning 1.x called on_train_epoch_end(trainer, module, outputs): the hooks take them.
    import lightning.pytorch as pl

    class Lightning1Style(KeepsakeCallback):
        def on_train_epoch_end(self, trainer, pl_module):
            super().on_train_epoch_end(trainer, pl_module, [{"loss": torch.tensor(1.0)}])

    train(pl, Lightning1Style(filepath=None), epochs=2)
    _, exp = only_experiment()
    assert [c["step"] for c in exp["checkpoints"]] == [0, 1]
    assert keepsake.experiments.get(exp["id"]).checkpoints.step == [0, 1]
