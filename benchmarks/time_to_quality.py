"""Steps and seconds of training until the course's models reach given quality levels.

Trains a cDCGAN, a DCGAN and a self-conditioned DCGAN (`ganutils train dcgan --clusters 50`)
with the course's defaults (`ganutils train`'s settings) on the MNIST training digits this
machine has, and every few hundred steps measures samples with the project's judge
(`ganutils.evaluate`), on the moving average of G's weights that the course samples: the
cDCGAN's conditional accuracy (100 samples per digit) and the DCGAN's classifier score
(N=1,000). The clock counts training, and the self-conditioned DCGAN's clustering, not the
measuring. Seconds on a shared machine vary from day to day, so each model's time per step
is printed beside that of a plain reference step on the same models, timed in the same run
(`reference_steps.py`: TensorFlow's tutorial step, or a jitted JAX step). With --save-dir,
the generator is saved when it first reaches each level (`cdcgan_0.95.keras`, ...), so that
another classifier can check the same generators:

    python benchmarks/time_to_quality.py [--models cdcgan dcgan dcgan-clusters] [--budget 300] [--save-dir DIR]
    python benchmarks/second_opinion.py DIR/*.keras --n 100
"""

import argparse
import os
import platform
import time
from pathlib import Path

import keras
from reference_steps import batches, reference_step

from ganutils.config import TrainConfig
from ganutils.data import load_mnist
from ganutils.evaluate import evaluate_generator
from ganutils.models import build_models
from ganutils.run import training_labels_and_generator
from ganutils.training import GANTrainer, training_device

GOALS = {  # model: (metric, levels to time, {level: steps at batch 64 the course aims for})
    "cdcgan": ("conditional_accuracy", (0.90, 0.95, 0.98), {0.95: 600, 0.98: 900}),
    "dcgan": ("classifier_score", (8.0, 9.0), {}),
    "dcgan-clusters": ("classifier_score", (8.0, 9.0), {}),
}
REFERENCE_STEPS = 50  # steps of the reference step timed per model, after 10 untimed
CLUSTERS = {"dcgan-clusters": 50}  # as benchmarks/README.md measured it; lesson 3 takes SELF_CONDITIONING_CLUSTERS


def measure(generator, metric, n, real):
    """The metric for `n` samples from `generator`, and for `n` real digits."""
    results = evaluate_generator(generator, n=n, seed=123, real=real)
    return results["generated"][metric], results["real"][metric]


def time_to_quality(model, budget, check_every, n, real, seed, save_dir=None):
    """Train `model` for up to `budget` seconds; return {level: (seconds, step)} first reached."""
    metric, levels, _ = GOALS[model]
    keras.utils.set_random_seed(seed)
    config = TrainConfig(family=model.split("-")[0], seed=seed, clusters=CLUSTERS.get(model, 0))
    trainer = GANTrainer(*build_models(config.family, clusters=config.clusters), config)
    print(f"{model}: batch {config.batch_size}, Adam learning rate {config.learning_rate:g}, beta_1 {config.beta_1}, "
          f"weight average decay {config.ema_decay}", flush=True)
    started = time.perf_counter()
    labels, generator = training_labels_and_generator(trainer, real)  # the average of G's weights, as ganutils train saves it
    reached, seconds = {}, time.perf_counter() - started
    while seconds < budget and len(reached) < len(levels):
        started = time.perf_counter()
        trainer.fit(real.images, labels, steps=trainer.step + check_every, verbose=0)
        seconds += time.perf_counter() - started
        value, real_value = measure(generator, metric, n, real)
        print(f"{model}: step {trainer.step:>5}, {seconds:6.1f} s of training: {metric} {value:.3f} (real digits {real_value:.3f})", flush=True)
        for level in levels:
            if value >= level and level not in reached:
                reached[level] = (seconds, trainer.step)
                if save_dir:
                    generator.save(save_dir / f"{model}_{level}.keras")
    print(f"{model}: ganutils step {1000 * seconds / trainer.step:.1f} ms; {reference_step_time(config, real)}", flush=True)
    return reached


def reference_step_time(config, real):
    """The reference step's time on fresh models of the same family, timed now, as a sentence."""
    keras.utils.set_random_seed(config.seed)
    step = reference_step(*build_models(config.family, clusters=config.clusters), config)
    if step is None:
        return f"no reference step on {keras.backend.backend()}"
    labels = real.labels % max(config.clusters, 10)  # a self-conditioned model's "labels" are clusters
    batch = batches(real.images, labels, config.batch_size, config.seed)
    for _ in range(10):
        step.run(*next(batch))
    started = time.perf_counter()
    for _ in range(REFERENCE_STEPS):
        step.run(*next(batch))
    return f"{type(step).__name__} {1000 * (time.perf_counter() - started) / REFERENCE_STEPS:.1f} ms, timed just after"


def report(model, reached, budget):
    """One line per level: when it was first reached, and whether that meets the course's aim in steps."""
    metric, levels, aims = GOALS[model]
    for level in levels:
        aim = ""
        if level in aims:
            met = level in reached and reached[level][1] <= aims[level]
            aim = f" (aim: within {aims[level]} steps: {'met' if met else 'missed'})"
        when = f"step {reached[level][1]} ({reached[level][0]:.0f} s)" if level in reached else f"not within {budget} s"
        print(f"{model} {metric} >= {level}: {when}{aim}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=tuple(GOALS), default=list(GOALS))
    parser.add_argument("--budget", type=float, default=300, help="training seconds per model (default 300)")
    parser.add_argument("--check-every", type=int, default=100, help="steps between measurements")
    parser.add_argument("--n", type=int, default=1000, help="samples per measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-dir", type=Path, help="save the generator here when it first reaches each level")
    args = parser.parse_args()
    if args.save_dir:
        args.save_dir.mkdir(parents=True, exist_ok=True)
    real = load_mnist("train")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"training on {training_device()}; Keras {keras.__version__}")
    results = {model: time_to_quality(model, args.budget, args.check_every, args.n, real, args.seed, args.save_dir)
               for model in args.models}
    for model, reached in results.items():
        report(model, reached, args.budget)


if __name__ == "__main__":
    main()
