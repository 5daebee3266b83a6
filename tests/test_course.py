"""The notebook helpers: quick mode, where outputs go, and per-epoch snapshots for the GIF."""

import imageio.v2 as imageio
import numpy as np

from ganutils import course
from ganutils.models import build_mlp_discriminator, build_mlp_generator
from ganutils.config import TrainConfig
from ganutils.training import GANTrainer


def test_quick_mode_picks_the_quick_setting(monkeypatch):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    assert course.quick_mode() and course.full_or_quick(10_000, 20) == 20
    monkeypatch.setenv("GANUTILS_QUICK", "0")
    assert not course.quick_mode() and course.full_or_quick(10_000, 20) == 10_000


def test_quick_runs_never_write_into_the_course_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    paths = course.output_paths("gan", course_root=tmp_path)
    assert tmp_path not in paths.gif.parents and tmp_path not in paths.evaluation_dir.parents
    monkeypatch.delenv("GANUTILS_QUICK")
    paths = course.output_paths("gan", course_root=tmp_path)
    assert paths.gif == tmp_path / "training_gif" / "gan.gif"
    assert paths.evaluation_dir == tmp_path / "evaluation_images" / "gan" and paths.evaluation_dir.is_dir()


def test_epoch_snapshots_every_other_epoch_and_the_last(tmp_path):
    generator = build_mlp_generator(hidden_units=(8,))
    trainer = GANTrainer(generator, build_mlp_discriminator(hidden_units=(8,)), TrainConfig(batch_size=8))
    snapshots = course.EpochSnapshots(generator, tmp_path, every=2)
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype(np.float32)  # 2 steps an epoch
    trainer.fit(images, steps=9, verbose=0, on_epoch_end=snapshots)
    assert [path.name for path in snapshots.paths] == ["epoch_0002.png", "epoch_0004.png", "epoch_0005.png"]
    assert len(imageio.mimread(snapshots.save_gif(tmp_path / "run.gif"))) == 3


def test_report_metrics_prints_the_table_and_uses_fewer_samples_in_quick_mode(monkeypatch, capsys):
    monkeypatch.setenv("GANUTILS_QUICK", "1")
    results = course.report_metrics(build_mlp_generator(num_classes=10, hidden_units=(8,)))
    assert results["generated"]["n"] == results["real"]["n"] == 100
    printed = capsys.readouterr().out
    assert "classifier score (N=100, max 10)" in printed and "conditional accuracy" in printed
