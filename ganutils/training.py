"""The course's training loop: `train_on_batch` steps for D, then for G through a frozen D.

Keras 3 differs from Keras 2 in one way that matters here. Keras 2 fixed which weights a
model trains when it was compiled, so the old idiom (compile D, set `D.trainable = False`,
compile G+D) left D trainable on its own. Keras 3 reads `trainable` when a model's train
step is first traced, so that idiom makes `D.train_on_batch` train nothing, with only a
warning. `GANTrainer` therefore sets `D.trainable` before every step, and the tests check
which weights each step changes.
"""

import csv
import dataclasses
import json
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from ganutils.data import make_dataset
from ganutils.files import atomic_output, write_json
from ganutils.models import LATENT_DIM, build_combined, is_conditional

# Adam step sizes, measured on the offline MNIST subset: 1e-3 took the cDCGAN to 95% conditional
# accuracy in 700 steps where the DCGAN paper's 2e-4 needed 2,400; the MLP cGAN at 1e-3 never
# passed 62% and fell back to 43% by step 10,000 (89% at 2e-4), so the MLP models keep 2e-4.
DEFAULT_LEARNING_RATES = {"gan": 2e-4, "cgan": 2e-4, "dcgan": 1e-3, "cdcgan": 1e-3}
PROGRESS_KEYS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
HISTORY_KEYS = ("step", "epoch", "d_loss", "d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved with every checkpoint."""

    family: str = "cdcgan"  # which GAN the command line builds: gan, cgan, dcgan or cdcgan
    data: str = "mnist"  # training set: mnist or fashion_mnist
    batch_size: int = 64  # real images per step (and as many generated ones)
    latent_dim: int = LATENT_DIM  # size of the noise vector z (DCGAN paper: 100)
    learning_rate: float | None = None  # Adam step size for both players; None: the family's default
    beta_1: float = 0.5  # Adam's first-moment decay; 0.9 made DCGAN training oscillate
    label_smoothing: float = 0.1  # one-sided: D's target for real images is 1 - this
    seed: int = 0  # seeds weights, noise and data order
    mixed_precision: bool = False  # float16 maths, float32 weights: faster on GPUs with tensor cores only
    ema_decay: float = 0.999  # decay of the moving average of G's weights, the generator that is sampled; 0: off

    def __post_init__(self):
        if self.learning_rate is None:
            self.learning_rate = DEFAULT_LEARNING_RATES.get(self.family, 2e-4)
        if not self.learning_rate > 0:
            raise ValueError(f"learning rate must be positive, got {self.learning_rate}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be positive, got {self.batch_size}")
        if self.latent_dim < 1:
            raise ValueError(f"latent size must be positive, got {self.latent_dim}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"the weight-average decay must be in [0, 1), got {self.ema_decay}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label smoothing must be in [0, 0.5), got {self.label_smoothing}")


@keras.saving.register_keras_serializable(package="ganutils")
class RealFakeMean(keras.metrics.Metric):
    """Mean of a per-sample score over only the real (target > 0.5) or only the fake samples."""

    def __init__(self, score="loss", real=True, name=None, **kwargs):
        super().__init__(name=name or f"{'real' if real else 'fake'}_{score}", **kwargs)
        self.score, self.real = score, real
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = keras.ops.reshape(keras.ops.cast(y_true, "float32"), (-1, 1))
        y_pred = keras.ops.reshape(keras.ops.cast(y_pred, "float32"), (-1, 1))
        is_real = y_true[:, 0] > 0.5
        mask = keras.ops.cast(is_real if self.real else keras.ops.logical_not(is_real), "float32")
        if self.score == "loss":
            values = keras.losses.binary_crossentropy(y_true, y_pred)
        else:
            values = keras.ops.cast((y_pred[:, 0] > 0.5) == is_real, "float32")
        self.total.assign_add(keras.ops.sum(values * mask))
        self.count.assign_add(keras.ops.sum(mask))

    def result(self):
        return keras.ops.divide_no_nan(self.total, self.count)

    def get_config(self):
        return {**super().get_config(), "score": self.score, "real": self.real}


def discriminator_metrics():
    """D's loss and accuracy on the real and on the fake half of its batch."""
    return [RealFakeMean(score, real) for score in ("loss", "accuracy") for real in (True, False)]


def training_device():
    """Where TensorFlow will train: the first GPU it sees, else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU (TensorFlow sees no GPU)"


class GANTrainer:
    """Trains a generator and a discriminator with `train_on_batch`, keeping a per-step history.

    After each step, `ema_generator`, a copy of G, moves its weights a little towards G's: an
    exponential moving average over the steps (Yazici et al., 2019; Karras et al., 2018). It draws
    steadier digits than G, whose weights swing from step to step as the two players chase
    each other, so it is the generator that `sampling_generator` gives, that is saved and judged.

    Args:
        generator: takes noise (and integer labels, if conditional) and returns images.
        discriminator: takes images (and labels) and returns D(x), the probability of "real".
        config: a `TrainConfig`; its family sets only the default learning rate, its data field nothing.
    """

    def __init__(self, generator, discriminator, config=None):
        self.config = config or TrainConfig()
        self.generator, self.discriminator = generator, discriminator
        self.conditional = is_conditional(generator)
        self.combined = build_combined(generator, discriminator)
        self.ema_generator = _copy_model(generator) if self.config.ema_decay else None
        self._update_average = None if self.ema_generator is None else _weight_average_update(self.ema_generator, generator)
        self.step = 0
        self.total_steps = None
        self.history = []
        self._compile()
        self._generate = tf.function(lambda inputs: generator(inputs, training=True))

    @property
    def sampling_generator(self):
        """The generator to draw samples from: the moving average of G's weights, or G if averaging is off."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def _adam(self):
        return keras.optimizers.Adam(self.config.learning_rate, beta_1=self.config.beta_1)

    def _compile(self):
        self.discriminator.compile(self._adam(), "binary_crossentropy", metrics=discriminator_metrics())
        self.combined.compile(self._adam(), "binary_crossentropy")

    def _inputs(self, main, labels):
        return [main, labels] if self.conditional else main

    def noise_for_step(self, batch_size):
        """Two noise batches (for D's step and G's), fixed by the seed and the step number."""
        rng = np.random.default_rng([self.config.seed, self.step])
        shape = (batch_size, self.config.latent_dim)
        return rng.standard_normal(shape, dtype=np.float32), rng.standard_normal(shape, dtype=np.float32)

    def generate(self, noise, labels=None):
        """Generated images in training mode, as D's step sees them."""
        return self._generate(self._inputs(tf.convert_to_tensor(noise), labels))

    def discriminator_step(self, real_images, fake_images, labels=None):
        """Train D once on real images (target 1 - smoothing) and fakes (target 0) in one batch."""
        # Keras 3 fixes a step's trainable weights when it first traces it, not at compile time.
        self.discriminator.trainable = True
        batch_size = len(real_images)
        images = tf.concat([real_images, tf.cast(fake_images, real_images.dtype)], axis=0)  # float16 if mixed
        both_labels = None if labels is None else tf.concat([labels, labels], axis=0)
        targets = np.concatenate(
            [np.full((batch_size, 1), 1.0 - self.config.label_smoothing), np.zeros((len(fake_images), 1))]
        ).astype(np.float32)
        return self.discriminator.train_on_batch(self._inputs(images, both_labels), targets, return_dict=True)

    def generator_step(self, noise, labels=None):
        """Train G once through the frozen D, with targets that call every generated image real."""
        self.discriminator.trainable = False
        targets = np.ones((len(noise), 1), dtype=np.float32)
        try:
            return self.combined.train_on_batch(self._inputs(noise, labels), targets, return_dict=True)["loss"]
        finally:
            self.discriminator.trainable = True  # so that D looks like an ordinary model between steps

    def average_decay(self):
        """This step's decay: shorter memory early on, so that the random initial weights fade fast."""
        return min(self.config.ema_decay, (1 + self.step) / (10 + self.step))

    def train_step(self, real_images, labels=None, epoch=1):
        """One GAN step: D on real and generated images, then G, then G's weight average; returns the step's record."""
        d_noise, g_noise = self.noise_for_step(len(real_images))
        fake_images = self.generate(d_noise, labels)
        d_logs = self.discriminator_step(real_images, fake_images, labels)
        g_loss = self.generator_step(g_noise, labels)
        self.step += 1
        if self._update_average is not None:
            self._update_average(tf.constant(self.average_decay(), tf.float32))
        record = {
            "step": self.step,
            "epoch": epoch,
            "d_loss": d_logs["loss"],
            "d_loss_real": d_logs["real_loss"],
            "d_loss_fake": d_logs["fake_loss"],
            "g_loss": g_loss,
            "d_acc_real": d_logs["real_accuracy"],
            "d_acc_fake": d_logs["fake_accuracy"],
        }
        self.history.append(record)
        return record

    def fit(self, images, labels=None, steps=None, epochs=None, verbose=1, on_epoch_end=None):
        """Train until `steps` steps (or `epochs` epochs) in all, counting earlier ones.

        Args:
            images: training images (N, ...) in [-1, 1].
            labels: integer labels (N,), needed by conditional models.
            steps, epochs: when to stop; give exactly one.
            verbose: 1 shows a progress bar with the latest losses, 2 prints a line of
                epoch averages about 20 times in all (compact in notebooks), 0 is silent.
            on_epoch_end: called as `on_epoch_end(trainer, epoch)` after each epoch, and
                after the last step when it falls inside an epoch.
        Returns:
            The history: one dict per step with the keys of `HISTORY_KEYS`.
        """
        if self.conditional and labels is None:
            raise ValueError("a conditional model needs labels")
        steps_per_epoch = len(images) // self.config.batch_size
        total_steps = self.total_steps = _total_steps(steps, epochs, steps_per_epoch)
        images = tf.convert_to_tensor(images)
        labels = tf.convert_to_tensor(np.zeros(len(images), np.int32) if labels is None else labels)
        progress = keras.utils.Progbar(total_steps, verbose=int(verbose == 1), stateful_metrics=PROGRESS_KEYS)
        log_every = max(1, round(total_steps / steps_per_epoch / 20))
        while self.step < total_steps:
            epoch, done = divmod(self.step, steps_per_epoch)
            batches = make_dataset(images, labels, self.config.batch_size, self.config.seed, epoch, done)
            for real_images, batch_labels in batches.take(total_steps - self.step):
                record = self.train_step(real_images, batch_labels if self.conditional else None, epoch + 1)
                progress.update(self.step, [(key, record[key]) for key in PROGRESS_KEYS])
            if verbose == 2 and ((epoch + 1) % log_every == 0 or self.step == total_steps):
                print(_epoch_line(epoch_history(self.history)[-1], total_steps))
            if on_epoch_end:
                on_epoch_end(self, epoch + 1)
        return self.history

    def _checkpoint_variables(self):
        """Every variable a checkpoint holds, by group; builds the optimizers if needed."""
        groups = {"generator": self.generator.variables, "discriminator": self.discriminator.variables}
        if self.ema_generator is not None:
            groups["ema_generator"] = self.ema_generator.variables
        try:
            for name, model, d_trainable in (("d_optimizer", self.discriminator, True), ("g_optimizer", self.combined, False)):
                self.discriminator.trainable = d_trainable
                if not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)
                groups[name] = model.optimizer.variables
        finally:
            self.discriminator.trainable = True  # as between steps: a checkpoint must not leave D frozen
        return groups

    def save_checkpoint(self, path):
        """Write weights, optimizer states, step, history and config to one file, atomically."""
        arrays = {
            f"{group}/{i}": keras.ops.convert_to_numpy(variable)
            for group, variables in self._checkpoint_variables().items()
            for i, variable in enumerate(variables)
        }
        state = {
            "config": dataclasses.asdict(self.config),
            "step": self.step,
            "total_steps": self.total_steps,
            "history": self.history,
        }
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        with atomic_output(path) as temporary:
            with open(temporary, "wb") as stream:
                np.savez(stream, **arrays)

    def restore_checkpoint(self, path):
        """Load what `save_checkpoint` wrote into these models (built from the same config)."""
        with np.load(path) as archive:
            for group, variables in self._checkpoint_variables().items():
                if group == "ema_generator" and f"{group}/0" not in archive:
                    self.ema_generator.set_weights(self.generator.get_weights())  # a checkpoint from before averaging
                    continue
                for i, variable in enumerate(variables):
                    variable.assign(archive[f"{group}/{i}"])
            state = json.loads(archive["state"].tobytes())
        self.step, self.total_steps, self.history = state["step"], state["total_steps"], state["history"]


def _copy_model(model):
    """A second model of the same architecture, starting from the same weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _weight_average_update(average, model):
    """A compiled function that moves each weight of `average` towards `model`'s by (1 - decay)."""
    pairs = list(zip(average.weights, model.weights))

    @tf.function
    def update(decay):
        for mean, value in pairs:
            mean.assign(decay * mean + (1.0 - decay) * tf.cast(value, mean.dtype))

    return update


def read_checkpoint_state(path):
    """The config, step and history stored in a checkpoint, without loading any weights."""
    with np.load(path) as archive:
        return json.loads(archive["state"].tobytes())


def _total_steps(steps, epochs, steps_per_epoch):
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps and epochs")
    if steps_per_epoch < 1:
        raise ValueError("the batch size is larger than the training set")
    total = steps if steps is not None else epochs * steps_per_epoch
    if total < 1:
        raise ValueError(f"the number of steps or epochs must be positive, got {steps or epochs}")
    return total


def _epoch_line(summary, total_steps):
    """One line of an epoch's average losses and accuracies."""
    return (
        f"epoch {summary['epoch']:>3} (step {summary['steps']}/{total_steps}): "
        f"D loss {summary['d_loss']:.3f}, G loss {summary['g_loss']:.3f}, "
        f"D accuracy on real {summary['d_acc_real']:.2f}, on fake {summary['d_acc_fake']:.2f}"
    )


def epoch_history(history):
    """Average the per-step history over each epoch: one dict per epoch."""
    by_epoch = {}
    for record in history:
        by_epoch.setdefault(record["epoch"], []).append(record)
    return [
        {"epoch": epoch, "steps": records[-1]["step"], **{
            key: float(np.mean([r[key] for r in records])) for key in HISTORY_KEYS[2:]
        }}
        for epoch, records in by_epoch.items()
    ]


def save_history(history, csv_path, json_path=None):
    """Write the per-step history as CSV and, optionally, per-step and per-epoch as JSON."""
    with atomic_output(csv_path) as temporary:
        with open(temporary, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=HISTORY_KEYS)
            writer.writeheader()
            writer.writerows(history)
    if json_path:
        write_json(json_path, {"per_step": history, "per_epoch": epoch_history(history)})
