"""How far one figure of the evaluator moves with its draw: the shipped generators judged over several draws of noise and real digits.

`ganutils evaluate` and each `metrics.json` judge 1,000 samples and 1,000 real digits drawn with
seed 0. For each generator in trained_models/, this judges it with seeds 0 to --draws - 1 and
prints the Fréchet distance and classifier score of seed 0, their median and their range, and
the same for the real digits drawn beside them.

    python benchmarks/evaluator_spread.py [--draws 10] [--n 1000]
"""

import argparse
import statistics
from pathlib import Path

from ganutils.config import SHIPPED_MODELS
from ganutils.data import load_dataset
from ganutils.evaluate import evaluate_generator
from ganutils.sampling import load_generator

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {"frechet_distance": "Fréchet distance", "classifier_score": "classifier score"}


def spread(values):
    """The first value, the median and the range of `values`, in words."""
    return f"{values[0]:6.2f}, median {statistics.median(values):6.2f}, range {min(values):6.2f} to {max(values):6.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=10, help="draws of noise and real digits (seeds 0, 1, ...; default 10)")
    parser.add_argument("--n", type=int, default=1000, help="samples per draw, and real digits (default 1000)")
    args = parser.parse_args()
    real = load_dataset("mnist")
    print(f"{args.draws} draws of {args.n:,} samples and {args.n:,} real digits; each figure: seed 0's, median, range")
    for model in SHIPPED_MODELS:
        generator = load_generator(ROOT / "trained_models" / f"{model}.keras")
        runs = [evaluate_generator(generator, n=args.n, seed=seed, real=real) for seed in range(args.draws)]
        for key, name in FIGURES.items():
            print(f"{model:<24} {name:<17} {spread([run['generated'][key] for run in runs])}", flush=True)
    real_runs = runs  # a seed draws the same real digits for every generator, so the last one's serve
    for key, name in FIGURES.items():
        print(f"{'real digits':<24} {name:<17} {spread([run['real'][key] for run in real_runs])}")


if __name__ == "__main__":
    main()
