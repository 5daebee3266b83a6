"""The course's training loop: one `train_on_batch` call of a `GAN` model a step, a history, checkpoints.

The Keras 2 recipe trained D and then G through a frozen D, as two models: compile D, set
`D.trainable = False`, compile G+D. Keras 3 reads `trainable` when a model's train step is
first traced, not when it is compiled, so that recipe makes `D.train_on_batch` train nothing,
with only a warning. Here one model, `ganutils.gan.GAN`, updates each player on the gradient
of its own loss with respect to its own weights, so nothing is frozen; the tests check which
weights each step changes, and in which direction.
"""

import itertools
import time

import keras
import numpy as np

from ganutils import checkpoints
from ganutils.config import SEED, SELF_CONDITIONING_CLUSTERS, TrainConfig  # noqa: F401  (the lessons' `training.TrainConfig`)
from ganutils.data import epoch_batches
from ganutils.devices import data_parallel, describe_devices, device_count, replicate, training_scope
from ganutils.divergence import check_finite_losses, warn_of_large_loss
from ganutils.gan import GAN, LOG_KEYS
from ganutils.history import epoch_history, epoch_line
from ganutils.models import is_conditional

PROGRESS_KEYS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")


def prepare_run(config):
    """Seed every random generator and set the precision policy, before the models are built."""
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")


def training_device(devices=1):
    """Where Keras will train, in words: the first GPU (or `devices` GPUs) its backend sees, else the CPU."""
    return describe_devices(devices)


class GANTrainer:
    """Trains a generator and a discriminator with `train_on_batch`, keeping a per-step history.

    Each step is one `train_on_batch` call of `self.gan`, a `ganutils.gan.GAN` that updates D
    on its loss and G on its own. After each step, the GAN's `average`, a copy of G, moves
    its weights a little towards G's: an exponential moving average over the steps (Yazici et
    al., 2019; Karras et al., 2018). It draws steadier digits than G, whose weights swing from
    step to step as the two players chase each other, so it is the generator that
    `sampling_generator` gives, that is saved and judged.

    Args:
        generator: takes noise (and integer labels, if conditional) and returns images.
        discriminator: takes images (and labels) and returns a logit, D's score for "real".
        config: a `TrainConfig`; its family sets only the default learning rate, its data field nothing.
        devices: how many devices each step is split across, or "all" (data parallel, on JAX);
            the batch size must divide evenly among them. Sampling always runs on one.
        generator_loss: a function of D's logits on the fakes, G's loss in place of the config's
            named one (a lesson's exercise); a run trained with it cannot be saved as a recipe.
        gan_class: a subclass of `ganutils.gan.GAN` with a step of the student's own (an exercise).
    """

    def __init__(self, generator, discriminator, config=None, devices=1, generator_loss=None, gan_class=GAN):
        self.config = config or TrainConfig()
        self.generator, self.discriminator = generator, discriminator
        self.conditional = is_conditional(generator)
        self.distribution = data_parallel(devices, self.config.batch_size)
        self.devices = device_count(self.distribution)
        self.custom_step = generator_loss is not None or gan_class is not GAN
        self.gan = gan_class(
            generator,
            discriminator,
            generator_loss=generator_loss or self.config.generator_loss,
            label_smoothing=self.config.label_smoothing,
            ema_decay=self.config.ema_decay,
            alternating=self.config.alternating,
            real_and_fake_together=self.config.real_and_fake_together,
        )
        self.gan.compile(d_optimizer=self._adam(), g_optimizer=self._adam())
        self._place_variables()
        self.step = 0
        self.total_steps = None
        self.history = []
        self.seconds = 0.0  # training time in all, earlier sessions' up to their last checkpoint included
        self.last_checkpoint = None  # (path, step) of the checkpoint last saved or restored
        self.warned_of_large_loss = False
        self.data = None  # what the run trains on (`data.fingerprint`), kept in its checkpoints; None if not told

    def _adam(self):
        adam = keras.optimizers.Adam(learning_rate_schedule(self.config), beta_1=self.config.beta_1)
        return keras.optimizers.LossScaleOptimizer(adam) if self.config.mixed_precision else adam

    def _place_variables(self):
        """With several devices, put every variable a step reads or writes on all of them."""
        if self.distribution is not None:
            state = [*self.gan.variables, *self.gan.optimizer.variables, *self.gan.metrics_variables,
                     *checkpoints.checkpoint_variables(self).values()]
            replicate(self.distribution, {id(variable): variable for variable in state}.values())

    @property
    def sampling_generator(self):
        """The generator to draw samples from: the moving average of G's weights, or G if averaging is off."""
        return self.gan.sampler

    def noise_for_step(self, batch_size):
        """The noise batch of this step, fixed by the seed and the step number."""
        rng = np.random.default_rng([self.config.seed, self.step])
        return rng.standard_normal((batch_size, self.config.latent_dim), dtype=np.float32)

    def train_step(self, real_images, labels=None, epoch=1):
        """One GAN step (D's update, G's, then the average of G); returns its record, or raises `DivergedError` on a NaN loss."""
        real_images = np.asarray(real_images, np.float32)
        batch_size = len(real_images)
        labels = np.zeros(batch_size, np.int32) if labels is None else np.asarray(labels, np.int32)
        with training_scope(self.distribution):  # the batch split across the devices, if several
            logs = self.gan.train_on_batch((real_images, labels, self.noise_for_step(batch_size)), return_dict=True)
        record = {"step": self.step + 1, "epoch": epoch, **{key: float(logs[key]) for key in LOG_KEYS}}
        check_finite_losses(record, LOG_KEYS)
        if not self.warned_of_large_loss:
            self.warned_of_large_loss = warn_of_large_loss(record)
        self.step += 1
        self.history.append(record)
        return record

    def fit(self, images, labels=None, steps=None, epochs=None, verbose=1, on_epoch_end=None, on_step_end=None):
        """Train until `steps` steps (or `epochs` epochs) in all, counting earlier ones.

        Args:
            images: training images (N, ...) in [-1, 1].
            labels: integer labels (N,), needed by conditional models.
            steps, epochs: when to stop; give exactly one.
            verbose: 1 shows a progress bar with the latest losses, 2 prints a line of
                epoch averages about 20 times in all (compact in notebooks), 0 is silent.
            on_epoch_end: called as `on_epoch_end(trainer, epoch)` after each epoch, and
                after the last step when it falls inside an epoch.
            on_step_end: called as `on_step_end(trainer)` after each step.
        Returns:
            The history: one dict per step with the keys of `HISTORY_KEYS`.
        """
        if self.conditional and labels is None:
            raise ValueError("a conditional model needs labels")
        steps_per_epoch = len(images) // self.config.batch_size
        total_steps = self.total_steps = planned_steps(steps, epochs, steps_per_epoch)
        labels = np.zeros(len(images), np.int32) if labels is None else labels
        progress = keras.utils.Progbar(total_steps, verbose=int(verbose == 1), stateful_metrics=PROGRESS_KEYS)
        log_every = max(1, round(total_steps / steps_per_epoch / 20))
        started, seconds_before = time.monotonic(), self.seconds
        while self.step < total_steps:
            epoch, done = divmod(self.step, steps_per_epoch)
            batches = epoch_batches(images, labels, self.config.batch_size, self.config.seed, epoch, done)
            for real_images, batch_labels in itertools.islice(batches, total_steps - self.step):
                record = self.train_step(real_images, batch_labels if self.conditional else None, epoch + 1)
                self.seconds = seconds_before + time.monotonic() - started
                progress.update(self.step, [(key, record[key]) for key in PROGRESS_KEYS])
                if on_step_end:
                    on_step_end(self)
            if verbose == 2 and ((epoch + 1) % log_every == 0 or self.step == total_steps):
                print(epoch_line(epoch_history(self.history)[-1], total_steps))
            if on_epoch_end:
                on_epoch_end(self, epoch + 1)
        return self.history

    def save_checkpoint(self, path):
        """Write weights, optimizer states, step, history, time, config and data fingerprint to one file, atomically; refuse NaN weights."""
        checkpoints.save_checkpoint(self, path)
        self.last_checkpoint = (path, self.step)

    def restore_checkpoint(self, path):
        """Load what `save_checkpoint` wrote into these models (built from the same config), once all of it is checked."""
        state = checkpoints.restore_checkpoint(self, path)
        self._place_variables()
        self.step, self.total_steps, self.history = state["step"], state["total_steps"], state["history"]
        self.seconds, self.last_checkpoint = state["seconds"], (path, state["step"])
        self.data = state["data"]


def learning_rate_schedule(config):
    """The learning rate: constant, or halving every `config.halflife` steps of the player's optimizer."""
    if not config.halflife:
        return config.learning_rate
    return keras.optimizers.schedules.ExponentialDecay(config.learning_rate, decay_steps=config.halflife, decay_rate=0.5)


def planned_steps(steps, epochs, steps_per_epoch):
    """The step count a run trains to, from `steps` or `epochs` (give one); refuses a batch larger than the data."""
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps and epochs")
    if steps_per_epoch < 1:
        raise ValueError("the batch size is larger than the training set")
    total = steps if steps is not None else epochs * steps_per_epoch
    if total < 1:
        raise ValueError(f"the number of steps or epochs must be positive, got {steps or epochs}")
    return total
