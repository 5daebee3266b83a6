"""What each training step changes, the Keras 3 trap it avoids, history, and resuming."""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganutils.models import (
    build_combined,
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
    build_models,
)
from ganutils.training import FusedAdam, GANStep, GANTrainer, TrainConfig, epoch_history, save_history

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


def _twin_trainers(family, step_class=GANStep):
    """Two trainers with the same weights and random states: one to step (with `step_class`), one to compute the step's maths."""
    twins = []
    for _ in range(2):
        keras.utils.set_random_seed(0)
        if family == "gan":
            models = build_mlp_generator(hidden_units=(16,)), build_mlp_discriminator(hidden_units=(16,))  # D has dropout
        else:
            models = build_models(family)  # the DCGAN's D shifts its inputs at random
        trainer_class = type("StepTrainer", (GANTrainer,), {"step_class": step_class})
        twins.append(trainer_class(*models, TrainConfig(family=family, batch_size=BATCH)))
    return twins


def _forward(trainer, real, labels):
    """What one step computes before its updates: D's verdicts on real images and on fakes, in the same order."""
    inputs = lambda main: [tf.convert_to_tensor(main), tf.convert_to_tensor(labels)] if trainer.conditional else main
    fake = trainer.generator(inputs(trainer.noise_for_step(BATCH)), training=True)
    return trainer.discriminator(inputs(real), training=True), trainer.discriminator(inputs(fake), training=True)


def test_one_step_changes_every_weight_of_both_players(trainer):
    real, labels = _real_batch()
    for step in range(3):
        g_before, d_before = _values(trainer.generator.trainable_weights), _values(trainer.discriminator.trainable_weights)
        trainer.train_step(real, _labels(trainer, labels))
        assert all(_changed(d_before, trainer.discriminator.trainable_weights)), f"step {step}"
        assert all(_changed(g_before, trainer.generator.trainable_weights)), f"step {step}"


def _cross_entropy(target, scores):
    return keras.ops.mean(keras.losses.binary_crossentropy(keras.ops.full_like(scores, target), scores))


def _assert_adam_first_step(learning_rate, before, variables, gradients):
    """Adam's first step moves each weight by about the learning rate, against the sign of its gradient."""
    epsilon = 1e-7 / np.sqrt(1 - 0.999)  # Keras' default epsilon, over the bias correction of beta_2
    for old, new, gradient in zip(before, variables, gradients):
        if isinstance(gradient, tf.IndexedSlices):
            continue  # an embedding's: Adam squares each looked-up row's part separately, so steps differ
        gradient = gradient.numpy()
        expected = -learning_rate * gradient / (np.abs(gradient) + epsilon)
        np.testing.assert_allclose(np.array(new) - old, expected, rtol=0.01, atol=0.01 * learning_rate)


def _gradients_of_own_losses(trainer, real, labels):
    """Each player's gradient of its own loss, the textbook way: two passes back through D, as TF's tutorial does."""
    with tf.GradientTape(persistent=True) as tape:
        real_scores, fake_scores = _forward(trainer, real, labels)
        d_loss = (_cross_entropy(0.9, real_scores) + _cross_entropy(0.0, fake_scores)) / 2
        g_loss = _cross_entropy(1.0, fake_scores)  # non-saturating, through D as it was before its update
    return tape.gradient(d_loss, trainer.discriminator.trainable_variables), tape.gradient(
        g_loss, trainer.generator.trainable_variables
    )


def _step_gradients(trainer, real, labels):
    """D's and G's gradients from `GANStep.gradients` for this batch and the trainer's next noise."""
    labels = np.zeros(BATCH, np.int32) if labels is None else labels  # the step always takes a label tensor
    noise = tf.constant(trainer.noise_for_step(BATCH))
    d_gradients, g_gradients, _ = trainer.gan_step.gradients(tf.constant(real), tf.constant(labels), noise)
    return d_gradients, g_gradients


def _assert_same_gradients(gradients, expected):
    for gradient, want in zip(gradients, expected):
        gradient, want = tf.convert_to_tensor(gradient).numpy(), tf.convert_to_tensor(want).numpy()
        np.testing.assert_allclose(gradient, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("family", ["gan", "cgan", "dcgan", "cdcgan"])
def test_one_pass_back_through_d_gives_both_players_the_gradients_of_their_own_losses(family):
    trainer, twin = _twin_trainers(family)
    real, labels = _real_batch()
    labels = _labels(trainer, labels)
    expected_d, expected_g = _gradients_of_own_losses(twin, real, labels)
    d_gradients, g_gradients = _step_gradients(trainer, real, labels)
    _assert_same_gradients(d_gradients + g_gradients, expected_d + expected_g)


class _MinimaxStep(GANStep):
    def generator_weighting(self, fake_scores):
        return -2.0 * keras.ops.ones_like(fake_scores)


def test_a_step_class_with_a_constant_weighting_trains_g_on_the_minimax_loss():
    trainer, twin = _twin_trainers("gan", step_class=_MinimaxStep)
    real, labels = _real_batch()
    with tf.GradientTape() as tape:
        _, fake_scores = _forward(twin, real, None)
        minimax_loss = -_cross_entropy(0.0, fake_scores)  # the mean of log(1 - D(G(z)))
    expected = tape.gradient(minimax_loss, twin.generator.trainable_variables)
    _assert_same_gradients(_step_gradients(trainer, real, None)[1], expected)


def test_generator_weighting_turns_d_gradient_into_the_non_saturating_one():
    step = _twin_trainers("gan")[0].gan_step
    scores = np.array([[1e-6], [0.1], [0.5], [0.9], [1 - 1e-6]], np.float32)
    d_loss_slope = scores / 2  # d/ds of -log(1 - D)/2, with D = sigmoid(s)
    g_loss_slope = -(1 - scores)  # d/ds of -log D
    np.testing.assert_allclose(step.generator_weighting(tf.constant(scores)) * d_loss_slope, g_loss_slope, rtol=1e-5)


@pytest.mark.parametrize("family", ["gan", "dcgan", "cdcgan"])
def test_each_player_steps_down_the_gradient_of_its_own_loss(family):
    trainer, twin = _twin_trainers(family)
    real, labels = _real_batch()
    labels = _labels(trainer, labels)
    d_gradients, g_gradients = _gradients_of_own_losses(twin, real, labels)
    d_before, g_before = _values(trainer.discriminator.trainable_variables), _values(trainer.generator.trainable_variables)
    trainer.train_step(real, labels)
    rate = trainer.config.learning_rate
    _assert_adam_first_step(rate, d_before, trainer.discriminator.trainable_variables, d_gradients)
    _assert_adam_first_step(rate, g_before, trainer.generator.trainable_variables, g_gradients)


def test_fused_adam_updates_as_keras_adam_does():
    shapes = [(3, 4), (5,)]
    rng = np.random.default_rng(0)
    start = [rng.standard_normal(shape).astype(np.float32) for shape in shapes]
    runs = []
    for optimizer in (keras.optimizers.Adam(1e-3, beta_1=0.5), FusedAdam(1e-3, beta_1=0.5)):
        variables = [keras.Variable(value) for value in start]
        gradient_rng = np.random.default_rng(1)
        for _ in range(20):
            scale = 10.0 ** gradient_rng.integers(-6, 1)  # tiny gradients too, where epsilon matters
            optimizer.apply_gradients([(gradient_rng.standard_normal(v.shape).astype(np.float32) * scale, v) for v in variables])
        runs.append(_values(variables))
    for keras_result, fused_result, initial in zip(*runs, start):
        assert not np.allclose(keras_result, initial)
        np.testing.assert_allclose(fused_result, keras_result, rtol=1e-5, atol=1e-7)


def test_the_keras_2_idiom_trains_nothing_in_keras_3():
    """The trap that training both players in one model avoids: D frozen once after compiling, then trained on its own."""
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


@pytest.mark.parametrize("family", ["dcgan", "cdcgan"])
def test_step_reports_this_batch_losses_not_a_running_mean(family):
    trainer, twin = _twin_trainers(family)
    real, labels = _real_batch()
    labels = _labels(trainer, labels)
    for each in (trainer, twin):
        each.train_step(real[::-1], labels)  # a first step, so a running mean would differ from the batch value
    real_scores, fake_scores = (scores.numpy() for scores in _forward(twin, real, labels))
    record = trainer.train_step(real, labels)
    real_loss, fake_loss = float(_cross_entropy(0.9, real_scores)), float(_cross_entropy(0.0, fake_scores))
    g_loss = float(_cross_entropy(1.0, fake_scores))
    assert record["d_loss_real"] == pytest.approx(real_loss, rel=1e-4)
    assert record["d_loss_fake"] == pytest.approx(fake_loss, rel=1e-4)
    assert record["d_loss"] == pytest.approx((real_loss + fake_loss) / 2, rel=1e-4)
    assert record["g_loss"] == pytest.approx(g_loss, rel=1e-4)
    assert record["d_acc_real"] == pytest.approx(np.mean(real_scores > 0.5))
    assert record["d_acc_fake"] == pytest.approx(np.mean(fake_scores <= 0.5))


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
    first = trainer.noise_for_step(4)
    np.testing.assert_array_equal(first, trainer.noise_for_step(4))
    trainer.step += 1
    assert not np.array_equal(first, trainer.noise_for_step(4))


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

    resumed = _small_trainer(seed=99)  # different initial weights: all state must come from the file
    resumed.restore_checkpoint(checkpoint)
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
    without.ema_generator = without.gan_step.average = None  # as trainers wrote checkpoints before averaging
    without.fit(np.zeros((BATCH, 28, 28, 1), np.float32), steps=2, verbose=0)
    without.save_checkpoint(tmp_path / "old.npz")
    resumed = _small_trainer(seed=99)
    resumed.restore_checkpoint(tmp_path / "old.npz")
    for expected, actual in zip(without.generator.weights, resumed.ema_generator.weights):
        np.testing.assert_array_equal(np.array(actual), np.array(expected))


def test_mixed_precision_gives_g_its_own_loss_scale():
    """Under float16, G's gradient leaves D's backward pass scaled by D's loss scale and must carry G's instead."""
    real, labels = _real_batch()
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        trainer = GANTrainer(*build_models("cdcgan"), TrainConfig(family="cdcgan", batch_size=BATCH, mixed_precision=True))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    inputs = tf.constant(real), tf.constant(labels), tf.constant(trainer.noise_for_step(BATCH))

    def unscaled_g_gradients(d_scale, g_scale):
        trainer.gan_step.d_optimizer.dynamic_scale.assign(d_scale)
        trainer.gan_step.g_optimizer.dynamic_scale.assign(g_scale)
        return [tf.cast(g, tf.float32).numpy() / g_scale for g in trainer.gan_step.gradients(*inputs)[1]]

    expected = unscaled_g_gradients(2.0**10, 2.0**6)
    for d_scale, g_scale in ((2.0**4, 2.0**6), (2.0**10, 2.0**9)):
        for gradient, want in zip(unscaled_g_gradients(d_scale, g_scale), expected):
            assert np.abs(want).max() > 0
            np.testing.assert_allclose(gradient, want, rtol=0.01, atol=0.01 * np.abs(want).max())
