"""Helpers the course's notebooks share: quick mode for tests, output folders, snapshots, display."""

import atexit
import os
import shutil
import tempfile
from importlib import metadata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ganutils.config import recipe_name
from ganutils.plotting import StepSnapshots  # noqa: F401  (the lessons' snapshot callback)

QUICK_VARIABLE = "GANUTILS_QUICK"
GIF_WIDTH = 600  # screen pixels a lesson shows its training GIF at


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


def course_root(folder=None):
    """The repository that holds a notebook's folder (`folder`, default the working one), or None.

    A lesson runs in its own folder: `notebooks/` inside the course's repository, or anywhere
    else when it was opened alone (Colab, a downloaded notebook).
    """
    folder = Path(folder or Path.cwd()).resolve()
    inside = folder.name == "notebooks" and (folder.parent / "ganutils" / "course.py").is_file()
    return folder.parent if inside else None


def results_folder(folder=None):
    """Where full runs keep their results: the repository when the notebook is inside it, else its own folder."""
    folder = Path(folder or Path.cwd())
    return course_root(folder) or folder


def temporary_folder(prefix):
    """A new temporary folder, removed when Python (the notebook's kernel) exits normally."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def output_paths(model_name, folder=None):
    """Where a lesson writes: `evaluation_images/<model>/` and `training_gif/<model>.gif`.

    Those folders are the repository's when the notebook is inside it, and beside the notebook
    otherwise; in quick mode they are in a new temporary folder, so that the notebook tests
    never overwrite the results of full runs. Snapshot frames always go to a temporary folder.
    """
    root = temporary_folder("ganutils-quick-") if quick_mode() else results_folder(folder)
    paths = OutputPaths(
        evaluation_dir=root / "evaluation_images" / model_name,
        snapshot_dir=temporary_folder(f"{model_name}-snapshots-"),
        gif=root / "training_gif" / f"{model_name}.gif",
    )
    for output_folder in (paths.evaluation_dir, paths.gif.parent):
        output_folder.mkdir(parents=True, exist_ok=True)
    return paths


def describe_environment():
    """One line: Keras' version, its backend's, and where training runs (each lesson's setup)."""
    import keras

    from ganutils.training import training_device

    backend = keras.backend.backend()  # named as its package is: tensorflow, jax or torch
    return f"Keras {keras.__version__}, {backend} {metadata.version(backend)}; training on {training_device()}"


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


def show_settings(config, steps):
    """Print a lesson's recipe: its steps and the settings it trains with."""
    settings = ", ".join(f"{name}={value}" for name, value in config.as_dict().items())
    print(f"{steps:,} steps of the {recipe_name(config.family, config.clusters)} recipe: {settings}")


def export_model(name, trainer, generator, digits, folder=None):
    """Save a lesson's trained generator as `trained_models/NAME.keras`, with its `run.json` and `metrics.json`.

    The files are those `ganutils train` and `ganutils evaluate --n 1000 --json` write for the
    same run, staged so that they replace an earlier export together. They go into the course's
    `trained_models/` (or `folder`) after a full run, and into a temporary folder in quick mode.
    """
    from ganutils.data import fingerprint
    from ganutils.evaluate import evaluate_generator, judge_info
    from ganutils.files import deflate_zip, staged_outputs, write_json
    from ganutils.run import run_summary

    trainer.data = fingerprint(digits)
    root = temporary_folder("ganutils-quick-") if quick_mode() else results_folder()
    folder = Path(root / "trained_models" if folder is None or quick_mode() else folder)
    folder.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_generator(generator, n=full_or_quick(1000, 100))
    with staged_outputs(folder, last=f"{name}.run.json") as staging:
        generator.save(staging / f"{name}.keras")
        deflate_zip(staging / f"{name}.keras")
        write_json(staging / f"{name}.metrics.json", {"generator": f"trained_models/{name}.keras", "judge": judge_info(), **metrics})
        write_json(staging / f"{name}.run.json", run_summary(trainer, digits.source))
    shown = folder.relative_to(root) if folder.is_relative_to(root) else folder
    print(f"Saved the generator as {shown / (name + '.keras')}, with its run.json and metrics.json")


def say_closer(*named_results):
    """Print which of several (name, `report_metrics` results) is closest to real digits in Fréchet distance."""
    name, _ = min(named_results, key=lambda named: named[1]["generated"]["frechet_distance"])
    print(f"Closer to real digits in Fréchet distance: {name}")


def show_gif(path):
    """Display a training GIF `GIF_WIDTH` pixels wide (its frames have one pixel per image pixel)."""
    from IPython.display import Image

    return Image(filename=str(path), width=GIF_WIDTH)


def show_grids(named_generators, n=100, seed=0):
    """Show side by side a grid of `n` samples from each of several (title, generator), all from the same noise."""
    import matplotlib.pyplot as plt

    from ganutils.plotting import image_grid
    from ganutils.sampling import sample_images

    figure, axes = plt.subplots(1, len(named_generators), figsize=(5 * len(named_generators), 5))
    for axis, (title, generator) in zip(np.atleast_1d(axes), named_generators):
        axis.imshow(image_grid(sample_images(generator, n, seed=seed)[0]), cmap="gray")
        axis.set_title(title)
        axis.axis("off")
    plt.show()


def print_digit_shares(generator, real_images, n=1000):
    """Print the share of each digit, as the judge reads them, among `n` samples and among `n` real digits."""
    from ganutils.evaluate import digit_shares, generator_samples

    shares = {"generated": digit_shares(generator_samples(generator, n)[0]),
              "real": digit_shares(real_images[np.random.default_rng(0).permutation(len(real_images))[:n]])}
    print("digit      " + "".join(f"{digit:>7}" for digit in range(len(shares["real"]))))
    for name, values in shares.items():
        print(f"{name:<11}" + "".join(f"{share:>7.1%}" for share in values))
    return shares


def nearest_training_digits(generator, training_images, n=1000, shown=8):
    """Show `shown` samples above their nearest training digits, and print `evaluate.memorisation_ratio` of `n` samples."""
    from ganutils.evaluate import generator_samples, memorisation_ratio, nearest_neighbours

    samples = generator_samples(generator, full_or_quick(n, 100))[0]
    nearest = training_images[nearest_neighbours(samples[:shown], training_images)[0][:, 0]]
    pairs = np.concatenate([samples[:shown].reshape(nearest.shape), nearest])
    _show_grid((pairs + 1) / 2, columns=shown, figsize=(shown, 2.4), title="top: samples; bottom: the nearest training digit of each")
    ratio = memorisation_ratio(samples, training_images, n=full_or_quick(n, 100))
    print(f"Memorisation ratio: {ratio:.2f} (about 1 or more: new digits; well below 1: copies of training digits)")
    return ratio


def show_interpolation(generator, pairs=4, steps=10, label=None, seed=0):
    """Show rows of images along straight lines in noise space, each between two random noise vectors."""
    from ganutils.sampling import fixed_noise, generate_images

    ends = fixed_noise(generator, 2 * pairs, seed).reshape(pairs, 2, -1)
    weights = np.linspace(0.0, 1.0, steps, dtype=np.float32)[None, :, None]
    noise = ((1 - weights) * ends[:, :1] + weights * ends[:, 1:]).reshape(pairs * steps, -1)
    labels = None if label is None else np.full(len(noise), label, np.int32)
    _show_grid(generate_images(generator, noise, labels), columns=steps, figsize=(steps, 1.1 * pairs))


def _show_grid(images, columns, figsize, title=None):
    """Show images in [0, 1] as one grid, in a figure of its own."""
    import matplotlib.pyplot as plt

    from ganutils.plotting import image_grid

    plt.figure(figsize=figsize)
    plt.imshow(image_grid(images, columns=columns), cmap="gray")
    if title:
        plt.title(title)
    plt.axis("off")
    plt.show()
