"""Print the README's results table from trained_models/*.metrics.json and *.run.json."""

import json
from pathlib import Path

MODELS = ("gan", "cgan", "dcgan", "cdcgan")
FOLDER = Path(__file__).resolve().parents[1] / "trained_models"


def cell(figures, key, form):
    """One generated-vs-real cell, or a dash when the model has no such figure."""
    if key not in figures["generated"]:
        return "-"
    return f"{form.format(figures['generated'][key])} ({form.format(figures['real'][key])})"


def main():
    print("| model | steps | learning rate | weight average | training time | classifier score, N=1,000 (real) | Fréchet distance (real) "
          "| conditional accuracy (real) | cross-entropy (real) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in MODELS:
        figures = json.loads((FOLDER / f"{model}.metrics.json").read_text())
        run = json.loads((FOLDER / f"{model}.run.json").read_text())
        decay = run["config"].get("ema_decay", 0)  # runs from before weight averaging have none
        clusters = run["config"].get("clusters", 0)
        name = f"`{model}`, self-conditioned on {clusters} clusters" if clusters else f"`{model}`"
        print(f"| {name} | {run['steps']:,} | {run['config']['learning_rate']:g} | {f'{decay:g}' if decay else 'none'} "
              f"| {run['seconds'] / 60:.1f} min "
              f"| {cell(figures, 'classifier_score', '{:.2f}')} | {cell(figures, 'frechet_distance', '{:.1f}')} "
              f"| {cell(figures, 'conditional_accuracy', '{:.1%}')} | {cell(figures, 'cross_entropy', '{:.3f}')} |")


if __name__ == "__main__":
    main()
