"""The course's training loop: one `train_on_batch` call a step, updating D and G together.

The Keras 2 recipe trained D and then G through a frozen D, as two models: compile D, set
`D.trainable = False`, compile G+D. Keras 3 reads `trainable` when a model's train step is
first traced, not when it is compiled, so that recipe makes `D.train_on_batch` train nothing,
with only a warning. Here one model, `GANStep`, takes each player's gradient of its own loss
from one forward pass, as TensorFlow's DCGAN tutorial does, and one pass back through D;
nothing is frozen, and the tests check which weights each step changes, and in which direction.
"""

import csv
import dataclasses
import itertools
import json
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ganutils.data import epoch_batches
from ganutils.files import atomic_output, write_json
from ganutils.models import CLUSTERED_TWINS, LATENT_DIM, is_conditional

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
    clusters: int = 0  # gan and dcgan only: train on this many k-means clusters of the images as labels; 0: off

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
        if self.clusters and (self.clusters < 2 or self.family not in CLUSTERED_TWINS):
            raise ValueError(f"clusters must be 0 or at least 2, and only for {' and '.join(CLUSTERED_TWINS)}")


def training_device():
    """Where TensorFlow will train: the first GPU it sees, else the CPU."""
    gpus = tf.config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU (TensorFlow sees no GPU)"


def _cross_entropy(target, probabilities):
    """Mean binary cross-entropy of probabilities against one target value for all of them."""
    probabilities = ops.cast(probabilities, "float32")  # float16 under mixed precision
    return ops.mean(keras.losses.binary_crossentropy(ops.full_like(probabilities, target), probabilities))


def _accuracy(probabilities, real):
    """Fraction of D's verdicts that are right: above 0.5 for real images, at most 0.5 for fakes."""
    says_real = ops.cast(probabilities, "float32") > 0.5
    return ops.mean(ops.cast(says_real if real else ops.logical_not(says_real), "float32"))


class FusedAdam(keras.optimizers.Adam):
    """Keras' Adam, each weight's update made by TensorFlow's one-kernel `ResourceApplyAdam`.

    Keras runs Adam as about ten element-wise operations per weight tensor, each a pass over
    memory; the kernel makes one pass, with the same formula (Kingma & Ba, 2015, section 2).
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = ops.cast(self.beta_1, dtype), ops.cast(self.beta_2, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,  # Keras passes the tf.Variable inside its own Variable here
            m=self._momentums[index].value.handle,
            v=self._velocities[index].value.handle,
            beta1_power=ops.power(beta_1, step),
            beta2_power=ops.power(beta_2, step),
            lr=ops.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
        )


class GANStep(keras.Model):
    """One step of both players as a Keras model, so that one `train_on_batch` call trains D and G.

    One forward pass (G draws fakes, D judges real images and fakes) gives both losses, and
    one pass back through D gives both players' gradients: D's with respect to its weights,
    and, with respect to each fake, the gradient that G's own loss continues back through G
    (see `generator_weighting`). Each player is updated on its own loss only, so nothing has
    to be frozen; TensorFlow's DCGAN tutorial updates the players the same way, with a second
    pass back through D. Then the weight average of G moves towards G.

    `train_on_batch((real_images, labels, noise, decay))` returns this batch's losses and D's
    accuracies, under the names of `HISTORY_KEYS`.
    """

    def __init__(self, generator, discriminator, average, config):
        super().__init__(name="gan_step")
        self.generator, self.discriminator, self.average = generator, discriminator, average
        self.config = config
        self.conditional = is_conditional(generator)

    def compile(self):
        """Give D and G an Adam optimizer each; the model itself has none, no loss and no metrics."""
        super().compile(optimizer=None)
        self.d_optimizer, self.g_optimizer = self._adam(), self._adam()
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _adam(self):
        adam = FusedAdam(self.config.learning_rate, beta_1=self.config.beta_1)
        return keras.optimizers.LossScaleOptimizer(adam) if self.config.mixed_precision else adam

    def reset_metrics(self):
        """Nothing to reset: the step has no metrics (Keras' search of G and D for some took 0.2 ms a step)."""

    def _inputs(self, main, labels):
        return [main, labels] if self.conditional else main

    def train_step(self, data):
        (real_images, labels, noise, decay), _, _ = keras.utils.unpack_x_y_sample_weight(data)
        d_gradients, g_gradients, logs = self.gradients(real_images, labels, noise)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        self.d_optimizer.apply_gradients(zip(d_gradients, d_weights))
        self.g_optimizer.apply_gradients(zip(g_gradients, g_weights))
        if self.average is not None:
            for mean, value in zip(self.average.weights, self.generator.weights):
                mean.assign(decay * mean + (1.0 - decay) * ops.cast(value, mean.dtype))
        return logs

    def gradients(self, real_images, labels, noise):
        """Both players' gradients, each of its own loss with respect to its own weights, and the step's losses."""
        with tf.GradientTape() as g_tape:
            fake_images = self.generator(self._inputs(noise, labels), training=True)
        with tf.GradientTape() as d_tape:
            d_tape.watch(fake_images)
            real_scores = self.discriminator(self._inputs(real_images, labels), training=True)
            fake_scores = self.discriminator(self._inputs(fake_images, labels), training=True)
            d_loss_real = _cross_entropy(1.0 - self.config.label_smoothing, real_scores)
            d_loss_fake = _cross_entropy(0.0, fake_scores)
            d_loss = (d_loss_real + d_loss_fake) / 2  # the mean over D's batch of real and fake images
            # Scaled up under mixed precision (and the gradients down), so that float16 gradients do not underflow.
            d_scaled_loss = self.d_optimizer.scale_loss(d_loss)
        g_loss = _cross_entropy(1.0, fake_scores)  # non-saturating: G wants its fakes called real
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        *d_gradients, d_loss_by_fake = d_tape.gradient(d_scaled_loss, d_weights + [fake_images])
        g_loss_by_fake = self._rescaled(d_loss_by_fake, self.generator_weighting(fake_scores))
        g_gradients = g_tape.gradient(fake_images, g_weights, output_gradients=g_loss_by_fake)
        logs = {
            "d_loss": d_loss,
            "d_loss_real": d_loss_real,
            "d_loss_fake": d_loss_fake,
            "g_loss": g_loss,
            "d_acc_real": _accuracy(real_scores, real=True),
            "d_acc_fake": _accuracy(fake_scores, real=False),
        }
        return d_gradients, g_gradients, logs

    def generator_weighting(self, fake_scores):
        """Per fake, the gradient of G's loss over that of D's loss: -2 (1 - D(G(z))) / D(G(z)).

        Both losses depend on a fake only through D's logit s for it: D's fake term,
        -log(1 - D)/2 per fake, changes with s at the rate D/2, and G's non-saturating loss,
        -log D, at -(1 - D). So at every pixel of the fake, G's gradient is D's times the ratio
        (D judges each image by itself: no batch statistics). The weight is large where D rejects
        a fake with confidence, which is why this loss does not saturate; -2 would give the
        minimax loss log(1 - D).
        """
        scores = ops.cast(fake_scores, "float32")
        return -2.0 * (1.0 - scores) / ops.maximum(scores, 1e-30)  # D(G(z)) is 0 only where D's gradient is 0 too

    def _rescaled(self, d_loss_by_fake, weighting):
        """D's gradient at the fakes times each fake's weighting, under G's loss scale instead of D's."""
        one_per_fake = ops.reshape(weighting, (-1,) + (1,) * (len(d_loss_by_fake.shape) - 1))
        gradient = ops.cast(d_loss_by_fake, "float32") * one_per_fake
        if self.config.mixed_precision:
            gradient *= self.g_optimizer.scale_loss(1.0) / self.d_optimizer.scale_loss(1.0)
        return ops.cast(gradient, d_loss_by_fake.dtype)


class GANTrainer:
    """Trains a generator and a discriminator with `train_on_batch`, keeping a per-step history.

    Each step is one `train_on_batch` call of a `GANStep`, which updates D on its loss and G on
    its own. After each step, `ema_generator`, a copy of G, moves its weights a little towards
    G's: an exponential moving average over the steps (Yazici et al., 2019; Karras et al., 2018).
    It draws steadier digits than G, whose weights swing from step to step as the two players
    chase each other, so it is the generator that `sampling_generator` gives, that is saved and
    judged.

    Args:
        generator: takes noise (and integer labels, if conditional) and returns images.
        discriminator: takes images (and labels) and returns D(x), the probability of "real".
        config: a `TrainConfig`; its family sets only the default learning rate, its data field nothing.
    """

    step_class = GANStep  # the model whose `train_step` is one round of the game; a subclass may change it

    def __init__(self, generator, discriminator, config=None):
        self.config = config or TrainConfig()
        self.generator, self.discriminator = generator, discriminator
        self.conditional = is_conditional(generator)
        self.ema_generator = _copy_model(generator) if self.config.ema_decay else None
        self.gan_step = self.step_class(generator, discriminator, self.ema_generator, self.config)
        self.gan_step.compile()
        self.step = 0
        self.total_steps = None
        self.history = []

    @property
    def sampling_generator(self):
        """The generator to draw samples from: the moving average of G's weights, or G if averaging is off."""
        return self.generator if self.ema_generator is None else self.ema_generator

    def noise_for_step(self, batch_size):
        """The noise batch of this step, fixed by the seed and the step number."""
        rng = np.random.default_rng([self.config.seed, self.step])
        return rng.standard_normal((batch_size, self.config.latent_dim), dtype=np.float32)

    def average_decay(self, step=None):
        """The decay after `step` (by default the last step): smaller early on, so that the initial weights fade fast."""
        step = self.step if step is None else step
        return min(self.config.ema_decay, (1 + step) / (10 + step))

    def train_step(self, real_images, labels=None, epoch=1):
        """One GAN step (D's update, G's, then G's weight average); returns the step's record."""
        real_images = tf.convert_to_tensor(real_images)
        batch_size = len(real_images)
        labels = tf.zeros(batch_size, tf.int32) if labels is None else tf.convert_to_tensor(labels, tf.int32)
        decay = tf.constant(self.average_decay(self.step + 1), tf.float32)
        logs = self.gan_step.train_on_batch((real_images, labels, self.noise_for_step(batch_size), decay), return_dict=True)
        self.step += 1
        record = {"step": self.step, "epoch": epoch, **{key: float(logs[key]) for key in HISTORY_KEYS[2:]}}
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
            batches = epoch_batches(images, labels, self.config.batch_size, self.config.seed, epoch, done)
            for real_images, batch_labels in itertools.islice(batches, total_steps - self.step):
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
        for name, optimizer, model in (
            ("d_optimizer", self.gan_step.d_optimizer, self.discriminator),
            ("g_optimizer", self.gan_step.g_optimizer, self.generator),
        ):
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
            groups[name] = optimizer.variables
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
