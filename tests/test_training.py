"""What each training step changes, the Keras 3 trap it avoids, history, and resuming."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganutils.models import (
    RandomShift,
    build_combined,
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
    build_models,
)
from ganutils.training import GANTrainer, TrainConfig, epoch_history, save_history

BATCH = 8


def _values(variables):
    return [np.array(v) for v in variables]


def _changed(before, variables):
    """For each variable, whether its value differs from the snapshot `before`."""
    return [not np.array_equal(old, np.array(new)) for old, new in zip(before, variables)]


def _real_batch(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, BATCH).astype(np.int32)


@pytest.fixture(params=["gan", "cdcgan"])
def trainer(request):
    config = TrainConfig(family=request.param, batch_size=BATCH)
    if request.param == "gan":
        models = build_mlp_generator(hidden_units=(16,)), build_mlp_discriminator(hidden_units=(16,))
    else:
        models = build_dcgan_generator(num_classes=10, filters=(8, 4)), build_dcgan_discriminator(10, filters=(4, 8))
    return GANTrainer(*models, config)


def _labels(trainer, labels):
    return labels if trainer.conditional else None


def test_discriminator_step_changes_every_d_weight_and_no_g_weight(trainer):
    real, labels = _real_batch()
    for step in range(3):  # also after G steps have run, whichever step was traced first
        d_noise, g_noise = trainer.noise_for_step(BATCH)
        fake = trainer.generate(d_noise, _labels(trainer, labels))
        g_before, d_before = _values(trainer.generator.weights), _values(trainer.discriminator.trainable_weights)
        trainer.discriminator_step(real, fake, _labels(trainer, labels))
        assert all(_changed(d_before, trainer.discriminator.trainable_weights)), f"step {step}"
        assert not any(_changed(g_before, trainer.generator.weights)), f"step {step}"
        trainer.generator_step(g_noise, _labels(trainer, labels))


def test_generator_step_changes_g_weights_and_no_d_weight(trainer):
    real, labels = _real_batch()
    for step in range(3):
        trainer.train_step(real, _labels(trainer, labels))
        _, g_noise = trainer.noise_for_step(BATCH)
        g_before = _values(trainer.generator.trainable_weights)
        d_before = _values(trainer.discriminator.weights)  # weights, trainable or not; not dropout's RNG
        trainer.generator_step(g_noise, _labels(trainer, labels))
        assert all(_changed(g_before, trainer.generator.trainable_weights)), f"step {step}"
        assert not any(_changed(d_before, trainer.discriminator.weights)), f"step {step}"


def test_the_keras_2_idiom_trains_nothing_in_keras_3():
    """The trap GANTrainer avoids: D frozen once after compiling, then trained on its own."""
    generator, discriminator = build_mlp_generator(hidden_units=(16,)), build_mlp_discriminator(hidden_units=(16,))
    discriminator.compile("adam", "binary_crossentropy")
    discriminator.trainable = False
    build_combined(generator, discriminator).compile("adam", "binary_crossentropy")
    before = _values(discriminator.weights)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        discriminator.train_on_batch(_real_batch()[0], np.ones((BATCH, 1), np.float32))
    assert not any(_changed(before, discriminator.weights))
    assert any("does not have any trainable weights" in str(w.message) for w in caught)


def test_step_reports_this_batch_losses_not_a_running_mean():
    generator, discriminator = build_models("dcgan")
    trainer = GANTrainer(generator, discriminator, TrainConfig(batch_size=BATCH, label_smoothing=0.1))
    real, _ = _real_batch()
    trainer.train_step(real)  # a first step, so a running mean would differ from the batch value
    d_noise, _ = trainer.noise_for_step(BATCH)
    fake = trainer.generate(d_noise)
    shift_seeds = next(layer for layer in discriminator.layers if isinstance(layer, RandomShift)).seed_generator.state
    seed_state = shift_seeds.numpy()
    probabilities = discriminator(tf.concat([real, fake], 0), training=True).numpy()[:, 0]
    shift_seeds.assign(seed_state)  # so that D's step shifts the images as this call did
    logs = trainer.discriminator_step(real, fake)
    real_loss = keras.losses.binary_crossentropy(np.full((BATCH, 1), 0.9), probabilities[:BATCH, None]).numpy()
    fake_loss = keras.losses.binary_crossentropy(np.zeros((BATCH, 1)), probabilities[BATCH:, None]).numpy()
    assert logs["real_loss"] == pytest.approx(real_loss.mean(), rel=1e-4)
    assert logs["fake_loss"] == pytest.approx(fake_loss.mean(), rel=1e-4)
    assert logs["loss"] == pytest.approx((real_loss.mean() + fake_loss.mean()) / 2, rel=1e-4)
    assert logs["real_accuracy"] == pytest.approx(np.mean(probabilities[:BATCH] > 0.5))
    assert logs["fake_accuracy"] == pytest.approx(np.mean(probabilities[BATCH:] <= 0.5))


def test_fit_history_per_step_and_per_epoch(trainer, tmp_path):
    real, labels = _real_batch()
    images, all_labels = np.concatenate([real] * 3), np.concatenate([labels] * 3)  # 3 steps an epoch
    epochs_seen = []
    history = trainer.fit(images, all_labels, steps=7, verbose=0, on_epoch_end=lambda t, e: epochs_seen.append(e))
    assert [record["step"] for record in history] == list(range(1, 8))
    assert [record["epoch"] for record in history] == [1, 1, 1, 2, 2, 2, 3]
    assert epochs_seen == [1, 2, 3]
    per_epoch = epoch_history(history)
    assert [e["steps"] for e in per_epoch] == [3, 6, 7]
    assert per_epoch[0]["g_loss"] == pytest.approx(np.mean([r["g_loss"] for r in history[:3]]))
    save_history(history, tmp_path / "history.csv", tmp_path / "history.json")
    lines = (tmp_path / "history.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,d_loss,d_loss_real,d_loss_fake,g_loss,d_acc_real,d_acc_fake"
    assert len(lines) == 8


def test_fit_needs_one_length_and_labels_for_conditional_models(trainer):
    real, labels = _real_batch()
    with pytest.raises(ValueError, match="exactly one"):
        trainer.fit(real, labels, steps=1, epochs=1, verbose=0)
    if trainer.conditional:
        with pytest.raises(ValueError, match="needs labels"):
            trainer.fit(real, steps=1, verbose=0)


def test_weight_average_moves_towards_g_by_one_minus_the_decay(trainer):
    real, labels = _real_batch()
    for step in range(3):
        average_before = _values(trainer.ema_generator.weights)
        trainer.train_step(real, _labels(trainer, labels))
        decay = trainer.average_decay()  # the decay of the step just taken
        assert decay == pytest.approx(min(0.999, (1 + trainer.step) / (10 + trainer.step)))
        for before, value, average in zip(average_before, trainer.generator.weights, trainer.ema_generator.weights):
            np.testing.assert_allclose(np.array(average), decay * before + (1 - decay) * np.array(value), rtol=1e-5, atol=1e-7)
    assert any(_changed(_values(trainer.generator.weights), trainer.ema_generator.weights))
    assert trainer.sampling_generator is trainer.ema_generator
    trainer.step = 100_000
    assert trainer.average_decay() == trainer.config.ema_decay


def test_without_averaging_g_itself_is_sampled():
    generator, discriminator = build_mlp_generator(hidden_units=(16,)), build_mlp_discriminator(hidden_units=(16,))
    trainer = GANTrainer(generator, discriminator, TrainConfig(family="gan", batch_size=BATCH, ema_decay=0))
    trainer.train_step(_real_batch()[0])
    assert trainer.ema_generator is None and trainer.sampling_generator is generator


@pytest.mark.parametrize(
    "bad",
    [{"label_smoothing": 0.5}, {"batch_size": 0}, {"latent_dim": -1}, {"learning_rate": 0.0}, {"ema_decay": 1.0}],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


def test_learning_rate_defaults_to_the_family_and_can_be_set():
    assert TrainConfig(family="cdcgan").learning_rate == 1e-3
    assert TrainConfig(family="gan").learning_rate == 2e-4
    assert TrainConfig(family="dcgan", learning_rate=5e-4).learning_rate == 5e-4


def test_noise_is_fixed_by_seed_and_step(trainer):
    first, second = trainer.noise_for_step(4)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, trainer.noise_for_step(4)[0])
    trainer.step += 1
    assert not np.array_equal(first, trainer.noise_for_step(4)[0])


class Interrupted(Exception):
    pass


def _small_trainer(seed=0):
    keras.utils.set_random_seed(seed)
    generator = build_mlp_generator(latent_dim=8, hidden_units=(16,))
    discriminator = build_mlp_discriminator(hidden_units=(16,))  # has dropout: its RNG state is saved too
    return GANTrainer(generator, discriminator, TrainConfig(batch_size=BATCH, latent_dim=8))


def test_resume_after_interrupt_matches_an_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, (4 * BATCH, 28, 28, 1)).astype(np.float32)  # 4 steps an epoch
    checkpoint = tmp_path / "checkpoint.npz"

    uninterrupted = _small_trainer()
    uninterrupted.fit(images, steps=10, verbose=0)

    interrupted = _small_trainer()
    original_step = interrupted.train_step

    def step_then_fail(*args, **kwargs):
        if interrupted.step == 6:  # mid-way through epoch 2, after its checkpoint at step 4
            raise Interrupted
        return original_step(*args, **kwargs)

    interrupted.train_step = step_then_fail
    with pytest.raises(Interrupted):
        interrupted.fit(images, steps=10, verbose=0, on_epoch_end=lambda t, e: t.save_checkpoint(checkpoint))
    assert not list(tmp_path.glob(".*partial*"))

    assert interrupted.discriminator.trainable, "saving a checkpoint must not leave D frozen"
    resumed = _small_trainer(seed=99)  # different initial weights: all state must come from the file
    resumed.restore_checkpoint(checkpoint)
    assert resumed.discriminator.trainable
    assert resumed.step == 4 and len(resumed.history) == 4 and resumed.total_steps == 10
    resumed.fit(images, steps=10, verbose=0)
    assert [r["step"] for r in resumed.history] == list(range(1, 11))
    for model in ("generator", "discriminator", "ema_generator"):
        for expected, actual in zip(getattr(uninterrupted, model).variables, getattr(resumed, model).variables):
            np.testing.assert_allclose(np.array(actual), np.array(expected), rtol=1e-5, atol=1e-6)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose([r[key] for r in resumed.history], [r[key] for r in uninterrupted.history], rtol=1e-4)


def test_a_checkpoint_without_a_weight_average_starts_it_from_g(tmp_path):
    without = _small_trainer()
    without.ema_generator = without._update_average = None  # as trainers wrote checkpoints before averaging
    without.fit(np.zeros((BATCH, 28, 28, 1), np.float32), steps=2, verbose=0)
    without.save_checkpoint(tmp_path / "old.npz")
    resumed = _small_trainer(seed=99)
    resumed.restore_checkpoint(tmp_path / "old.npz")
    for expected, actual in zip(without.generator.weights, resumed.ema_generator.weights):
        np.testing.assert_array_equal(np.array(actual), np.array(expected))
