"""Steps per second of each model on every Keras backend installed, beside a plain reference step.

For each backend whose package is installed (JAX, PyTorch, TensorFlow), in a process of its own:
each family trains for --steps steps with the `ganutils` loop (`GANTrainer.fit`, one
`train_on_batch` call a step), then for as many with a plain step on the same models
(`reference_steps.py`: a jitted JAX step, or TensorFlow's tutorial step; PyTorch has none),
after a warm-up each; the ratio says what the course's loop costs over the plain step on
whatever GPU this runs. On JAX with more than one device, a data-parallel line follows: the
cDCGAN's images per second at batch 64 per device, on one device and on all of them
(`GANTrainer(devices="all")`), and the scaling efficiency (all devices' rate / (N x one's)).
Last, a cDCGAN trains --accuracy-steps steps with the `ganutils` loop and the judge reads its
samples (conditional accuracy, N=1,000; 0 skips it). Usage:

    python benchmarks/gpu_check.py [--steps 300] [--accuracy-steps 3000] [--backends jax torch] [--cpu]

Without --cpu, a backend that sees no GPU is skipped.
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import time

BACKENDS = {"jax": "jax", "torch": "torch", "tensorflow": "tensorflow"}  # backend: the package it needs
FAMILIES = ("gan", "cgan", "dcgan", "cdcgan")


def steps_per_second(run_step, batches, steps, warmup=20):
    """Steps per second of `run_step(images, labels)` over `steps` steps, after `warmup` untimed ones."""
    for _ in range(warmup):
        run_step(*next(batches))
    started = time.perf_counter()
    for _ in range(steps):
        run_step(*next(batches))
    return steps / (time.perf_counter() - started)


def check_backend(args):
    """Runs in the backend's own process: the timings and the cDCGAN's accuracy."""
    import keras
    from reference_steps import batches, reference_step

    from ganutils.config import TrainConfig
    from ganutils.data import load_mnist
    from ganutils.models import build_models
    from ganutils.training import GANTrainer, training_device

    device = training_device()
    print(f"{keras.backend.backend()}: Keras {keras.__version__}, training on {device}", flush=True)
    if not args.cpu and device.startswith("CPU"):
        print(f"{keras.backend.backend()}: skipped, it sees no GPU (--cpu times it anyway)")
        return
    real = load_mnist("train")
    for family in FAMILIES:
        config = TrainConfig(family=family)
        keras.utils.set_random_seed(0)
        trainer = GANTrainer(*build_models(family), config)
        labels_given = trainer.conditional
        ganutils_rate = steps_per_second(lambda x, y: trainer.train_step(x, y if labels_given else None),
                                         batches(real.images, real.labels, config.batch_size), args.steps)
        keras.utils.set_random_seed(0)
        reference = reference_step(*build_models(family), config)
        line = f"{keras.backend.backend()} {family:>7}: ganutils {ganutils_rate:7.1f} steps/s ({1000 / ganutils_rate:6.2f} ms)"
        if reference is not None:
            reference_rate = steps_per_second(reference.run, batches(real.images, real.labels, config.batch_size), args.steps)
            line += (f", plain step {reference_rate:7.1f} steps/s ({1000 / reference_rate:6.2f} ms): "
                     f"ganutils takes {reference_rate / ganutils_rate:.2f}x the plain step's time")
        print(line, flush=True)
    if keras.backend.backend() == "jax" and len(keras.distribution.list_devices()) > 1:
        print(data_parallel_line(real, args.steps), flush=True)
    if args.accuracy_steps:
        print(accuracy_line(real, args.accuracy_steps), flush=True)


def data_parallel_line(real, steps, batch_per_device=64):
    """The cDCGAN's images per second on one device and on all, at `batch_per_device` each, and the scaling efficiency."""
    import keras
    from reference_steps import batches

    from ganutils.config import TrainConfig
    from ganutils.models import build_models
    from ganutils.training import GANTrainer, training_device

    rates = {}
    for devices in (1, len(keras.distribution.list_devices())):
        config = TrainConfig(family="cdcgan", batch_size=batch_per_device * devices)
        keras.utils.set_random_seed(0)
        trainer = GANTrainer(*build_models("cdcgan"), config, devices=devices)
        rates[devices] = config.batch_size * steps_per_second(trainer.train_step, batches(real.images, real.labels, config.batch_size), steps)
    (one, one_rate), (count, all_rate) = rates.items()
    return (f"jax  cdcgan data parallel, batch {batch_per_device} per device: {one_rate:,.0f} images/s on one device, "
            f"{all_rate:,.0f} on {training_device(count)}: scaling efficiency {all_rate / (count * one_rate):.0%}")


def accuracy_line(real, accuracy_steps):
    """The judge's conditional accuracy for a cDCGAN trained `accuracy_steps` steps with the course's loop."""
    import keras

    from ganutils.config import TrainConfig
    from ganutils.evaluate import evaluate_generator
    from ganutils.models import build_models
    from ganutils.training import GANTrainer

    keras.utils.set_random_seed(0)
    trainer = GANTrainer(*build_models("cdcgan"), TrainConfig(family="cdcgan"))
    started = time.perf_counter()
    trainer.fit(real.images, real.labels, steps=accuracy_steps, verbose=0)
    seconds = time.perf_counter() - started
    results = evaluate_generator(trainer.sampling_generator, n=1000, seed=0, real=real)
    return (f"{keras.backend.backend()} cdcgan after {accuracy_steps} steps ({seconds:.1f} s): "
            f"{results['generated']['conditional_accuracy']:.1%} of samples read as their label "
            f"(real digits {results['real']['conditional_accuracy']:.1%})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="timed steps per family and loop (default 300)")
    parser.add_argument("--accuracy-steps", type=int, default=3000, help="cDCGAN steps before its accuracy is read")
    parser.add_argument("--backends", nargs="+", choices=tuple(BACKENDS), default=list(BACKENDS))
    parser.add_argument("--cpu", action="store_true", help="time backends that see no GPU too")
    parser.add_argument("--in-this-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_this_process:
        check_backend(args)
        return
    status = 0
    for backend in args.backends:
        if importlib.util.find_spec(BACKENDS[backend]) is None:
            print(f"{backend}: not installed, skipped")
            continue
        command = [sys.executable, __file__, "--in-this-process", "--steps", str(args.steps),
                   "--accuracy-steps", str(args.accuracy_steps)] + (["--cpu"] if args.cpu else [])
        status |= subprocess.run(command, env={**os.environ, "KERAS_BACKEND": backend}).returncode
    sys.exit(status)


if __name__ == "__main__":
    main()
