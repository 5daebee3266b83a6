"""Time three ways of training the course's DCGAN, side by side in one run.

(a) the `ganutils` loop (`GANTrainer.fit`: one `train_on_batch` call of `ganutils.gan.GAN` a
    step, whose `train_step` is the textbook step with two gradient tapes, then the update of
    the average of G's weights), and the same loop with the average off (`ema_decay=0`), which
    shows what the average costs;
(b) one fused `tf.function` step with two `GradientTape`s, as TensorFlow's DCGAN tutorial
    writes it (https://www.tensorflow.org/tutorials/generative/dcgan);
(c) the Keras 2 style loop: `predict_on_batch` for the fakes, D trained on real and on fake
    batches separately, NumPy arrays in between.

All three train the same architecture from the same initial weights, with the same batch
size, optimizer settings (Adam at the DCGAN default of 1e-3, beta_1 0.5), loss and in-memory data; (a)
and (b) train on the same batches, from `ganutils.data.epoch_batches`.
Each repetition times every loop for the same number of steps, in turn (in reverse order every
other repetition), after a warm-up. Each loop's figure is its median; the speed ratio is the
median of the repetitions' own ratios, so that a slow spell of a shared machine, which slows
the loops of one repetition together, cancels out. Last, `benchmarks/backend_step.py` times
loop (a) on the JAX backend, in a process of its own (a process has one Keras backend). Usage:

    python benchmarks/loop_speed.py [--batch-size 128] [--steps 20] [--repeats 15]
"""

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from reference_steps import TutorialStep

from ganutils.config import TrainConfig
from ganutils.data import epoch_batches, load_mnist
from ganutils.models import build_combined, build_models
from ganutils.training import GANTrainer


def fresh_models(seed):
    """The course's DCGAN generator and discriminator, with weights fixed by `seed`."""
    keras.utils.set_random_seed(seed)
    return build_models("dcgan")


class GanutilsLoop:
    """(a): the course's trainer; `run` continues `fit` for more steps."""

    def __init__(self, images, config):
        self.images = images
        self.trainer = GANTrainer(*fresh_models(config.seed), config)
        self.name = "ganutils train_on_batch loop" + ("" if config.ema_decay else ", no average")

    def run(self, steps):
        self.trainer.fit(self.images, steps=self.trainer.step + steps, verbose=0)


class FusedLoop:
    """(b): the TensorFlow tutorial's step (`reference_steps.TutorialStep`) on the course's models and settings."""

    name = "fused tf.function step (TF tutorial)"

    def __init__(self, images, config):
        self.step = TutorialStep(*fresh_models(config.seed), config)
        self.config = config
        # The same batches as (a), so that only the steps differ. The tutorial's own pipeline,
        # Dataset.shuffle over the whole set, stalled for 1.4-9.7 s at many epoch ends here.
        self.images, self.labels, self.epoch = images, np.zeros(len(images), np.int32), 0
        self.batches = iter(())

    def next_batch(self):
        """The next batch of real images (and labels), starting a new epoch at the end of one."""
        batch = next(self.batches, None)
        if batch is None:
            self.batches = epoch_batches(self.images, self.labels, self.config.batch_size, self.config.seed, self.epoch)
            self.epoch += 1
            batch = next(self.batches)
        return batch

    def run(self, steps):
        for _ in range(steps):
            self.step.run(*self.next_batch())


class Keras2Loop:
    """(c): the loop of Keras 2 era tutorials, with D's `trainable` set before each call."""

    name = "Keras 2 style loop"

    def __init__(self, images, config):
        self.images = np.asarray(images)
        self.config = config
        self.generator, self.discriminator = fresh_models(config.seed)
        self.combined = build_combined(self.generator, self.discriminator)
        adam = lambda: keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        self.discriminator.compile(adam(), keras.losses.BinaryCrossentropy(from_logits=True))
        self.combined.compile(adam(), keras.losses.BinaryCrossentropy(from_logits=True))
        self.rng = np.random.default_rng(config.seed)

    def run(self, steps):
        batch_size, latent_dim = self.config.batch_size, self.config.latent_dim
        real_target = np.full((batch_size, 1), 1.0 - self.config.label_smoothing, np.float32)
        fake_target = np.zeros((batch_size, 1), np.float32)
        for _ in range(steps):
            real = self.images[self.rng.integers(0, len(self.images), batch_size)]
            noise = self.rng.standard_normal((batch_size, latent_dim)).astype(np.float32)
            fake = self.generator.predict_on_batch(noise)
            self.discriminator.trainable = True
            self.discriminator.train_on_batch(real, real_target)
            self.discriminator.train_on_batch(fake, fake_target)
            self.discriminator.trainable = False
            noise = self.rng.standard_normal((batch_size, latent_dim)).astype(np.float32)
            self.combined.train_on_batch(noise, np.ones((batch_size, 1), np.float32))


def time_run(loop, steps):
    """Seconds for `steps` training steps."""
    started = time.perf_counter()
    loop.run(steps)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repetition")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing)")
    args = parser.parse_args()
    config = TrainConfig(family="dcgan", batch_size=args.batch_size)
    images = load_mnist("train").images
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    print(f"DCGAN, batch {args.batch_size}, {args.repeats} repetitions of {args.steps} steps after {args.warmup} warm-up steps")
    without_average = dataclasses.replace(config, ema_decay=0.0)
    loops = [GanutilsLoop(images, config), FusedLoop(images, config), Keras2Loop(images, config),
             GanutilsLoop(images, without_average)]
    for loop in loops:
        loop.run(args.warmup)
    seconds = {loop.name: [] for loop in loops}
    for repeat in range(args.repeats):
        for loop in loops if repeat % 2 == 0 else loops[::-1]:
            seconds[loop.name].append(time_run(loop, args.steps))
    for loop in loops:
        median = statistics.median(seconds[loop.name])
        images_per_second = args.steps * args.batch_size / median
        print(f"{loop.name:<40} {1000 * median / args.steps:7.1f} ms/step  {images_per_second:7.0f} images/s")
    fused = seconds[loops[1].name]
    print(f"speed ratio without the average (ganutils / fused tf.function): {paired_ratio(seconds[loops[3].name], fused):.2f}")
    print(f"speed ratio (ganutils / fused tf.function): {paired_ratio(seconds[loops[0].name], fused):.2f}")
    print(f"ganutils train_on_batch loop on JAX, same model and batch: {jax_step(args)}")


def jax_step(args):
    """Loop (a)'s time per step on Keras' JAX backend, from backend_step.py in a process of its own."""
    script = Path(__file__).with_name("backend_step.py")
    # JAX on a CPU takes seconds a step here: a few steps are enough for its figure.
    command = [sys.executable, str(script), "--batch-size", str(args.batch_size), "--steps", "5", "--repeats", "3", "--warmup", "3"]
    result = subprocess.run(command, env={**os.environ, "KERAS_BACKEND": "jax"}, capture_output=True, text=True)
    if result.returncode:
        return f"not measured ({(result.stderr.strip().splitlines() or ['no output'])[-1]})"
    return result.stdout.strip().splitlines()[-1].replace("ms/step ", "") + " ms/step"


def paired_ratio(seconds, reference_seconds):
    """The median over repetitions of the speed of one loop relative to another timed beside it."""
    return statistics.median(reference / own for own, reference in zip(seconds, reference_seconds))


if __name__ == "__main__":
    main()
