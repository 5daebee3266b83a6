"""What each training step changes, the Keras 3 trap it avoids, history, and resuming.

These tests run on whichever backend Keras runs (`KERAS_BACKEND`). The step-by-step tests
recompute each player's gradient from scratch (`gradients.gradients`) and follow Adam's
formula in NumPy over several consecutive steps, so a wrong gradient, a player updated on
the other's loss, or optimizer state lost between steps all show.
"""

import warnings

import keras
import numpy as np
import pytest
from gradients import gradients, numpy

from ganutils.config import TrainConfig
from ganutils.gan import GAN, cross_entropy
from ganutils.models import (
    build_combined,
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
)
from ganutils.checkpoints import CheckpointError
from ganutils.history import epoch_history, save_history
from ganutils.run import run_summary
from ganutils.training import GANTrainer

BATCH = 8
STEPS = 3


def _values(variables):
    return [numpy(v).copy() for v in variables]


def _changed(before, variables):
    """For each variable, whether its value differs from the snapshot `before`."""
    return [not np.array_equal(old, numpy(new)) for old, new in zip(before, variables)]


def _real_batch(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (BATCH, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, BATCH).astype(np.int32)


def _tiny_models(family, batch_norm_in_d=False):
    """Small models of a family, with no randomness in D (so that a recomputation sees what the step saw)."""
    num_classes = 10 if family.startswith("c") else None
    if family in ("gan", "cgan"):
        generator = build_mlp_generator(num_classes=num_classes, hidden_units=(16,))
        discriminator = build_mlp_discriminator(num_classes=num_classes, hidden_units=(16,), dropout=0.0)
    else:
        generator = build_dcgan_generator(num_classes=num_classes, filters=(8, 4))
        discriminator = build_dcgan_discriminator(num_classes=num_classes, filters=(4, 8))
    if batch_norm_in_d:
        image = keras.Input((28, 28, 1))
        features = keras.layers.Dense(8, use_bias=False)(keras.layers.Flatten()(image))  # batch norm's shift is the bias
        features = keras.layers.LeakyReLU(0.2)(keras.layers.BatchNormalization()(features))
        discriminator = keras.Model(image, keras.layers.Dense(1)(features))
    return generator, discriminator


def _trainer(family="gan", **settings):
    keras.utils.set_random_seed(0)
    batch_norm_in_d = settings.pop("batch_norm_in_d", False)
    config = TrainConfig(family=family, batch_size=BATCH, **settings)
    return GANTrainer(*_tiny_models(family, batch_norm_in_d), config)


@pytest.fixture(params=["gan", "cdcgan"])
def trainer(request):
    return _trainer(request.param)


def _labels(trainer, labels):
    return labels if trainer.conditional else None


def _softplus(x):
    return keras.ops.softplus(keras.ops.cast(x, "float32"))


def _forward(trainer, real, labels, together=False, noise=None):
    """D's logits on real images and on G's fakes (for the trainer's next noise by default), written out here."""
    noise = trainer.noise_for_step(BATCH) if noise is None else noise
    labels = np.zeros(BATCH, np.int32) if labels is None else labels
    tensor = keras.ops.convert_to_tensor
    inputs = (lambda main, y: [tensor(main), tensor(y)]) if trainer.conditional else (lambda main, y: tensor(main))
    fakes = trainer.generator(inputs(noise, labels), training=True)
    if not together:
        return (trainer.discriminator(inputs(real, labels), training=True),
                trainer.discriminator(inputs(fakes, labels), training=True))
    both = keras.ops.concatenate([keras.ops.convert_to_tensor(real), fakes], axis=0)
    logits = trainer.discriminator(inputs(both, np.concatenate([labels, labels])), training=True)
    return logits[:BATCH], logits[BATCH:]


def _d_loss(real_logits, fake_logits, smoothing=0.1):
    """D's loss from the formula: the mean of -t log D(x) - (1-t) log(1-D(x)) on real and -log(1-D(G(z))) on fakes."""
    real_loss = keras.ops.mean((1 - smoothing) * _softplus(-real_logits) + smoothing * _softplus(real_logits))
    return (real_loss + keras.ops.mean(_softplus(fake_logits))) / 2


def _g_loss(fake_logits, kind="non_saturating"):
    """-log D(G(z)) (non-saturating) or log(1 - D(G(z))) (minimax), written with softplus."""
    return keras.ops.mean(_softplus(-fake_logits) if kind == "non_saturating" else -_softplus(fake_logits))


class ReferenceAdam:
    """Keras' Adam (Kingma & Ba, 2015) in NumPy, to say where a step must leave the weights."""

    def __init__(self, config, weights):
        self.rate, self.beta_1, self.beta_2, self.epsilon = config.learning_rate, config.beta_1, 0.999, 1e-7
        self.m = [np.zeros_like(w) for w in weights]
        self.v = [np.zeros_like(w) for w in weights]
        self.t = 0

    def step(self, weights, grads):
        self.t += 1
        alpha = self.rate * np.sqrt(1 - self.beta_2**self.t) / (1 - self.beta_1**self.t)
        new = []
        for i, (w, g) in enumerate(zip(weights, grads)):
            self.m[i] += (g - self.m[i]) * (1 - self.beta_1)
            self.v[i] += (g * g - self.v[i]) * (1 - self.beta_2)
            new.append(w - alpha * self.m[i] / (np.sqrt(self.v[i]) + self.epsilon))
        return new


def _expected_gradients(trainer, real, labels, together, g_loss_kind, noise):
    """Each player's gradient of its own loss with respect to its own weights, recomputed from scratch."""
    d_vars, g_vars = trainer.discriminator.trainable_variables, trainer.generator.trainable_variables
    d_grads = gradients(lambda: _d_loss(*_forward(trainer, real, labels, together, noise)), d_vars)
    g_grads = gradients(lambda: _g_loss(_forward(trainer, real, labels, together, noise)[1], g_loss_kind), g_vars)
    return d_grads, g_grads


def _assign(variables, values):
    for variable, value in zip(variables, values):
        variable.assign(value)


def _sparse_update(variable):
    """Whether Keras' Adam updates this variable sparsely: on TensorFlow, an embedding's looked-up rows only."""
    return keras.backend.backend() == "tensorflow" and "embedding" in variable.path


def _assert_steps_follow_own_gradients(trainer, together=False, g_loss_kind="non_saturating", alternating=False):
    """Over several steps: D lands where Adam on D's gradient puts it, and G where Adam on G's gradient puts it."""
    d_vars, g_vars = trainer.discriminator.trainable_variables, trainer.generator.trainable_variables
    d_adam, g_adam = ReferenceAdam(trainer.config, _values(d_vars)), ReferenceAdam(trainer.config, _values(g_vars))
    for step in range(STEPS):
        real, labels = _real_batch(step)
        labels = _labels(trainer, labels)
        d_before, g_before = _values(d_vars), _values(g_vars)
        noise = trainer.noise_for_step(BATCH)
        d_grads, g_grads = _expected_gradients(trainer, real, labels, together, g_loss_kind, noise)
        record = trainer.train_step(real, labels)
        if alternating:  # G's gradient through D as the step left it, at G's weights before the step
            g_after = _values(g_vars)
            _assign(g_vars, g_before)
            g_grads = _expected_gradients(trainer, real, labels, together, g_loss_kind, noise)[1]
            _assign(g_vars, g_after)
        expected_d, expected_g = d_adam.step(d_before, d_grads), g_adam.step(g_before, g_grads)
        for name, expected, variables in (("D", expected_d, d_vars), ("G", expected_g, g_vars)):
            for want, variable in zip(expected, variables):
                if _sparse_update(variable):
                    continue
                np.testing.assert_allclose(numpy(variable), want, rtol=0, atol=0.02 * trainer.config.learning_rate,
                                           err_msg=f"{name}'s {variable.path} after step {step + 1}")
    return record


@pytest.mark.parametrize("family", ["gan", "cgan", "dcgan", "cdcgan"])
def test_each_player_steps_down_the_gradient_of_its_own_loss_step_after_step(family):
    _assert_steps_follow_own_gradients(_trainer(family))


def test_the_alternating_step_trains_g_against_the_updated_d():
    _assert_steps_follow_own_gradients(_trainer("cdcgan", alternating=True), alternating=True)


def test_the_minimax_loss_changes_g_gradient_as_its_formula_says():
    trainer = _trainer("gan", generator_loss="minimax")
    record = _assert_steps_follow_own_gradients(trainer, g_loss_kind="minimax")
    assert record["g_loss"] < 0  # log(1 - D(G(z))) is negative; the logged loss is the one G trains on


@pytest.mark.parametrize("together", [False, True])
def test_batch_norm_in_d_trains_and_g_gets_the_gradient_through_it(together):
    trainer = _trainer("gan", batch_norm_in_d=True, real_and_fake_together=together)
    _assert_steps_follow_own_gradients(trainer, together=together)


def test_a_generator_loss_can_be_any_function_of_d_logits():
    keras.utils.set_random_seed(0)
    generator, discriminator = _tiny_models("gan")
    gan = GAN(generator, discriminator, generator_loss=lambda logits: keras.ops.mean(logits) * 0 + 3.0)
    gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    real, _ = _real_batch()
    noise = np.zeros((BATCH, 100), np.float32)
    logs = gan.train_on_batch((real, np.zeros(BATCH, np.int32), noise), return_dict=True)
    assert logs["g_loss"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="generator_loss"):
        GAN(generator, discriminator, generator_loss="wasserstein")


def test_the_trainer_takes_a_loss_or_a_step_of_the_students_own_and_refuses_to_record_it():
    keras.utils.set_random_seed(0)
    generator, discriminator = _tiny_models("gan")
    real, _ = _real_batch()

    class NoSmoothingGAN(GAN):
        def discriminator_losses(self, real_logits, fake_logits):
            real_loss, fake_loss = cross_entropy(1.0, real_logits), cross_entropy(0.0, fake_logits)
            return (real_loss + fake_loss) / 2, real_loss, fake_loss

    trainer = GANTrainer(generator, discriminator, TrainConfig(family="gan", batch_size=BATCH),
                         generator_loss=lambda logits: keras.ops.mean(logits) * 0 + 3.0, gan_class=NoSmoothingGAN)
    record = trainer.train_step(real)
    assert record["g_loss"] == pytest.approx(3.0) and isinstance(trainer.gan, NoSmoothingGAN)
    with pytest.raises(ValueError, match="run.json"):
        run_summary(trainer, "test digits")


def test_optimizer_moments_keep_changing_step_after_step(trainer):
    real, labels = _real_batch()
    for step in range(STEPS):
        before = [_values(trainer.gan.d_optimizer.variables), _values(trainer.gan.g_optimizer.variables)]
        trainer.train_step(real, _labels(trainer, labels))
        for optimizer, old in zip((trainer.gan.d_optimizer, trainer.gan.g_optimizer), before):
            changed = _changed(old, optimizer.variables)
            assert sum(changed) == len(changed) - 1, f"step {step + 1}: all but the learning rate change"
            assert int(numpy(optimizer.iterations)) == step + 1


def test_the_keras_2_idiom_trains_nothing_in_keras_3():
    """The trap that one model with one optimizer per player avoids: D frozen once after compiling, then trained on its own."""
    generator, discriminator = build_mlp_generator(hidden_units=(16,)), build_mlp_discriminator(hidden_units=(16,))
    discriminator.compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    discriminator.trainable = False
    build_combined(generator, discriminator).compile("adam", keras.losses.BinaryCrossentropy(from_logits=True))
    before = _values(discriminator.weights)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        discriminator.train_on_batch(_real_batch()[0], np.ones((BATCH, 1), np.float32))
    assert not any(_changed(before, discriminator.weights))
    warned = any("does not have any trainable weights" in str(w.message) for w in caught)
    assert warned or keras.backend.backend() == "jax"  # Keras warns on TensorFlow and PyTorch; on JAX, not even that


@pytest.mark.parametrize("family", ["dcgan", "cdcgan"])
def test_step_reports_this_batch_losses_not_a_running_mean(family):
    trainer = _trainer(family)
    real, labels = _real_batch()
    labels = _labels(trainer, labels)
    trainer.train_step(real[::-1], labels)  # a first step, so a running mean would differ from the batch value
    real_logits, fake_logits = (numpy(logits) for logits in _forward(trainer, real, labels))
    record = trainer.train_step(real, labels)
    softplus = lambda x: np.logaddexp(0, x)  # noqa: E731
    real_loss = np.mean(0.9 * softplus(-real_logits) + 0.1 * softplus(real_logits))
    fake_loss = np.mean(softplus(fake_logits))
    assert record["d_loss_real"] == pytest.approx(real_loss, rel=1e-4)
    assert record["d_loss_fake"] == pytest.approx(fake_loss, rel=1e-4)
    assert record["d_loss"] == pytest.approx((real_loss + fake_loss) / 2, rel=1e-4)
    assert record["g_loss"] == pytest.approx(np.mean(softplus(-fake_logits)), rel=1e-4)
    assert record["d_acc_real"] == pytest.approx(np.mean(real_logits > 0))
    assert record["d_acc_fake"] == pytest.approx(np.mean(fake_logits <= 0))


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


@pytest.mark.parametrize("family", ["gan", "cdcgan"])
def test_weight_average_moves_towards_g_by_one_minus_the_decay(family):
    trainer = _trainer(family, ema_decay=0.999)
    real, labels = _real_batch()
    average = trainer.gan.average
    for step in range(STEPS):
        average_before = _values(average.weights)
        trainer.train_step(real, _labels(trainer, labels))
        decay = min(0.999, (1 + trainer.step) / (10 + trainer.step))  # the decay of the step just taken
        assert float(numpy(trainer.gan.average_decay(trainer.step))) == pytest.approx(decay)
        for before, value, mean in zip(average_before, trainer.generator.weights, average.weights):
            np.testing.assert_allclose(numpy(mean), decay * before + (1 - decay) * numpy(value), rtol=1e-5, atol=1e-7)
    assert any(_changed(_values(trainer.generator.weights), average.weights))
    assert trainer.sampling_generator is average
    assert float(numpy(trainer.gan.average_decay(100_000))) == pytest.approx(trainer.config.ema_decay)


def test_with_a_halflife_both_learning_rates_halve_every_so_many_steps():
    trainer = _trainer("gan", learning_rate=1e-3, halflife=2)
    real = _real_batch()[0]
    for _ in range(4):
        trainer.train_step(real)
    for optimizer in (trainer.gan.d_optimizer, trainer.gan.g_optimizer):
        assert float(numpy(optimizer.learning_rate)) == pytest.approx(1e-3 / 4)


def test_without_a_halflife_the_learning_rates_stay_constant():
    trainer = _trainer("gan", learning_rate=1e-3, halflife=0)
    trainer.train_step(_real_batch()[0])
    assert float(numpy(trainer.gan.g_optimizer.learning_rate)) == pytest.approx(1e-3)


def test_without_averaging_g_itself_is_sampled():
    trainer = _trainer("gan", ema_decay=0)
    trainer.train_step(_real_batch()[0])
    assert trainer.gan.average is None and trainer.sampling_generator is trainer.generator


def test_noise_is_fixed_by_seed_and_step(trainer):
    first = trainer.noise_for_step(4)
    np.testing.assert_array_equal(first, trainer.noise_for_step(4))
    trainer.step += 1
    assert not np.array_equal(first, trainer.noise_for_step(4))


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="float16 training is a GPU option, tried on TensorFlow")
def test_mixed_precision_trains_float32_weights_with_finite_losses():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        trainer = _trainer("cdcgan", mixed_precision=True)
        real, labels = _real_batch()
        before = _values(trainer.generator.trainable_variables)
        for _ in range(STEPS):
            record = trainer.train_step(real, labels)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert all(np.isfinite(record[key]) for key in ("d_loss", "g_loss"))
    assert all(v.dtype == "float32" for v in trainer.generator.trainable_variables)
    assert all(_changed(before, trainer.generator.trainable_variables))


class Interrupted(Exception):
    pass


def _small_trainer(seed=0):
    keras.utils.set_random_seed(seed)
    generator = build_mlp_generator(latent_dim=8, hidden_units=(16,))
    discriminator = build_mlp_discriminator(hidden_units=(16,))  # has dropout: its RNG state is saved too
    return GANTrainer(generator, discriminator, TrainConfig(family="gan", batch_size=BATCH, latent_dim=8))


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
    for expected, actual in zip(uninterrupted.gan.variables, resumed.gan.variables):
        np.testing.assert_allclose(numpy(actual), numpy(expected), rtol=1e-5, atol=1e-6, err_msg=actual.path)
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose([r[key] for r in resumed.history], [r[key] for r in uninterrupted.history], rtol=1e-4)


def _rewrite_state(path, **changes):
    """Rewrite the JSON state stored in a checkpoint, as another version or backend would have written it."""
    import json

    with np.load(path) as archive:
        arrays = dict(archive)
    state = {**json.loads(arrays["state"].tobytes()), **changes}
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    "changes, message",
    [({"format": 1}, "checkpoint format 1"), ({"backend": "elsewhere"}, "written on Keras' elsewhere backend")],
)
def test_a_checkpoint_from_another_format_or_backend_is_refused(tmp_path, changes, message):
    trainer = _small_trainer()
    trainer.fit(np.zeros((BATCH, 28, 28, 1), np.float32), steps=1, verbose=0)
    trainer.save_checkpoint(tmp_path / "checkpoint.npz")
    _rewrite_state(tmp_path / "checkpoint.npz", **changes)
    with pytest.raises(CheckpointError, match=message):
        _small_trainer().restore_checkpoint(tmp_path / "checkpoint.npz")
