"""The end-to-end job behind `ganutils train`: train with checkpoints, then write every output."""

from pathlib import Path

import matplotlib.pyplot as plt

from ganutils.checkpoints import read_checkpoint_state
from ganutils.config import option_name
from ganutils.data import cluster_images, cluster_shares, fingerprint, load_dataset
from ganutils.divergence import DivergedError
from ganutils.files import remove_partial_files, staged_outputs, write_json
from ganutils.history import save_history
from ganutils.models import build_config_models, with_cluster_code
from ganutils.plotting import StepSnapshots, plot_history, save_evaluation_images, save_training_gif
from ganutils.run_folder import (
    CHECKPOINT,
    EVALUATION_IMAGES,
    RUN_SUMMARY,
    SNAPSHOTS,
    RunError,
    check_run_folder,
    locked,
    run_outputs,
    snapshot_frames,
)
from ganutils.sampling import NonFiniteImagesError
from ganutils.training import GANTrainer, planned_steps, prepare_run, training_device


def resumed_config(out_dir, config, given=()):
    """The config and step target saved in `out_dir`'s checkpoint, checked against `config`.

    The family must match, and so must each setting named in `given` (those the user set).
    """
    checkpoint = Path(out_dir) / CHECKPOINT
    state = read_checkpoint_state(checkpoint)
    saved = state["config"]
    if saved.family != config.family:
        raise RunError(f"{checkpoint} belongs to a {saved.family} run, not {config.family}")
    differing = [name for name in given if getattr(config, name) != getattr(saved, name)]
    if differing:
        listed = ", ".join(f"{option_name(name)} {getattr(config, name)} (checkpoint: {getattr(saved, name)})" for name in differing)
        raise RunError(f"{checkpoint}: --resume continues with the checkpoint's settings, and these differ: {listed}; "
                       "drop them, or start afresh with --overwrite")
    return saved, state["total_steps"]


def train_run(config, out_dir, steps=None, epochs=None, resume=False, overwrite=False, data_dir=None, verbose=1, given=(),
              devices=1):
    """Train `config.family` into `out_dir`, checkpointing each epoch; returns the trainer.

    A folder that holds a run is refused unless `resume` or `overwrite` is asked. With `resume`,
    the config, weights, optimizer states, history, step count and time so far come from the
    checkpoint in `out_dir` (settings named in `given` must agree with it), and training
    continues to `steps` (or the saved target); `overwrite` replaces the run. `devices` (a
    count, or "all") splits each batch across that many devices; a run may resume on another
    count. The folder is locked while the run lasts, and nothing in it changes before every
    check has passed.
    """
    out_dir = Path(out_dir)
    with locked(out_dir):
        check_run_folder(out_dir, resume, overwrite)
        return _train_locked(config, out_dir, steps, epochs, resume, overwrite, data_dir, verbose, given, devices)


def _train_locked(config, out_dir, steps, epochs, resume, overwrite, data_dir, verbose, given, devices):
    """`train_run` once the folder is locked and checked."""
    if resume:
        config, saved_total = resumed_config(out_dir, config, given)
        if steps is None and epochs is None:
            steps = saved_total
    prepare_run(config)
    digits = load_dataset(config.data, data_dir=data_dir)
    _check_training_set(config, len(digits.images))
    data = fingerprint(digits)
    trainer = GANTrainer(*build_config_models(config), config, devices)
    if resume:
        trainer.restore_checkpoint(out_dir / CHECKPOINT)
        _check_same_data(trainer.data, data, out_dir / CHECKPOINT)
    trainer.data = data
    labels, generator = training_labels_and_generator(trainer, digits)
    planned_steps(steps, epochs, len(digits.images) // config.batch_size)
    _prepare_folder(out_dir, resume, overwrite)
    if resume:
        print(f"Resuming from step {trainer.step} of {out_dir / CHECKPOINT}")
    print(f"Training {config.family} on {training_device(trainer.devices)}, batch size {config.batch_size}")
    first_step, earlier_seconds = trainer.step, trainer.seconds
    try:
        trainer.fit(
            digits.images,
            labels,
            steps=steps,
            epochs=epochs,
            verbose=verbose,
            on_epoch_end=_checkpoint_writer(out_dir),
            on_step_end=_snapshot_writer(out_dir, generator),
        )
    except (DivergedError, NonFiniteImagesError) as error:  # a NaN loss, or NaN weights met in a snapshot or checkpoint
        raise RunError(f"{error}; {_last_checkpoint(trainer)}") from None
    summary = run_summary(trainer, digits.source, first_step, earlier_seconds)
    write_outputs(trainer, generator, out_dir, summary)
    print(f"Trained {summary['steps_this_session']} steps in {summary['seconds_this_session']:.0f} s; outputs in {out_dir}")
    return trainer


def run_summary(trainer, data_source, first_step=0, earlier_seconds=0.0):
    """What `run.json` records of a trained run: its length, time, device, data and config.

    `trainer.data` is the training set's fingerprint; `first_step` and `earlier_seconds` are
    where this session started (a resumed run's checkpoint). A run trained with a loss or step
    of its own (`GANTrainer(generator_loss=...)` or `gan_class=...`) has no config that says so,
    and is refused.
    """
    if trainer.custom_step:
        raise ValueError("this run was trained with a loss or step of its own, which run.json cannot record")
    return {
        "family": trainer.config.family,
        "steps": trainer.step,
        "seconds": round(trainer.seconds, 1),
        "steps_this_session": trainer.step - first_step,
        "seconds_this_session": round(trainer.seconds - earlier_seconds, 1),
        "device": training_device(trainer.devices),
        "devices": trainer.devices,
        "data": data_source,
        "training_images": trainer.data["images"],
        "data_sha256": trainer.data["sha256"],
        "config": trainer.config.as_dict(),
    }


def _check_training_set(config, images):
    """Refuse a batch size or a number of clusters larger than the training set."""
    for setting, what in (("batch_size", "the batch size is"), ("clusters", "the number of clusters is")):
        if getattr(config, setting) > images:
            raise RunError(f"{option_name(setting)} {getattr(config, setting)}: {what} larger than the training set ({images:,} images)")


def _check_same_data(saved, data, checkpoint):
    """Refuse to resume on other data than the checkpoint's; a checkpoint without a fingerprint resumes with a notice."""
    if saved is None:
        print(f"Notice: {checkpoint} does not record its training data (an older checkpoint); "
              f"resuming on {data['images']:,} images from {data['source']} unchecked")
    elif (saved["images"], saved["sha256"]) != (data["images"], data["sha256"]):
        raise RunError(f"{checkpoint} trained on {saved['images']:,} images from {saved['source']}, "
                       f"not these {data['images']:,} from {data['source']}: resume with the same --data and --data-dir, "
                       "or start afresh with --overwrite")


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


def _prepare_folder(out_dir, resume, overwrite):
    """Clear what an earlier run or interrupted writes left in the folder, as far as this run needs."""
    if overwrite:
        for output in run_outputs(out_dir):  # the run's own files only: nothing else of the folder's
            output.unlink()
    leftovers = remove_partial_files(out_dir)
    if leftovers:
        print(f"Removed the temporary files that interrupted writes left in {out_dir} ({leftovers})")


def _last_checkpoint(trainer):
    """Where a stopped run can be taken up again, in words."""
    if trainer.last_checkpoint is None:
        return "no checkpoint was saved before it; nothing was saved as a model"
    path, step = trainer.last_checkpoint
    return f"the last good checkpoint is {path} (step {step}); nothing was saved as a model"


def _snapshot_writer(out_dir, generator):
    """The per-step callback: about `GIF_FRAMES` snapshots of fixed noise over the run, for the GIF."""
    snapshots = StepSnapshots(generator, out_dir / SNAPSHOTS)
    snapshots.folder.mkdir(exist_ok=True)
    return snapshots


def _checkpoint_writer(out_dir):
    """The per-epoch callback: a checkpoint."""
    return lambda trainer, epoch: trainer.save_checkpoint(out_dir / CHECKPOINT)


def write_outputs(trainer, generator, out_dir, summary):
    """Models, history, loss plot, evaluation images, GIF and `run.json`, written first to a staging folder, then moved into place together.

    The generator written and drawn is `generator`: the weight average of G, through its
    `ClusterCode` in a self-conditioned run.
    """
    with staged_outputs(out_dir, last=RUN_SUMMARY) as staging:
        for name, model in (("generator", generator), ("discriminator", trainer.discriminator)):
            model.save(staging / f"{name}.keras")
        save_history(trainer.history, staging / "history.csv", staging / "history.json")
        plt.close(plot_history(trainer.history, staging / "losses.png"))
        save_evaluation_images(generator, staging / EVALUATION_IMAGES)
        save_training_gif(snapshot_frames(out_dir / SNAPSHOTS), staging / "training.gif")
        write_json(staging / RUN_SUMMARY, summary)
