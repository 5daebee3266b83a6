"""Helpers the course's notebooks share: quick mode for tests, output folders, snapshots, display."""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ganutils.plotting import EpochSnapshots  # noqa: F401  (the lessons' snapshot callback)

QUICK_VARIABLE = "GANUTILS_QUICK"


def quick_mode():
    """True when $GANUTILS_QUICK is set (as the tests set it): notebooks then train only briefly."""
    return os.environ.get(QUICK_VARIABLE, "") not in ("", "0")


def full_or_quick(full, quick):
    """A notebook setting: `full` for a real run, `quick` under the notebook tests."""
    return quick if quick_mode() else full


@dataclass
class OutputPaths:
    """Where a notebook writes its per-digit images, epoch snapshots and training GIF."""

    evaluation_dir: Path
    snapshot_dir: Path
    gif: Path


def output_paths(model_name, course_root=".."):
    """The course's `evaluation_images/<model>/` and `training_gif/<model>.gif`.

    In quick mode everything goes to a temporary folder instead, so running the notebook
    tests never overwrites the results committed from full runs.
    """
    root = Path(tempfile.mkdtemp(prefix="ganutils-quick-")) if quick_mode() else Path(course_root)
    paths = OutputPaths(
        evaluation_dir=root / "evaluation_images" / model_name,
        snapshot_dir=Path(tempfile.mkdtemp(prefix=f"{model_name}-snapshots-")),
        gif=root / "training_gif" / f"{model_name}.gif",
    )
    for folder in (paths.evaluation_dir, paths.gif.parent):
        folder.mkdir(parents=True, exist_ok=True)
    return paths


def show_image(path):
    """Display a PNG or GIF file in the notebook."""
    from IPython.display import Image

    return Image(filename=str(path))


def report_metrics(generator, n=1000):
    """Print the judge's figures for a lesson's trained generator beside real digits (each lesson's end)."""
    from ganutils.evaluate import evaluate_generator, format_report

    results = evaluate_generator(generator, n=full_or_quick(n, 100))
    print(format_report(results))
    return results
