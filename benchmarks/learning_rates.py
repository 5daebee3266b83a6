"""How fast each model learns at several Adam learning rates, judged every few hundred steps.

Trains one family (`ganutils train`'s defaults apart from the learning rate) on the MNIST
training digits this machine has, at each rate in turn, and every --every steps prints the
judge's figure for 1,000 samples: conditional accuracy for conditional models, classifier
score for the others, both for G itself and for the moving average of its weights (the
generator the course samples). This is how the course chose its default rates. Usage:

    python benchmarks/learning_rates.py cdcgan --rates 2e-4 1e-3 [--steps 1500] [--every 250]
"""

import argparse

import keras

from ganutils.data import load_mnist
from ganutils.evaluate import evaluate_generator
from ganutils.models import FAMILIES, build_models
from ganutils.training import GANTrainer, TrainConfig


def learning_curve(family, rate, steps, every, real):
    """Yield (step, G's figure, the weight average's figure) while training `family` at `rate`."""
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(*build_models(family), TrainConfig(family=family, learning_rate=rate))
    labels = real.labels if trainer.conditional else None
    metric = "conditional_accuracy" if trainer.conditional else "classifier_score"
    while trainer.step < steps:
        trainer.fit(real.images, labels, steps=min(steps, trainer.step + every), verbose=0)
        figures = [
            evaluate_generator(generator, n=1000, seed=123, real=real)["generated"][metric]
            for generator in (trainer.generator, trainer.sampling_generator)
        ]
        yield trainer.step, *figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--rates", type=float, nargs="+", default=[2e-4, 1e-3])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=250)
    args = parser.parse_args()
    real = load_mnist("train")
    for rate in args.rates:
        for step, last_step, average in learning_curve(args.family, rate, args.steps, args.every, real):
            print(f"{args.family}, learning rate {rate:g}: step {step:>5}: G {last_step:.3f}, "
                  f"weight average {average:.3f}", flush=True)


if __name__ == "__main__":
    main()
