"""Checkpoints that cannot poison a run: crafted or older files are refused whole, NaN is never saved or trained on."""

import json

import keras
import numpy as np
import pytest
from gradients import numpy

from ganutils.config import TrainConfig
from ganutils.models import build_mlp_discriminator, build_mlp_generator
from ganutils import checkpoints
from ganutils.checkpoints import CheckpointError
from ganutils.divergence import DivergedError
from ganutils.training import GANTrainer

BATCH = 4


def _trainer(seed=0, **settings):
    keras.utils.set_random_seed(seed)
    generator, discriminator = build_mlp_generator(latent_dim=8, hidden_units=(8,)), build_mlp_discriminator(hidden_units=(8,))
    return GANTrainer(generator, discriminator, TrainConfig(family="gan", batch_size=BATCH, latent_dim=8, **settings))


@pytest.fixture
def checkpoint(tmp_path):
    trainer = _trainer()
    trainer.fit(np.zeros((2 * BATCH, 28, 28, 1), np.float32), steps=3, verbose=0)
    trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    return tmp_path / "checkpoint.npz"


def _rewrite(path, change_state=None, change_arrays=None):
    """Rewrite a checkpoint as a crafted or older file would be."""
    with np.load(path) as archive:
        arrays = dict(archive)
    state = json.loads(arrays["state"].tobytes())
    state = change_state(state) if change_state else state
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    np.savez(path, **(change_arrays(arrays) if change_arrays else arrays))


def _without(mapping, key):
    return {k: v for k, v in mapping.items() if k != key}


CRAFTED = {
    "an unknown setting": (
        dict(change_state=lambda s: {**s, "config": {**s["config"], "colour": "red"}}),
        "its config does not fit this version of ganutils (colour: is not a setting of this version of ganutils)"),
    "a value of the wrong type": (
        dict(change_state=lambda s: {**s, "config": {**s["config"], "batch_size": "4"}}),
        "its config does not fit this version of ganutils (batch_size: must be a whole number, got '4')"),
    "no family": (
        dict(change_state=lambda s: {**s, "config": _without(s["config"], "family")}),
        "its config does not fit this version of ganutils (family: is missing)"),
    "no total_steps": (dict(change_state=lambda s: _without(s, "total_steps")),
                       "its state's total_steps is missing or not a whole number"),
    "the state as a list": (dict(change_state=lambda s: list(s)), "not a ganutils checkpoint (its state is a list, not a dict)"),
    "format 2, without training seconds": (dict(change_state=lambda s: {**_without(s, "seconds"), "format": 2}),
                                           "checkpoint format 2, from another version of ganutils; this one resumes formats 3 and 4"),
    "a history shorter than its steps": (dict(change_state=lambda s: {**s, "history": s["history"][:1]}),
                                         "its history holds 1 steps, its step count 3"),
    "a missing weight": (dict(change_arrays=lambda a: _without(a, "generator/1")),
                         "its generator does not match this model (it lacks generator/1)"),
    "a weight of another shape": (dict(change_arrays=lambda a: {**a, "discriminator/0": np.zeros((3, 3), np.float32)}),
                                  "its discriminator/0 is float32 shaped (3, 3), this model's (784, 8)"),
    "a weight of text": (dict(change_arrays=lambda a: {**a, "generator/0": np.full(a["generator/0"].shape, "x")}),
                         "its array 'generator/0.npy' holds <U1, not numbers"),
    "an extra array": (dict(change_arrays=lambda a: {**a, "extra/0": np.zeros(3)}),
                       "its extra does not match this model (this model has no extra/0)"),
    "a data fingerprint of text": (dict(change_state=lambda s: {**s, "data": "mnist"}),
                                   "its state's data is not source, images, sha256"),
    "no state": (dict(change_arrays=lambda a: _without(a, "state")), "not a ganutils checkpoint (no state in it)"),
}


@pytest.mark.parametrize("how", CRAFTED)
def test_a_crafted_checkpoint_is_refused_whole_with_one_line(checkpoint, how):
    changes, message = CRAFTED[how]
    _rewrite(checkpoint, **changes)
    trainer = _trainer(seed=1)
    before = [numpy(v).copy() for v in trainer.gan.variables]
    with pytest.raises(CheckpointError) as refused:
        trainer.restore_checkpoint(checkpoint)
    assert str(refused.value) == f"{checkpoint}: {message}"
    assert all(np.array_equal(old, numpy(v)) for old, v in zip(before, trainer.gan.variables))  # nothing half-loaded
    assert trainer.step == 0


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(np.random.default_rng(0).bytes(3000))
    with pytest.raises(CheckpointError, match="checkpoint.npz: unreadable npz file"):
        _trainer().restore_checkpoint(tmp_path / "checkpoint.npz")


def test_an_array_declaring_more_than_the_bound_is_refused_before_it_is_read(checkpoint, monkeypatch):
    monkeypatch.setattr(checkpoints, "MAX_STATE_BYTES", 100)
    with pytest.raises(CheckpointError, match=r"its array 'state.npy' declares [\d,]+ bytes \(shape \(\d+,\)\), more than the 100"):
        _trainer(seed=1).restore_checkpoint(checkpoint)


def test_a_format_3_checkpoint_resumes_with_defaults_for_what_it_lacks(checkpoint):
    _rewrite(checkpoint, change_state=lambda s: {**_without(s, "data"), "format": 3,
                                                 "config": _without(s["config"], "ema_decay")})
    trainer = _trainer(seed=1)
    trainer.restore_checkpoint(checkpoint)
    assert trainer.step == 3 and trainer.data is None


def test_a_resumed_run_goes_on_with_its_halved_learning_rate(tmp_path):
    trainer = _trainer(learning_rate=1e-3, halflife=3)
    trainer.fit(np.zeros((2 * BATCH, 28, 28, 1), np.float32), steps=3, verbose=0)
    trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    resumed = _trainer(seed=1, learning_rate=1e-3, halflife=3)
    resumed.restore_checkpoint(tmp_path / "checkpoint.npz")
    assert float(numpy(resumed.gan.g_optimizer.learning_rate)) == pytest.approx(1e-3 / 2)


def test_a_checkpoint_from_before_the_shift_was_a_setting_resumes_with_the_shift_it_trained_with(checkpoint):
    _rewrite(checkpoint, change_state=lambda s: {**s, "config": _without(s["config"], "max_shift")})
    state = checkpoints.read_checkpoint_state(checkpoint)
    assert state["config"].max_shift == 0 and state["config"].family == "gan"
    trainer = _trainer(seed=1)
    trainer.restore_checkpoint(checkpoint)
    assert trainer.step == 3


def test_a_checkpoint_keeps_the_training_time_so_far(checkpoint):
    trainer = _trainer(seed=1)
    trainer.restore_checkpoint(checkpoint)
    assert trainer.seconds > 0 and trainer.last_checkpoint == (checkpoint, 3)


def test_a_nan_loss_stops_the_step_before_it_is_counted():
    trainer = _trainer()
    with pytest.raises(DivergedError, match="training stopped at step 1: d_loss is nan"):
        trainer.train_step(np.full((BATCH, 28, 28, 1), np.nan, np.float32))
    assert trainer.step == 0 and trainer.history == []


def test_nan_weights_are_never_saved(tmp_path):
    trainer = _trainer()
    weight = trainer.gan.average.variables[0]
    weight.assign(np.full(weight.shape, np.nan, np.float32))
    with pytest.raises(DivergedError, match="training stopped at step 0: average/0 holds NaN or infinity"):
        trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    assert list(tmp_path.iterdir()) == []
