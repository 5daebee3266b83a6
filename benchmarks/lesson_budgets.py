"""Each lesson's training time in steps of TensorFlow's tutorial DCGAN step: the budget of the recipes.

Reads the training seconds of each lesson's full run from the run records its exports left in
trained_models/ (lesson 3 trains two generators), times lesson 1's other training here (its toy
games: two in section 1 and one for each exercise, which costs what a default game costs; and
section 8's three short runs), and divides by the seconds of one tutorial step at batch 128 timed here too. The budget is
at most 3,000 such steps a lesson, 4,500 for lesson 3, and 12,000 for the four together. The
lessons' runs and these timings are not one run: run this on the machine and day of the runs.

    python benchmarks/lesson_budgets.py
"""

import json
import time
from pathlib import Path

from lesson_recipes import tutorial_step_seconds

from ganutils import toy
from ganutils.config import SHIPPED_MODELS, TrainConfig
from ganutils.data import load_mnist
from ganutils.models import build_mlp_discriminator, build_mlp_generator
from ganutils.training import GANTrainer, training_device

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = {"01_gan": 3_000, "02_cgan": 3_000, "03_dcgan": 4_500, "04_cdcgan": 3_000}
TOTAL_BUDGET = 12_000
TOY_STEPS = 3_000  # lesson 1's TOY_STEPS, for each of its games
TOY_DISCRIMINATORS = ((128, 128), (128,), (128, 128), (128, 128))  # section 1's two games, then the two exercises'
FAILURE_STEPS = 400  # lesson 1's FAILURE_STEPS, for each of section 8's short runs
FAILURE_SETTINGS = ({"learning_rate": 0.002}, {"learning_rate": 0.002, "generator_loss": "minimax"}, {"learning_rate": 0.01})


def toy_games_seconds():
    """Seconds of lesson 1's toy games: a toy G against each of `TOY_DISCRIMINATORS`."""
    config = TrainConfig(family="gan", batch_size=256, latent_dim=2, learning_rate=1e-3, seed=0)
    ring = toy.ring_of_gaussians(8_192)
    started = time.perf_counter()
    for layers in TOY_DISCRIMINATORS:
        trainer = GANTrainer(toy.build_toy_generator(config.latent_dim), toy.build_toy_discriminator(layers), config)
        trainer.fit(ring, steps=TOY_STEPS, verbose=0)
    return time.perf_counter() - started


def failure_runs_seconds(images):
    """Seconds of lesson 1's short runs of section 8: its MLP GAN with each of `FAILURE_SETTINGS`."""
    started = time.perf_counter()
    for settings in FAILURE_SETTINGS:
        config = TrainConfig(family="gan", **settings)
        trainer = GANTrainer(build_mlp_generator(), build_mlp_discriminator(), config)
        trainer.fit(images, steps=FAILURE_STEPS, verbose=0)
    return time.perf_counter() - started


def lesson_seconds(images):
    """Each lesson's training seconds: its exported runs' (from their run.json), lesson 1's other training timed now."""
    seconds = {lesson: 0.0 for lesson in BUDGETS}
    for model, lesson in SHIPPED_MODELS.items():
        seconds[lesson] += json.loads((ROOT / "trained_models" / f"{model}.run.json").read_text())["seconds"]
    seconds["01_gan"] += toy_games_seconds() + failure_runs_seconds(images)
    return seconds


def main():
    images = load_mnist(verbose=False).images
    tutorial = tutorial_step_seconds(images)
    print(f"on {training_device()}: TensorFlow's tutorial DCGAN step at batch 128 takes {1000 * tutorial:.1f} ms")
    seconds = lesson_seconds(images)
    for lesson, budget in BUDGETS.items():
        print(f"{lesson}: {seconds[lesson]:7.1f} s of training = {seconds[lesson] / tutorial:6.0f} tutorial steps (budget {budget:,})")
    total = sum(seconds.values())
    print(f"all four: {total:7.1f} s = {total / tutorial:6.0f} tutorial steps (budget {TOTAL_BUDGET:,})")


if __name__ == "__main__":
    main()
