"""Runs that cannot be lost, mixed or poisoned: a folder holding a run, divergence, interrupted sessions, resumed settings.

Each run here trains the MLP GAN for a few steps in this process (`train_run`), or goes
through `cli.main`, so that the command line's one-line errors are checked without starting
Keras again.
"""

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from mnist_files import fake_digits, write_idx, write_idx_folder
from one_line import one_line_error

from ganutils.config import SEED, TrainConfig
from ganutils.data import load_dataset
from ganutils.files import STAGED, STAGED_COMPLETE
from ganutils.run import train_run
from ganutils.run_folder import LOCK, RunError
from ganutils.models import build_config_models
from ganutils.training import GANTrainer, prepare_run

STEPS_PER_EPOCH = 8  # the 64 images of `idx_dir` at batch 8


def _train(out, data_dir, steps=STEPS_PER_EPOCH, family="gan", **options):
    return train_run(TrainConfig(family=family, batch_size=8), out, steps=steps, data_dir=data_dir, verbose=0, **options)


def _state(folder):
    """Every file in a folder, with its bytes."""
    return {path: path.read_bytes() for path in sorted(Path(folder).rglob("*")) if path.is_file()}


def _checkpoint_state(path):
    with np.load(path) as archive:
        return json.loads(archive["state"].tobytes())


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """An 8-step run, trained once for the tests that start from one."""
    out = tmp_path_factory.mktemp("runs") / "run"
    _train(out, write_idx_folder(tmp_path_factory.mktemp("data")))
    return out


@pytest.fixture
def run_folder(finished_run, tmp_path):
    """A copy of `finished_run` for one test to change."""
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


@pytest.fixture
def poison_from(monkeypatch):
    """Make every training step from a given one on see NaN images, as a diverging run would."""

    def poison(first_bad_step):
        original = GANTrainer.train_step

        def train_step(trainer, real_images, labels=None, epoch=1):
            if trainer.step + 1 >= first_bad_step:
                real_images = np.full_like(real_images, np.nan)
            return original(trainer, real_images, labels, epoch)

        monkeypatch.setattr(GANTrainer, "train_step", train_step)

    return poison


def test_a_lessons_run_is_the_command_lines_run(idx_dir, finished_run):
    """A lesson seeds, builds, takes one checking step and then trains on: the same weights as `ganutils train`."""
    config = TrainConfig(family="gan", batch_size=8)
    digits = load_dataset("mnist", data_dir=idx_dir, verbose=False)
    keras.utils.set_random_seed(1)  # what came before in the lesson does not matter
    prepare_run(config)
    trainer = GANTrainer(*build_config_models(config), config)
    trainer.fit(digits.images, steps=1, verbose=0)
    trainer.fit(digits.images, steps=STEPS_PER_EPOCH, verbose=0)
    shipped = keras.saving.load_model(finished_run / "generator.keras", compile=False)
    for lesson_weights, run_weights in zip(trainer.sampling_generator.weights, shipped.weights, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(lesson_weights), keras.ops.convert_to_numpy(run_weights), atol=1e-6)


def test_a_folder_holding_a_run_is_refused_and_a_failed_overwrite_changes_nothing(idx_dir, run_folder):
    out = run_folder
    before = _state(out)
    with pytest.raises(RunError, match=rf"{out} holds a training run already: continue it with --resume, or replace it with --overwrite"):
        _train(out, idx_dir)
    with pytest.raises(ValueError, match=r"--batch-size 4000: the batch size is larger than the training set \(64 images\)"):
        train_run(TrainConfig(family="gan", batch_size=4000), out, steps=2, data_dir=idx_dir, verbose=0, overwrite=True)
    assert _state(out) == before  # the old run's pictures, checkpoint and models are all still there

    (out / "evaluation_images" / "my_figure.png").write_bytes(b"mine")
    (out / "snapshots" / "notes.txt").write_bytes(b"mine")
    _train(out, idx_dir, steps=2, family="cgan", overwrite=True)
    assert (out / "evaluation_images" / "my_figure.png").read_bytes() == b"mine"  # not at a name the run writes
    assert (out / "snapshots" / "notes.txt").read_bytes() == b"mine"
    assert sorted(p.name for p in (out / "evaluation_images").iterdir()) == [f"{d}.png" for d in range(10)] + ["my_figure.png"]
    assert _checkpoint_state(out / "checkpoint.npz")["config"]["family"] == "cgan"
    assert json.loads((out / "run.json").read_text())["steps"] == 2
    assert not (out / LOCK).exists()


@pytest.mark.parametrize("first_bad_step, last_checkpoint", [(11, "checkpoint.npz (step 8)"), (2, None)])
def test_a_diverging_run_stops_at_once_and_saves_no_model(idx_dir, tmp_path, poison_from, first_bad_step, last_checkpoint):
    out = tmp_path / "run"
    poison_from(first_bad_step)
    with pytest.raises(RunError) as stopped:
        _train(out, idx_dir, steps=16)
    message = str(stopped.value)
    assert message.startswith(f"training stopped at step {first_bad_step}: d_loss is nan; ")
    if last_checkpoint:
        assert f"the last good checkpoint is {out / last_checkpoint}; nothing was saved as a model" in message
        state = _checkpoint_state(out / "checkpoint.npz")
        assert state["step"] == 8 and all(np.isfinite(r["d_loss"]) for r in state["history"])
    else:
        assert "no checkpoint was saved before it" in message and not (out / "checkpoint.npz").exists()
    for name in ("generator.keras", "discriminator.keras", "history.json", "run.json", LOCK):
        assert not (out / name).exists(), name


def test_a_diverging_run_is_one_line_and_a_failure_status(idx_dir, tmp_path, poison_from, run_cli):
    poison_from(3)
    status, _, stderr = run_cli("train", "gan", "--steps", 4, "--batch-size", 8, "--data-dir", idx_dir,
                                "--out", tmp_path / "run", "--quiet")
    assert status == 1
    one_line_error(stderr, "training stopped at step 3: d_loss is nan", "no checkpoint was saved")


def test_an_interrupted_session_counts_to_its_checkpoint_and_its_leftovers_go(idx_dir, tmp_path, monkeypatch):
    out = tmp_path / "run"
    original = GANTrainer.train_step

    def interrupted_at_step_11(trainer, *args, **kwargs):
        if trainer.step == 10:
            raise KeyboardInterrupt
        return original(trainer, *args, **kwargs)

    monkeypatch.setattr(GANTrainer, "train_step", interrupted_at_step_11)
    with pytest.raises(KeyboardInterrupt):
        _train(out, idx_dir, steps=16)
    assert not (out / LOCK).exists()
    checkpointed = _checkpoint_state(out / "checkpoint.npz")
    assert checkpointed["step"] == 8 and checkpointed["seconds"] > 0
    leftovers = [out / ".generator.partial-k2j4.keras", out / "snapshots" / ".step_0000002.partial-x9.png"]
    for leftover in leftovers:
        leftover.write_bytes(b"half a file")

    monkeypatch.setattr(GANTrainer, "train_step", original)
    _train(out, idx_dir, steps=16, resume=True)
    summary = json.loads((out / "run.json").read_text())
    assert summary["steps_this_session"] == 8
    assert summary["seconds"] == pytest.approx(checkpointed["seconds"] + summary["seconds_this_session"], abs=0.11)
    assert not any(leftover.exists() for leftover in leftovers)


def test_resume_refuses_settings_that_differ_from_the_checkpoint(idx_dir, run_folder, run_cli):
    out = run_folder
    before = _state(out)
    status, _, stderr = run_cli("train", "gan", "--resume", "--batch-size", 64, "--learning-rate", 0.5, "--seed", SEED,
                                "--data-dir", idx_dir, "--out", out)
    assert status == 1
    one_line_error(stderr, f"{out / 'checkpoint.npz'}: --resume continues with the checkpoint's settings",
                    "--batch-size 64 (checkpoint: 8), --learning-rate 0.5 (checkpoint: 0.0002); drop them")
    assert "--seed" not in stderr  # given, but as the checkpoint has it
    assert _state(out) == before

    status, stdout, stderr = run_cli("train", "gan", "--resume", "--batch-size", 8, "--steps", 10, "--data-dir", idx_dir,
                                     "--out", out, "--quiet")
    assert status == 0, stderr
    assert "Resuming from step 8" in stdout and json.loads((out / "run.json").read_text())["steps"] == 10


def test_a_damaged_checkpoint_is_one_line_naming_it(idx_dir, run_folder, run_cli):
    out = run_folder
    with np.load(out / "checkpoint.npz") as archive:
        arrays = dict(archive)
    arrays["state"] = np.frombuffer(b'["a list"]', np.uint8)
    np.savez(out / "checkpoint.npz", **arrays)
    status, _, stderr = run_cli("train", "gan", "--resume", "--data-dir", idx_dir, "--out", out)
    assert status == 1
    one_line_error(stderr, f"{out / 'checkpoint.npz'}: not a ganutils checkpoint (its state is a list, not a dict)")


def test_the_loss_warning_comes_once(capsys, monkeypatch):
    from ganutils import divergence
    from ganutils.models import build_mlp_discriminator, build_mlp_generator

    monkeypatch.setattr(divergence, "LOSS_WARNING", 0.01)  # any loss is above it
    keras.utils.set_random_seed(0)
    trainer = GANTrainer(build_mlp_generator(latent_dim=8, hidden_units=(8,)), build_mlp_discriminator(hidden_units=(8,)),
                         TrainConfig(family="gan", batch_size=4, latent_dim=8))
    trainer.fit(np.zeros((8, 28, 28, 1), np.float32), steps=3, verbose=0)
    warnings = capsys.readouterr().err.strip().splitlines()
    assert len(warnings) == 1 and warnings[0].startswith("warning: ")
    assert "at step 1, far above any healthy run's (over 0.01): training is diverging" in warnings[0]


def test_make_demo_replaces_its_own_folder():
    demo = next(line for line in (Path(__file__).parents[1] / "Makefile").read_text().splitlines()
                if "ganutils train" in line)
    assert "--overwrite" in demo and "--out runs/cdcgan" in demo


def test_resume_refuses_other_data_than_the_checkpoints(run_folder, tmp_path, run_cli):
    other = tmp_path / "other-data"
    other.mkdir()
    for prefix, seed in (("train", 7), ("t10k", 8)):
        images, labels = fake_digits(64, seed=seed)
        write_idx(other / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(other / f"{prefix}-labels-idx1-ubyte.gz", labels)
    before = _state(run_folder)
    status, _, stderr = run_cli("train", "gan", "--resume", "--steps", 16, "--data-dir", other, "--out", run_folder)
    assert status == 1
    one_line_error(stderr, f"{run_folder / 'checkpoint.npz'} trained on 64 images from IDX files in ",
                   f"not these 64 from IDX files in {other}: resume with the same --data and --data-dir")
    assert _state(run_folder) == before


def test_data_of_the_other_kind_and_too_many_clusters_are_refused_naming_the_flag(idx_dir, tmp_path, run_cli):
    status, _, stderr = run_cli("train", "gan", "--data", "fashion_mnist", "--data-dir", idx_dir, "--out", tmp_path / "a")
    assert status == 1
    one_line_error(stderr, f"IDX files in {idx_dir}: these images look like mnist, not fashion_mnist")
    status, _, stderr = run_cli("train", "dcgan", "--clusters", 100, "--data-dir", idx_dir, "--out", tmp_path / "b")
    assert status == 1
    one_line_error(stderr, "--clusters 100: the number of clusters is larger than the training set (64 images)")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_final_writes_that_an_interruption_stopped_are_finished_before_the_folder_is_used(run_folder, tmp_path, run_cli):
    staging = run_folder / STAGED
    staging.mkdir()
    summary = {**json.loads((run_folder / "run.json").read_text()), "steps": 99}
    (staging / "run.json").write_text(json.dumps(summary))
    shutil.copy(run_folder / "generator.keras", staging / "generator.keras")
    (staging / STAGED_COMPLETE).touch()  # as a run killed between its last writes leaves the folder
    status, _, stderr = run_cli("sample", run_folder / "generator.keras", "--n", 2, "--out", tmp_path / "x.npz")
    assert status == 0, stderr
    assert json.loads((run_folder / "run.json").read_text())["steps"] == 99 and not staging.exists()


def test_sample_replaces_nothing_unasked_and_never_writes_into_a_running_runs_folder(run_folder, run_cli):
    generator, checkpoint = run_folder / "generator.keras", run_folder / "checkpoint.npz"
    before = checkpoint.read_bytes()
    status, _, stderr = run_cli("sample", generator, "--n", 2, "--out", checkpoint)
    assert status == 2
    one_line_error(stderr, f"--out {checkpoint} exists: choose another name, or replace it with --overwrite")
    assert checkpoint.read_bytes() == before
    leftover = run_folder / ".x.partial-abcd1234.npz"  # as a sampling killed while it wrote leaves it
    leftover.write_bytes(b"half")
    assert run_cli("sample", generator, "--n", 2, "--out", run_folder / "x.npz")[0] == 0
    assert not leftover.exists()
    assert run_cli("sample", generator, "--n", 3, "--out", run_folder / "x.npz", "--overwrite")[0] == 0
    with np.load(run_folder / "x.npz") as samples:
        assert len(samples["images"]) == 3
    (run_folder / LOCK).write_text(f"{os.getppid()}\n")  # a live process other than this one: a run in progress
    status, _, stderr = run_cli("sample", generator, "--n", 2, "--out", run_folder / "y.npz")
    assert status == 2
    one_line_error(stderr, f"--out {run_folder / 'y.npz'}: {run_folder} is in use by another training run")
    assert not (run_folder / "y.npz").exists()


def test_links_as_outputs_are_refused(run_folder, tmp_path, run_cli):
    dangling = tmp_path / "dangling.npz"
    dangling.symlink_to(tmp_path / "nowhere.npz")
    status, _, stderr = run_cli("sample", run_folder / "generator.keras", "--n", 2, "--out", dangling)
    assert status == 2
    one_line_error(stderr, f"--out {dangling} is a symbolic link; give the file's own path")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    status, _, stderr = run_cli("train", "gan", "--out", loop)
    assert status == 2
    one_line_error(stderr, f"--out {loop} is a symbolic link to nothing (dangling, or a loop)")


class _ClosedPipe:
    """Standard output whose reader has gone, as with `| head -c100`."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        pass


def test_a_closed_standard_output_or_ctrl_c_stops_with_one_line_and_keeps_the_checkpoint(run_folder, idx_dir, run_cli,
                                                                                          monkeypatch):
    checkpoint = (run_folder / "checkpoint.npz").read_bytes()
    monkeypatch.setattr("sys.stdout", _ClosedPipe())
    status, _, stderr = run_cli("train", "gan", "--resume", "--steps", 16, "--data-dir", idx_dir, "--out", run_folder)
    monkeypatch.undo()
    assert status == 1
    one_line_error(stderr, f"cannot write to standard output (Broken pipe); the last checkpoint is {run_folder / 'checkpoint.npz'}: "
                           "continue with --resume")
    assert (run_folder / "checkpoint.npz").read_bytes() == checkpoint and not (run_folder / LOCK).exists()

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("ganutils.sampling.sample_images", interrupted)
    status, _, stderr = run_cli("sample", run_folder / "generator.keras", "--n", 2, "--out", run_folder / "x.npz")
    assert status == 130 and stderr == "ganutils: interrupted: sampling stopped; nothing was written\n"
    assert not (run_folder / "x.npz").exists()
