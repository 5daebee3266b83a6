"""Seconds of training on this machine until the course's models reach given quality levels.

Trains a cDCGAN, a DCGAN and a self-conditioned DCGAN (`ganutils train dcgan --clusters 50`)
with the course's defaults (`ganutils train`'s settings) on the MNIST training digits this
machine has, and every few hundred steps measures samples with the project's judge
(`ganutils.evaluate`), on the moving average of G's weights that the course samples: the
cDCGAN's conditional accuracy (100 samples per digit) and the DCGAN's classifier score
(N=1,000). The clock counts training, and the self-conditioned DCGAN's clustering, not the
measuring. With --save-dir, the generator is saved when it first reaches each level
(`cdcgan_0.95.keras`, ...), so that another classifier can check the same generators:

    python benchmarks/time_to_quality.py [--models cdcgan dcgan dcgan-clusters] [--budget 300] [--save-dir DIR]
    python benchmarks/second_opinion.py DIR/*.keras --n 100
"""

import argparse
import os
import platform
import time
from pathlib import Path

import keras
import tensorflow as tf

from ganutils.data import load_mnist
from ganutils.evaluate import evaluate_generator
from ganutils.models import build_models
from ganutils.run import training_labels_and_generator
from ganutils.training import GANTrainer, TrainConfig

GOALS = {  # model: (metric, levels to time, level and seconds the course aims for)
    "cdcgan": ("conditional_accuracy", (0.90, 0.95, 0.98), {0.95: 90, 0.98: 300}),
    "dcgan": ("classifier_score", (8.0, 9.0), {9.0: 300}),
    "dcgan-clusters": ("classifier_score", (8.0, 9.0), {9.0: 300}),
}
CLUSTERS = {"dcgan-clusters": 50}  # `ganutils train dcgan --clusters 50`


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
    return reached


def report(model, reached, budget):
    """One line per level: when it was first reached, and whether that meets the course's aim."""
    metric, levels, aims = GOALS[model]
    for level in levels:
        aim = f" (aim: within {aims[level]} s: {'met' if level in reached and reached[level][0] <= aims[level] else 'missed'})" if level in aims else ""
        when = f"{reached[level][0]:.0f} s (step {reached[level][1]})" if level in reached else f"not within {budget} s"
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
          f"GPUs: {len(tf.config.list_physical_devices('GPU'))}; "
          f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    results = {model: time_to_quality(model, args.budget, args.check_every, args.n, real, args.seed, args.save_dir)
               for model in args.models}
    for model, reached in results.items():
        report(model, reached, args.budget)


if __name__ == "__main__":
    main()
