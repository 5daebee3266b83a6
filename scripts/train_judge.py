"""Train the MNIST judge that `ganutils.evaluate` ships, and record how accurate it is.

The judge learns from the 10,000 MNIST test digits (original IDX files), with small random
shifts, rotations and zooms, and is checked on MNIST training digits it never saw: the
course's GANs train on those, so the judge is tested on exactly the kind of digit it grades.
Writes ganutils/assets/judge.keras, judge_reference.npz (feature statistics of its training
digits, for the Fréchet distance) and judge.json. Usage:

    python scripts/train_judge.py --data ../shared/data/mnist-t10k
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from ganutils.data import load_mnist
from ganutils.evaluate import JUDGE_INFO_PATH, JUDGE_PATH, REFERENCE_PATH, build_judge, feature_statistics, with_features
from ganutils.files import atomic_output, write_json

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist-t10k"


def augmenter():
    """Small random shifts, rotations and zooms, as handwriting varies."""
    return keras.Sequential([
        keras.layers.RandomTranslation(0.1, 0.1, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomRotation(0.04, fill_mode="constant", fill_value=-1.0),
        keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0),
    ])


def training_batches(digits, batch_size, seed):
    """Shuffled, augmented batches of (image, label), repeated forever."""
    augment = augmenter()
    dataset = tf.data.Dataset.from_tensor_slices((digits.images, digits.labels))
    dataset = dataset.shuffle(len(digits.images), seed=seed).repeat().batch(batch_size)
    return dataset.map(lambda x, y: (augment(x, training=True), y)).prefetch(2)


def train(digits, epochs, batch_size, seed):
    """Fit the judge; the learning rate decays to zero over the run."""
    keras.utils.set_random_seed(seed)
    judge = build_judge()
    steps_per_epoch = len(digits.images) // batch_size
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, epochs * steps_per_epoch)
    judge.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy", metrics=["accuracy"])
    judge.fit(training_batches(digits, batch_size, seed), epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=2)
    return judge


def save(judge, train_digits, info):
    """Write the judge, its training digits' feature statistics and its record, atomically."""
    _, features = with_features(judge).predict(train_digits.images, verbose=0)
    mean, covariance = feature_statistics(features.astype(np.float64))
    JUDGE_PATH.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(JUDGE_PATH) as temporary:
        judge.save(temporary)
    with atomic_output(REFERENCE_PATH) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, mean=mean, covariance=covariance)
    write_json(JUDGE_INFO_PATH, info)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=DEFAULT_DATA, help="folder with the t10k IDX .gz files")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    train_digits = load_mnist("test", data_dir=args.data)
    held_out = load_mnist("train", data_dir=None)
    started = time.time()
    judge = train(train_digits, args.epochs, args.batch_size, args.seed)
    seconds = time.time() - started
    judge.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, accuracy = judge.evaluate(held_out.images, held_out.labels, verbose=0)
    info = {
        "trained_on": f"{len(train_digits.images):,} MNIST test digits (t10k IDX files)",
        "held_out": f"{len(held_out.images):,} MNIST training digits from {held_out.source.split(' (')[0]}",
        "held_out_accuracy": round(float(accuracy), 4),
        "epochs": args.epochs,
        "training_seconds": round(seconds),
    }
    save(judge, train_digits, info)
    print(f"judge: trained on {info['trained_on']} in {seconds:.0f} s; "
          f"accuracy {accuracy:.2%} on {info['held_out']}")


if __name__ == "__main__":
    main()
