"""The course's training loop: one `train_on_batch` call of a `GAN` model a step, a history, checkpoints.

The Keras 2 recipe trained D and then G through a frozen D, as two models: compile D, set
`D.trainable = False`, compile G+D. Keras 3 reads `trainable` when a model's train step is
first traced, not when it is compiled, so that recipe makes `D.train_on_batch` train nothing,
with only a warning. Here one model, `ganutils.gan.GAN`, updates each player on the gradient
of its own loss with respect to its own weights, so nothing is frozen; the tests check which
weights each step changes, and in which direction.
"""

import csv
import itertools
import json
import math
import sys
import time
import zipfile
import zlib

import keras
import numpy as np

from ganutils.config import TYPE_NAMES, ConfigError, TrainConfig, is_of_type
from ganutils.data import epoch_batches
from ganutils.files import atomic_output, write_json
from ganutils.gan import GAN, LOG_KEYS
from ganutils.models import is_conditional

PROGRESS_KEYS = ("d_loss", "g_loss", "d_acc_real", "d_acc_fake")
HISTORY_KEYS = ("step", "epoch", *LOG_KEYS)
CHECKPOINT_FORMAT = 3  # format 1: the step before the GAN model (D returned probabilities); 2: no training seconds
CHECKPOINT_STATE = {"format": int, "backend": str, "config": dict, "step": int, "total_steps": int, "seconds": float,
                    "history": list}  # what a checkpoint's state holds, and the type of each
LOSS_WARNING = 1e4  # a loss this large is far outside any healthy run of the course's models


class CheckpointError(ValueError):
    """A checkpoint this version of ganutils cannot resume from."""


class DivergedError(ValueError):
    """Training produced NaN or infinity (in a loss, or in weights about to be saved): it cannot go on."""


def prepare_run(config):
    """Seed every random generator and set the precision policy, before the models are built."""
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy("mixed_float16" if config.mixed_precision else "float32")


def training_device():
    """Where Keras will train: the first GPU its backend sees, else the CPU."""
    backend = keras.backend.backend()
    if backend == "torch":  # Keras lists devices for TensorFlow and JAX only
        import torch

        gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        gpus = [device for device in keras.distribution.list_devices() if "gpu" in device.lower() or "cuda" in device.lower()]
    return f"GPU ({gpus[0]}, {backend})" if gpus else f"CPU ({backend} sees no GPU)"


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
    """

    def __init__(self, generator, discriminator, config=None):
        self.config = config or TrainConfig()
        self.generator, self.discriminator = generator, discriminator
        self.conditional = is_conditional(generator)
        self.gan = GAN(
            generator,
            discriminator,
            generator_loss=self.config.generator_loss,
            label_smoothing=self.config.label_smoothing,
            ema_decay=self.config.ema_decay,
            alternating=self.config.alternating,
            real_and_fake_together=self.config.real_and_fake_together,
        )
        self.gan.compile(d_optimizer=self._adam(), g_optimizer=self._adam())
        self.step = 0
        self.total_steps = None
        self.history = []
        self.seconds = 0.0  # training time in all, earlier sessions' up to their last checkpoint included
        self.last_checkpoint = None  # (path, step) of the checkpoint last saved or restored
        self.warned_of_large_loss = False

    def _adam(self):
        adam = keras.optimizers.Adam(self.config.learning_rate, beta_1=self.config.beta_1)
        return keras.optimizers.LossScaleOptimizer(adam) if self.config.mixed_precision else adam

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
        logs = self.gan.train_on_batch((real_images, labels, self.noise_for_step(batch_size)), return_dict=True)
        record = {"step": self.step + 1, "epoch": epoch, **{key: float(logs[key]) for key in LOG_KEYS}}
        self._check_losses(record)
        self.step += 1
        self.history.append(record)
        return record

    def _check_losses(self, record):
        """Stop on a loss that is NaN or infinite; warn, once, of one above `LOSS_WARNING`."""
        for key in LOG_KEYS:
            if not math.isfinite(record[key]):
                raise DivergedError(f"training stopped at step {record['step']}: {key} is {record[key]}")
        largest = max(("d_loss", "g_loss"), key=lambda key: abs(record[key]))
        if abs(record[largest]) > LOSS_WARNING and not self.warned_of_large_loss:
            self.warned_of_large_loss = True
            print(f"warning: {largest} is {record[largest]:.3g} at step {record['step']}, far above any healthy "
                  f"run's (over {LOSS_WARNING:g}): training is diverging; a smaller learning rate may help", file=sys.stderr)

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
                print(_epoch_line(epoch_history(self.history)[-1], total_steps))
            if on_epoch_end:
                on_epoch_end(self, epoch + 1)
        return self.history

    def _checkpoint_variables(self):
        """Every variable a checkpoint holds, by group."""
        groups = {
            "generator": self.generator.variables,
            "discriminator": self.discriminator.variables,
            "d_optimizer": self.gan.d_optimizer.variables,
            "g_optimizer": self.gan.g_optimizer.variables,
        }
        if self.gan.average is not None:
            groups["average"] = self.gan.average.variables
        return groups

    def _checkpoint_arrays(self):
        """Every variable a checkpoint holds, by its name there (`group/index`)."""
        return {
            f"{group}/{i}": variable
            for group, variables in self._checkpoint_variables().items()
            for i, variable in enumerate(variables)
        }

    def save_checkpoint(self, path):
        """Write weights, optimizer states, step, history, time and config to one file, atomically; refuse NaN weights."""
        arrays = {name: keras.ops.convert_to_numpy(variable) for name, variable in self._checkpoint_arrays().items()}
        for name, array in arrays.items():
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise DivergedError(f"training stopped at step {self.step}: {name} holds NaN or infinity")
        state = {
            "format": CHECKPOINT_FORMAT,
            "backend": keras.backend.backend(),
            "config": self.config.as_dict(),
            "step": self.step,
            "total_steps": self.total_steps,
            "seconds": float(self.seconds),
            "history": self.history,
        }
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        with atomic_output(path) as temporary:
            with open(temporary, "wb") as stream:
                np.savez(stream, **arrays)
        self.last_checkpoint = (path, self.step)

    def restore_checkpoint(self, path):
        """Load what `save_checkpoint` wrote into these models (built from the same config), once all of it is checked."""
        state = read_checkpoint_state(path)
        variables = self._checkpoint_arrays()
        stored = _read_checkpoint(path, lambda name: name != "state")
        unmatched = sorted(set(variables) ^ set(stored))
        if unmatched:
            where = "this model has no" if unmatched[0] in stored else "it lacks"
            raise CheckpointError(f"{path}: its {unmatched[0].split('/')[0]} does not match this model ({where} {unmatched[0]})")
        for name, variable in variables.items():
            value = stored[name]
            if value.shape != tuple(variable.shape) or value.dtype.kind not in "biuf":
                raise CheckpointError(f"{path}: its {name} is {value.dtype} shaped {value.shape}, this model's {tuple(variable.shape)}")
        for name, variable in variables.items():
            variable.assign(stored[name])
        self.step, self.total_steps, self.history = state["step"], state["total_steps"], state["history"]
        self.seconds, self.last_checkpoint = state["seconds"], (path, state["step"])


def _read_checkpoint(path, wanted):
    """The arrays of a checkpoint whose names `wanted` accepts; a damaged file is a CheckpointError naming it."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a checkpoint (not an npz archive)")
    try:
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files if wanted(name)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__})") from None


def read_checkpoint_state(path):
    """The state a checkpoint holds (its config as a `TrainConfig`), checked to be one this backend can resume."""
    stored = _read_checkpoint(path, lambda name: name == "state")
    try:
        state = json.loads(stored["state"].tobytes())
    except (KeyError, ValueError):  # UnicodeDecodeError is a ValueError
        raise CheckpointError(f"{path}: not a ganutils checkpoint (no readable state in it)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a ganutils checkpoint (its state is a {type(state).__name__}, not a dict)")
    if state.get("format", 1) != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state.get('format', 1)}, from another version of "
                              f"ganutils; this one resumes format {CHECKPOINT_FORMAT} only")
    for key, kind in CHECKPOINT_STATE.items():
        if not is_of_type(state.get(key), kind):
            raise CheckpointError(f"{path}: its state's {key} is missing or not {TYPE_NAMES.get(kind, 'a ' + kind.__name__)}")
    if state["backend"] != keras.backend.backend():
        raise CheckpointError(f"{path}: written on Keras' {state['backend']} backend; resume it there "
                              f"(KERAS_BACKEND={state['backend']}), not on {keras.backend.backend()}")
    _check_history(path, state["history"], state["step"])
    try:
        return {**state, "config": TrainConfig.from_dict(state["config"])}
    except ConfigError as error:
        raise CheckpointError(f"{path}: its config does not fit this version of ganutils ({error})") from None


def _check_history(path, history, step):
    """A checkpoint's history must hold one record of numbers per step taken."""
    if len(history) != step:
        raise CheckpointError(f"{path}: its history holds {len(history)} steps, its step count {step}")
    for record in history:
        if not (isinstance(record, dict) and all(is_of_type(record.get(key), float) for key in HISTORY_KEYS)):
            raise CheckpointError(f"{path}: its history holds a record that is not {', '.join(HISTORY_KEYS)}")


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
