"""Command line: `python -m ganutils train|sample|evaluate ...`.

Arguments are checked before Keras and its backend are imported, so bad input fails in a moment
with one line on stderr and exit status 2; a failure while working exits with status 1, also in
one line. `train`'s options are `ganutils.config.TrainConfig`'s fields, with its defaults and checks.
"""

import argparse
import os
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

from ganutils.config import (
    BACKENDS,
    DATASETS,
    FAMILIES,
    GENERATOR_LOSSES,
    LABEL_INPUTS,
    MAX_SEED,
    RECIPE_SETTINGS,
    RECIPES,
    ConfigError,
    TrainConfig,
    option_name,
    setting_type,
    settings,
)

SAMPLE_FORMATS = (".npz", ".png")
CHOICES = {"family": FAMILIES, "data": DATASETS, "generator_loss": GENERATOR_LOSSES, "label_input": LABEL_INPUTS}
MAX_SAMPLES = 100_000  # images `sample` and `evaluate` draw at most: 314 MB as float32
MAX_GRID_IMAGES = 10_000  # images in a .png grid at most: about 400 MB of memory while it is drawn


class CommandLineError(Exception):
    """Bad input from the user, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not a usage block."""

    def error(self, message):
        raise CommandLineError(message)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {value}")
    return value


def _digit(text):
    if text.strip() not in {str(digit) for digit in range(10)}:
        raise argparse.ArgumentTypeError(f"a label is a digit from 0 to 9, got {text!r}")
    return int(text)


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_SEED}, got {text!r}")
    return value


def _path(text):
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty one")
    return text


def _device_count(text):
    if text == "all":
        return text
    try:
        return _positive_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number or all, got {text!r}") from None


def _sample_count(text):
    value = _positive_int(text)
    if value > MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"at most {MAX_SAMPLES:,} images, got {value:,}")
    return value


def _add_config_options(parser):
    """One option per `TrainConfig` setting (the family is the `model` argument), with its default and help.

    An option not given is left out of the parsed arguments, so that `given_settings` tells which were.
    """
    for setting in settings():
        if setting.name == "family":
            continue
        help = setting.metadata["help"]
        if setting.default is False:
            parser.add_argument(option_name(setting.name), action="store_true", default=argparse.SUPPRESS, help=help)
            continue
        if setting.default is not None:
            help += f" (default {setting.default})"
        elif setting.name in RECIPE_SETTINGS:
            help += f" (default: the recipe's, {_recipe_values(setting.name)})"
        parser.add_argument(option_name(setting.name), type=setting_type(setting), default=argparse.SUPPRESS,
                            choices=CHOICES.get(setting.name), help=help)


def _recipe_values(name):
    """A setting's value in each recipe of `RECIPES`, in words: "30000 for gan, ..."."""
    return ", ".join(f"{recipe[name]} for {key}" for key, recipe in RECIPES.items())


def given_settings(args):
    """The `TrainConfig` settings given on the command line, by name."""
    return {setting.name: getattr(args, setting.name) for setting in settings() if hasattr(args, setting.name)}


def _train_config(args):
    """The run's `TrainConfig` from the parsed options; a setting out of range is the user's error."""
    try:
        return TrainConfig(family=args.model, **given_settings(args))
    except ConfigError as error:
        raise CommandLineError(f"{option_name(error.setting)} {error.message}") from None


def build_parser():
    """The `ganutils` argument parser with its `train` and `sample` commands."""
    parser = _Parser(prog="ganutils", description="Train GANs on MNIST and sample from them.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    train = commands.add_parser("train", help="train a GAN and write its models and pictures")
    train.add_argument("model", choices=CHOICES["family"], help="which GAN to train")
    length = train.add_mutually_exclusive_group()
    length.add_argument("--steps", type=_positive_int, help=f"training steps in all (default: the recipe's, {_recipe_values('steps')})")
    length.add_argument("--epochs", type=_positive_int, help="passes over the training set in all")
    _add_config_options(train)
    train.add_argument("--data-dir", type=_path, help="directory with mnist.npz or the IDX .gz files")
    train.add_argument("--out", type=_path, default=None, help="output directory (default runs/MODEL)")
    start = train.add_mutually_exclusive_group()
    start.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    start.add_argument("--overwrite", action="store_true", help="replace the run that --out holds, if any")
    train.add_argument("--devices", type=_device_count, default=1,
                       help="devices to split each batch across, a number or all (data parallel, on JAX; default 1)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)

    sample = commands.add_parser("sample", help="draw images from a trained generator")
    sample.add_argument("generator", help="a generator saved as .keras (e.g. runs/cdcgan/generator.keras)")
    sample.add_argument("--n", type=_sample_count, required=True,
                        help=f"number of images (at most {MAX_SAMPLES:,}; {MAX_GRID_IMAGES:,} in a .png grid)")
    sample.add_argument("--label", type=_digit, help="digit to draw (conditional models only)")
    sample.add_argument("--seed", type=_seed, default=0, help="random seed for the noise (default 0)")
    sample.add_argument("--out", type=_path, required=True, help="output file: .npz (arrays) or .png (a grid)")
    sample.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    sample.set_defaults(handler=_sample)

    evaluate = commands.add_parser("evaluate", help="measure a generator's samples against real digits")
    evaluate.add_argument("generator", help="a generator saved as .keras (e.g. trained_models/cdcgan.keras)")
    evaluate.add_argument("--n", type=_sample_count, default=1000, help="samples, and real digits (default 1000)")
    evaluate.add_argument("--seed", type=_seed, default=0, help="random seed for noise and real digits (default 0)")
    evaluate.add_argument("--data-dir", type=_path, help="directory with the real MNIST training digits (mnist.npz or IDX)")
    evaluate.add_argument("--json", type=_path, help="also write the figures to this .json file (a new one, or with --overwrite)")
    evaluate.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    evaluate.set_defaults(handler=_evaluate)
    return parser


def _check_output_file(path, overwrite, option="--out", formats=SAMPLE_FORMATS):
    """An output file must have one of `formats` as suffix, lie in a directory that exists and no run holds, and be new unless `overwrite`."""
    from ganutils.run_folder import RunError, check_unlocked

    path = Path(path)
    if path.suffix.lower() not in formats:
        raise CommandLineError(f"{option} must end in {' or '.join(formats)}, got {path.name!r}")
    if path.is_symlink():
        raise CommandLineError(f"{option} {path} is a symbolic link; give the file's own path")
    if not path.parent.is_dir():
        raise CommandLineError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise CommandLineError(f"cannot write {path}: it is a directory")
    if path.exists() and not overwrite:
        raise CommandLineError(f"{option} {path} exists: choose another name, or replace it with --overwrite")
    try:
        check_unlocked(path.parent)
    except RunError as error:
        raise CommandLineError(f"{option} {path}: {error}") from None


def _check_data_dir(data_dir):
    if data_dir and not Path(data_dir).is_dir():
        raise CommandLineError(f"--data-dir {data_dir} is not a directory")


def _check_output_dir(path):
    if path.is_symlink() and not path.is_dir():
        raise CommandLineError(f"--out {path} is a symbolic link to nothing (dangling, or a loop)")
    if path.exists() and not path.is_dir():
        raise CommandLineError(f"--out {path} exists and is not a directory")


def _import_backend_quietly():
    """Import Keras and its backend with the backend's C++ start-up lines (oneDNN, CUDA probing) kept off stderr."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved_stderr = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            import keras  # noqa: F401  (imports the backend that KERAS_BACKEND names)
        except ModuleNotFoundError as error:
            raise CommandLineError(_missing_backend(error)) from None
        finally:
            os.dup2(saved_stderr, 2)
            os.close(saved_stderr)


def _missing_backend(error):
    """What to install when Keras could not import a package: its backend's (each is an extra of ganutils), or another."""
    package = (error.name or "").split(".")[0]
    if package not in BACKENDS:
        return f"Keras could not load: {error}"
    return (f"Keras' {package} backend (KERAS_BACKEND, or ~/.keras/keras.json) is not installed: "
            f"pip install \"ganutils[{package}]\", or choose another with KERAS_BACKEND")


def _train(args):
    from ganutils.run_folder import CHECKPOINT, check_run_folder

    out_dir = Path(args.out or Path("runs") / args.model)
    _check_output_dir(out_dir)
    _check_data_dir(args.data_dir)
    config = _train_config(args)
    check_run_folder(out_dir, resume=args.resume, overwrite=args.overwrite)
    _import_backend_quietly()
    from ganutils.devices import DevicesError
    from ganutils.run import train_run

    steps = args.steps if args.steps or args.epochs or args.resume else config.recipe_steps
    try:
        train_run(config, out_dir, steps=steps, epochs=args.epochs, resume=args.resume, overwrite=args.overwrite,
                  data_dir=args.data_dir, verbose=0 if args.quiet else 1, given=tuple(given_settings(args)),
                  devices=args.devices)
    except DevicesError as error:
        raise CommandLineError(f"--devices {args.devices}: {error}") from None
    except StandardOutputError as error:
        checkpoint = out_dir / CHECKPOINT
        after = f"the last checkpoint is {checkpoint}: continue with --resume" if checkpoint.exists() else "no checkpoint was saved"
        raise StandardOutputError(f"{error}; {after}") from None


def _sample(args):
    from ganutils.files import check_model_file

    _check_output_file(args.out, args.overwrite)
    if Path(args.out).suffix.lower() == ".png" and args.n > MAX_GRID_IMAGES:
        raise CommandLineError(f"--n: a .png grid holds at most {MAX_GRID_IMAGES:,} images, got {args.n:,}; write .npz for more")
    check_model_file(args.generator)
    _import_backend_quietly()
    from ganutils.models import is_conditional
    from ganutils.run_folder import finish_interrupted_outputs
    from ganutils.sampling import load_generator, sample_images

    finish_interrupted_outputs(Path(args.generator).parent)

    generator = load_generator(args.generator)
    if args.label is not None and not is_conditional(generator):
        raise CommandLineError(f"{args.generator} is an unconditional generator: it takes no --label")
    with _blaming(args.generator):
        images, labels = sample_images(generator, args.n, label=args.label, seed=args.seed)
    _write_samples(Path(args.out), images, labels)
    print(f"Wrote {args.n} images to {args.out}")


def _evaluate(args):
    from ganutils.files import check_model_file, write_json

    if args.n < 2:
        raise CommandLineError(f"--n must be at least 2, got {args.n}")
    if args.json:
        _check_output_file(args.json, args.overwrite, "--json", (".json",))
    _check_data_dir(args.data_dir)
    check_model_file(args.generator)
    _import_backend_quietly()
    from ganutils.data import load_mnist
    from ganutils.evaluate import evaluate_generator, format_report, judge_info
    from ganutils.run_folder import finish_interrupted_outputs
    from ganutils.sampling import load_generator

    finish_interrupted_outputs(Path(args.generator).parent)

    generator = load_generator(args.generator)
    real = load_mnist("train", data_dir=args.data_dir, verbose=False)
    with _blaming(args.generator):
        results = evaluate_generator(generator, n=args.n, seed=args.seed, real=real)
    info = judge_info()
    print(f"judge: CNN trained on {info['trained_on']}, {info['held_out_accuracy']:.1%} accurate on {info['held_out']}")
    print(f"generated: {args.n:,} samples from {args.generator}; real: {args.n:,} digits from {real.source}")
    print(format_report(results))
    if args.json:
        write_json(args.json, {"generator": str(args.generator), "judge": info, **results})


@contextmanager
def _blaming(generator_path):
    """Report a generator that draws NaN or infinite pixels as a fault of its file."""
    from ganutils.files import ModelFileError
    from ganutils.sampling import NonFiniteImagesError

    try:
        yield
    except NonFiniteImagesError as error:
        raise ModelFileError(f"{generator_path}: {error}") from None


def _write_samples(path, images, labels):
    """Write samples as .npz arrays or a .png grid, atomically, after removing what an earlier write to `path` left."""
    import numpy as np

    from ganutils.files import atomic_output, remove_partial_files
    from ganutils.plotting import save_image_grid

    remove_partial_files(path.parent, path)
    if path.suffix.lower() == ".png":
        save_image_grid(images, path)
        return
    arrays = {"images": images} if labels is None else {"images": images, "labels": labels}
    with atomic_output(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)


class StandardOutputError(Exception):
    """Standard output cannot be written (a closed pipe, a full disk)."""


class _NamedStandardOutput:
    """sys.stdout, whose write failures say that standard output failed."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self._named(self.stream.write, text)

    def flush(self):
        return self._named(self.stream.flush)

    def _named(self, write, *args):
        try:
            return write(*args)
        except OSError as error:
            raise StandardOutputError(f"cannot write to standard output ({error.strerror or error})") from None

    def __getattr__(self, name):
        return getattr(self.stream, name)


@contextmanager
def _standard_output_named():
    """Report a failure to write standard output as such, and keep the interpreter's last flush from failing again."""
    stream = sys.stdout
    sys.stdout = _NamedStandardOutput(stream)
    try:
        yield
    except StandardOutputError:
        if stream is sys.__stdout__:
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())  # what is still buffered goes nowhere
        raise
    finally:
        sys.stdout = stream


INTERRUPTED = {
    "train": "training stopped; continue the run with --resume",
    "sample": "sampling stopped; nothing was written",
    "evaluate": "evaluation stopped; nothing was written",
}


def _interrupt(signal_number, frame):
    """Stop on SIGTERM as on Ctrl-C, so that a run's lock and temporary files are cleaned up."""
    raise KeyboardInterrupt


def main(argv=None):
    """Run the command line; returns the exit status."""
    signal.signal(signal.SIGTERM, _interrupt)
    command = None
    try:
        args = build_parser().parse_args(argv)
        command = args.command
        with _standard_output_named():
            args.handler(args)
            sys.stdout.flush()
    except CommandLineError as error:
        print(f"ganutils: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ganutils: interrupted: {INTERRUPTED.get(command, 'stopped')}", file=sys.stderr)
        return 130
    except StandardOutputError as error:
        print(f"ganutils: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, OSError) as error:
        if os.environ.get("GANUTILS_DEBUG"):
            raise
        print(f"ganutils: error: {error}", file=sys.stderr)
        return 1
    return 0
