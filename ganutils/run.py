"""The end-to-end job behind `ganutils train`: train with checkpoints, then write every output."""

import json
import time
from pathlib import Path

import matplotlib.pyplot as plt

from ganutils.data import cluster_images, cluster_shares, load_dataset
from ganutils.files import atomic_output, write_json
from ganutils.models import build_models, with_cluster_code
from ganutils.plotting import StepSnapshots, plot_history, save_evaluation_images, save_training_gif
from ganutils.config import TrainConfig
from ganutils.training import (
    CheckpointError,
    GANTrainer,
    prepare_run,
    read_checkpoint_state,
    save_history,
    training_device,
)

CHECKPOINT = "checkpoint.npz"
SNAPSHOTS = "snapshots"


class RunError(ValueError):
    """A training run cannot start as asked (for example, nothing to resume)."""


def resumed_config(out_dir, family):
    """The config and step target saved in `out_dir`'s checkpoint, checked against `family`."""
    checkpoint = Path(out_dir) / CHECKPOINT
    if not checkpoint.exists():
        raise RunError(f"{out_dir}: no {CHECKPOINT} to resume from")
    try:
        state = read_checkpoint_state(checkpoint)
    except CheckpointError:
        raise
    except Exception as error:  # numpy raises several types for a damaged archive.
        raise RunError(f"{checkpoint}: unreadable checkpoint ({type(error).__name__})") from None
    config = TrainConfig(**state["config"])
    if config.family != family:
        raise RunError(f"{checkpoint} belongs to a {config.family} run, not {family}")
    return config, state["total_steps"]


def train_run(config, out_dir, steps=None, epochs=None, resume=False, data_dir=None, verbose=1):
    """Train `config.family` into `out_dir`, checkpointing each epoch; returns the trainer.

    With `resume`, the config, weights, optimizer states, history and step count come from
    the checkpoint in `out_dir`, and training continues to `steps` (or the saved target).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if resume:
        config, saved_total = resumed_config(out_dir, config.family)
        if steps is None and epochs is None:
            steps = saved_total
    prepare_run(config)
    digits = load_dataset(config.data, data_dir=data_dir)
    trainer = GANTrainer(*build_models(config.family, config.latent_dim, config.clusters), config)
    labels, generator = training_labels_and_generator(trainer, digits)
    if resume:
        trainer.restore_checkpoint(out_dir / CHECKPOINT)
        print(f"Resuming from step {trainer.step} of {out_dir / CHECKPOINT}")
    else:
        _remove_old_snapshots(out_dir)
    print(f"Training {config.family} on {training_device()}, batch size {config.batch_size}")
    started, first_step = time.time(), trainer.step
    trainer.fit(
        digits.images,
        labels,
        steps=steps,
        epochs=epochs,
        verbose=verbose,
        on_epoch_end=_checkpoint_writer(out_dir),
        on_step_end=_snapshot_writer(out_dir, generator),
    )
    seconds = time.time() - started
    summary = {
        "family": config.family,
        "steps": trainer.step,
        "seconds": round(seconds + (_earlier_seconds(out_dir) if resume else 0.0), 1),
        "steps_this_session": trainer.step - first_step,
        "seconds_this_session": round(seconds, 1),
        "device": training_device(),
        "data": digits.source,
        "training_images": len(digits.images),
        "config": config.as_dict(),
    }
    write_outputs(trainer, generator, out_dir, summary)
    print(f"Trained {summary['steps_this_session']} steps in {seconds:.0f} s; outputs in {out_dir}")
    return trainer


def training_labels_and_generator(trainer, digits):
    """The labels to train on and the generator to save and draw.

    Usually the digits' labels and `trainer.sampling_generator`. A self-conditioned run
    (`config.clusters`) trains on k-means clusters of the images instead of labels, and saves
    its generator behind a `ClusterCode`, which picks each cluster from the noise as often as
    it holds images, so that the saved generator takes noise alone.
    """
    clusters = trainer.config.clusters
    if not clusters:
        return digits.labels, trainer.sampling_generator
    cluster_of_image = cluster_images(digits.images, clusters, trainer.config.seed)
    shares = cluster_shares(cluster_of_image, clusters)
    print(f"Self-conditioning on {clusters} k-means clusters of the images, from {shares.min():.1%} to {shares.max():.1%} of them each")
    return cluster_of_image, with_cluster_code(trainer.sampling_generator, shares)


def _earlier_seconds(out_dir):
    """Training seconds of the sessions before a resumed one, from the run.json they left."""
    path = Path(out_dir) / "run.json"
    if not path.exists():
        return 0.0
    earlier = json.loads(path.read_text())
    return earlier.get("seconds", earlier["seconds_this_session"])  # run.json files from before "seconds"


def _remove_old_snapshots(out_dir):
    """A fresh run must not mix its GIF frames with an earlier run's."""
    for old in (out_dir / SNAPSHOTS).glob("step_*.png"):
        old.unlink()


def _snapshot_writer(out_dir, generator):
    """The per-step callback: about `GIF_FRAMES` snapshots of fixed noise over the run, for the GIF."""
    snapshots = StepSnapshots(generator, out_dir / SNAPSHOTS)
    snapshots.folder.mkdir(exist_ok=True)
    return snapshots


def _checkpoint_writer(out_dir):
    """The per-epoch callback: a checkpoint."""
    return lambda trainer, epoch: trainer.save_checkpoint(out_dir / CHECKPOINT)


def write_outputs(trainer, generator, out_dir, summary):
    """Models, history, loss plot, evaluation images and GIF, each written atomically.

    The generator written and drawn is `generator`: the weight average of G, through its
    `ClusterCode` in a self-conditioned run.
    """
    for name, model in (("generator", generator), ("discriminator", trainer.discriminator)):
        with atomic_output(out_dir / f"{name}.keras") as temporary:
            model.save(temporary)
    save_history(trainer.history, out_dir / "history.csv", out_dir / "history.json")
    plt.close(plot_history(trainer.history, out_dir / "losses.png"))
    save_evaluation_images(generator, out_dir / "evaluation_images")
    save_training_gif(sorted((out_dir / SNAPSHOTS).glob("step_*.png")), out_dir / "training.gif")
    write_json(out_dir / "run.json", summary)
