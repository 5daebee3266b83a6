"""Time the `ganutils` training loop on the backend Keras runs (`KERAS_BACKEND`), for one family.

Prints one line, `ms/step <median>`, after the same warm-up and repetitions as loop_speed.py,
which runs this script in a process of its own for each other backend. Usage:

    KERAS_BACKEND=jax python benchmarks/backend_step.py [--family dcgan] [--batch-size 128] [--steps 20] [--repeats 5]
"""

import argparse
import statistics
import time

import keras

from ganutils.config import FAMILIES, TrainConfig
from ganutils.data import load_mnist
from ganutils.models import build_models
from ganutils.training import GANTrainer


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=FAMILIES, default="dcgan")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="steps per timed repetition")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=10, help="untimed steps first (tracing, compiling)")
    args = parser.parse_args()
    digits = load_mnist("train", verbose=False)
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(*build_models(args.family), TrainConfig(family=args.family, batch_size=args.batch_size))
    trainer.fit(digits.images, digits.labels, steps=args.warmup, verbose=0)
    seconds = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        trainer.fit(digits.images, digits.labels, steps=trainer.step + args.steps, verbose=0)
        seconds.append(time.perf_counter() - started)
    print(f"ms/step {1000 * statistics.median(seconds) / args.steps:.1f}")


if __name__ == "__main__":
    main()
