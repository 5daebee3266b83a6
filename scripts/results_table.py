"""Print the README's results table from trained_models/*.metrics.json and *.run.json, one row per lesson's generator."""

import json
from pathlib import Path

from ganutils.config import SHIPPED_MODELS, TrainConfig

FOLDER = Path(__file__).resolve().parents[1] / "trained_models"


def cell(figures, key, form):
    """One generated-vs-real cell, or a dash when the model has no such figure."""
    if key not in figures["generated"]:
        return "-"
    return f"{form.format(figures['generated'][key])} ({form.format(figures['real'][key])})"


def model_name(model, config):
    """The generator's file name, and what it was trained on when that is not labels or nothing."""
    return f"`{model}`, self-conditioned on {config.clusters} clusters" if config.clusters else f"`{model}`"


def learning_rate(config):
    """The learning rate, and its half-life where it has one."""
    return f"{config.learning_rate:g}" + (f", halved every {config.halflife:,} steps" if config.halflife else "")


def main():
    print("| lesson | generator | steps | learning rate | weight average | D's shift | training time "
          "| classifier score (real) | Fréchet distance (real) | conditional accuracy (real) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model, lesson in SHIPPED_MODELS.items():
        figures = json.loads((FOLDER / f"{model}.metrics.json").read_text())
        run = json.loads((FOLDER / f"{model}.run.json").read_text())
        config = TrainConfig.from_dict(run["config"])  # a setting the file predates: what it trained with
        decay = config.ema_decay
        print(f"| {lesson[:2]} | {model_name(model, config)} | {run['steps']:,} | {learning_rate(config)} "
              f"| {f'{decay:g}' if decay else 'none'} | {config.max_shift} px | {run['seconds'] / 60:.1f} min "
              f"| {cell(figures, 'classifier_score', '{:.2f}')} | {cell(figures, 'frechet_distance', '{:.1f}')} "
              f"| {cell(figures, 'conditional_accuracy', '{:.1%}')} |")


if __name__ == "__main__":
    main()
