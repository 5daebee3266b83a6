"""What the shipped generators draw: how much they copy their training digits, and which digits the unconditional ones draw.

For 1,000 samples of each generator in trained_models/: the copying ratio, the median of
(pixel distance to the nearest training digit) / (pixel distance to the nearest digit of a
held-out real set as large as the training set), beside the same for held-out real digits
(about 1; a generator that copies gives well below 1); and for a generator without labels, the
share of its samples the judge reads as each digit (the floor for lesson 3: 5% to 15% each). The held-out digits are MNIST's test split (--held-out-dir); the training
digits are those the lessons train on (the first source that works: 5,000 offline digits here).

    python benchmarks/shipped_models.py [--held-out-dir ../shared/data/mnist-t10k]
"""

import argparse
from pathlib import Path

import numpy as np

from ganutils.config import SHIPPED_MODELS
from ganutils.data import load_dataset
from ganutils.evaluate import copying_ratio, digit_shares, generator_samples
from ganutils.sampling import load_generator

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = 1_000
DEFAULT_HELD_OUT = ROOT.parent / "shared" / "data" / "mnist-t10k"


def held_out_sets(held_out, size):
    """An equal-size held-out reference, and `SAMPLES` other held-out digits to measure real digits by."""
    if len(held_out.images) < size + SAMPLES:
        raise SystemExit(f"--held-out-dir: {len(held_out.images):,} digits; the reference needs {size + SAMPLES:,}")
    order = np.random.default_rng(0).permutation(len(held_out.images))
    return held_out.images[order[:size]], held_out.images[order[size:size + SAMPLES]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out-dir", type=Path, default=DEFAULT_HELD_OUT, help="MNIST's test split")
    parser.add_argument("--data-dir", help="directory with the training digits (default: the first source that works)")
    args = parser.parse_args()
    training = load_dataset("mnist", data_dir=args.data_dir)
    held_out = load_dataset("mnist", "test", data_dir=args.held_out_dir, verbose=False)
    reference, unseen = held_out_sets(held_out, len(training.images))
    print(f"copying ratio, median of {SAMPLES:,}: nearest of {len(training.images):,} training digits "
          f"/ nearest of {len(reference):,} held-out digits")
    print(f"held-out real digits: copying ratio {copying_ratio(unseen, training.images, reference):.3f}")
    for model in SHIPPED_MODELS:
        images, labels = generator_samples(load_generator(ROOT / "trained_models" / f"{model}.keras"), SAMPLES)
        shares = "" if labels is not None else ", digits " + " ".join(f"{share:.1%}" for share in digit_shares(images))
        print(f"{model}: copying ratio {copying_ratio(images, training.images, reference):.3f}{shares}")


if __name__ == "__main__":
    main()
