"""The notebook helpers: quick mode, where outputs go, snapshots every N steps for the GIF, and a lesson's export of its generator."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import imageio.v2 as imageio
import numpy as np

from ganutils import course
from ganutils.config import TrainConfig
from ganutils.data import Digits, fingerprint
from ganutils.models import build_mlp_discriminator, build_mlp_generator
from ganutils.run import run_summary
from ganutils.sampling import load_generator
from ganutils.training import GANTrainer


def test_quick_mode_picks_the_quick_setting(monkeypatch):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    assert course.quick_mode() and course.full_or_quick(10_000, 20) == 20
    monkeypatch.setenv("GANUTILS_QUICK", "0")
    assert not course.quick_mode() and course.full_or_quick(10_000, 20) == 10_000


def repository_with_notebooks(root):
    """A folder laid out like the course's repository, with its notebooks/ folder."""
    (root / "ganutils").mkdir(parents=True)
    (root / "ganutils" / "course.py").touch()
    (root / "notebooks").mkdir()
    return root / "notebooks"


def test_a_full_run_inside_the_repository_writes_its_result_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("GANUTILS_QUICK", "0")
    notebooks = repository_with_notebooks(tmp_path)
    paths = course.output_paths("gan", folder=notebooks)
    assert course.course_root(notebooks) == tmp_path
    assert paths.gif == tmp_path / "training_gif" / "gan.gif"
    assert paths.evaluation_dir == tmp_path / "evaluation_images" / "gan" and paths.evaluation_dir.is_dir()


def test_a_full_run_outside_the_repository_writes_beside_the_notebook(monkeypatch, tmp_path):
    monkeypatch.setenv("GANUTILS_QUICK", "0")
    alone = tmp_path / "colab" / "notebooks"  # named like the course's folder, but no repository above it
    alone.mkdir(parents=True)
    paths = course.output_paths("gan", folder=alone)
    assert course.course_root(alone) is None
    assert paths.gif == alone / "training_gif" / "gan.gif" and paths.evaluation_dir.is_dir()
    assert sorted(p.name for p in (tmp_path / "colab").iterdir()) == ["notebooks"]


def test_quick_runs_never_write_beside_the_notebook_or_into_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    notebooks = repository_with_notebooks(tmp_path / "course")
    for folder in (notebooks, tmp_path / "course"):
        paths = course.output_paths("gan", folder=folder)
        assert tmp_path not in paths.gif.parents and tmp_path not in paths.evaluation_dir.parents


def test_snapshots_every_other_step_and_after_the_last(tmp_path):
    generator = build_mlp_generator(hidden_units=(8,))
    trainer = GANTrainer(generator, build_mlp_discriminator(hidden_units=(8,)), TrainConfig(batch_size=8))
    snapshots = course.StepSnapshots(generator, tmp_path, every=2)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)  # 2 steps an epoch
    trainer.fit(images, steps=5, verbose=0, on_step_end=snapshots)
    assert [path.name for path in snapshots.paths] == ["step_0000002.png", "step_0000004.png", "step_0000005.png"]
    assert len(imageio.mimread(snapshots.save_gif(tmp_path / "run.gif"))) == 3


def test_without_an_interval_a_run_gets_forty_frames(tmp_path):
    generator = build_mlp_generator(hidden_units=(8,))
    trainer = GANTrainer(generator, build_mlp_discriminator(hidden_units=(8,)), TrainConfig(batch_size=8))
    for total_steps in (80, 1000):
        snapshots = course.StepSnapshots(generator, tmp_path)
        trainer.total_steps = total_steps
        for trainer.step in range(1, total_steps + 1):
            snapshots(trainer)
        assert len(snapshots.paths) == 40


def test_report_metrics_prints_the_table_and_uses_fewer_samples_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    results = course.report_metrics(build_mlp_generator(num_classes=10, hidden_units=(8,)))
    assert results["generated"]["n"] == results["real"]["n"] == 100
    printed = capsys.readouterr().out
    assert "classifier score (N=100, max 10)" in printed and "conditional accuracy" in printed


def test_temporary_folders_are_removed_when_python_exits(tmp_path):
    script = "from ganutils.course import temporary_folder; folder = temporary_folder('x'); (folder / 'frame.png').touch(); print(folder)"
    environment = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    printed = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True)
    assert Path(printed.stdout.strip()).parent == tmp_path and list(tmp_path.iterdir()) == []


def _trained_tiny_gan(steps=2):
    generator = build_mlp_generator(hidden_units=(8,))
    trainer = GANTrainer(generator, build_mlp_discriminator(hidden_units=(8,)), TrainConfig(family="gan", batch_size=8))
    digits = Digits(np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32), np.zeros(16, np.int32), "test digits")
    trainer.fit(digits.images, steps=steps, verbose=0)
    return trainer, digits


def test_a_full_run_exports_what_the_command_line_would_ship(monkeypatch, tmp_path):
    monkeypatch.setenv("GANUTILS_QUICK", "0")
    monkeypatch.setattr(course, "full_or_quick", lambda full, quick: quick)  # the figures of 100 samples, not 1,000
    trainer, digits = _trained_tiny_gan()
    folder = tmp_path / "trained_models"
    course.export_model("gan", trainer, trainer.sampling_generator, digits, folder=folder)
    assert sorted(path.name for path in folder.iterdir()) == ["gan.keras", "gan.metrics.json", "gan.run.json"]
    record = json.loads((folder / "gan.run.json").read_text())
    assert record == {**run_summary(trainer, "test digits"), "seconds": record["seconds"], "seconds_this_session": record["seconds_this_session"]}
    assert record["steps"] == 2 and record["data_sha256"] == fingerprint(digits)["sha256"]
    metrics = json.loads((folder / "gan.metrics.json").read_text())
    assert metrics["generator"] == "trained_models/gan.keras" and metrics["generated"]["n"] == 100
    assert zipfile.ZipFile(folder / "gan.keras").infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    assert load_generator(folder / "gan.keras").output_shape == (None, 28, 28, 1)


def test_a_quick_run_exports_into_a_temporary_folder(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    temporary = tmp_path / "temporary"
    monkeypatch.setattr(course, "temporary_folder", lambda prefix: temporary)
    trainer, digits = _trained_tiny_gan()
    course.export_model("gan", trainer, trainer.sampling_generator, digits, folder=tmp_path / "trained_models")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["temporary"]
    assert (temporary / "trained_models" / "gan.run.json").is_file()
    assert "Saved the generator as trained_models/gan.keras" in capsys.readouterr().out


def test_show_settings_prints_the_steps_and_every_setting(capsys):
    course.show_settings(TrainConfig(family="cdcgan"), 5000)
    printed = capsys.readouterr().out
    assert printed.startswith("5,000 steps of the cdcgan recipe: family=cdcgan, data=mnist")
    assert "ema_decay=0.0" in printed and "max_shift=2" in printed
    course.show_settings(TrainConfig(family="dcgan", clusters=50), 3000)
    assert capsys.readouterr().out.startswith("3,000 steps of the self-conditioned dcgan recipe: family=dcgan")


def test_say_closer_names_the_generator_nearer_to_real_digits(capsys):
    course.say_closer(("the average", {"generated": {"frechet_distance": 12.0}}), ("G itself", {"generated": {"frechet_distance": 9.5}}))
    assert capsys.readouterr().out == "Closer to real digits in Fréchet distance: G itself\n"


def test_the_lessons_pictures_of_a_generator_show_without_error(monkeypatch, capsys):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    monkeypatch.setattr("matplotlib.pyplot.show", lambda: None)
    generator = build_mlp_generator(hidden_units=(8,))
    real = np.random.default_rng(0).uniform(-1, 1, (300, 28, 28, 1)).astype(np.float32)
    course.show_grids([("the average", generator), ("G itself", generator)], n=20)
    course.show_interpolation(generator, pairs=2, steps=5)
    course.show_interpolation(build_mlp_generator(num_classes=10, hidden_units=(8,)), pairs=2, steps=5, label=3)
    shares = course.print_digit_shares(generator, real, n=100)
    ratio = course.nearest_training_digits(generator, real, shown=4)
    printed = capsys.readouterr().out
    assert np.isclose(shares["generated"].sum(), 1.0) and np.isclose(shares["real"].sum(), 1.0)
    assert printed.splitlines()[0].split() == ["digit", *map(str, range(10))]
    assert f"Memorisation ratio: {ratio:.2f}" in printed


def test_a_gif_is_shown_wider_than_its_frames():
    assert course.show_gif(Path(__file__).resolve().parents[1] / "training_gif" / "gan.gif").width == course.GIF_WIDTH


def test_startup_messages_are_hidden_but_python_warnings_still_show():
    script = ("import os, sys, warnings\n"
              "from ganutils.startup import startup_messages_hidden\n"
              "with startup_messages_hidden():\n    os.write(2, b'C++ start-up line\\n')\n"
              "os.write(2, b'after\\n'); warnings.warn('a warning of the course')\n")
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    printed = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=True)
    assert "start-up line" not in printed.stderr and "after" in printed.stderr and "a warning of the course" in printed.stderr
