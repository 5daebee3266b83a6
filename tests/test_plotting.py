"""Image grids, per-digit evaluation images, loss curves, the training GIF, and atomic writes."""

import imageio.v2 as imageio
import matplotlib
import numpy as np
import pytest

from ganutils.files import atomic_output
from ganutils.models import build_dcgan_generator, build_mlp_generator
from ganutils.plotting import (
    GRID_SCALE,
    image_grid,
    plot_history,
    save_evaluation_images,
    save_image_grid,
    save_training_gif,
    snapshot_inputs,
)

matplotlib.use("Agg")


def test_image_grid_places_each_image():
    images = np.zeros((12, 28, 28, 1), np.float32)
    images[11] = 1.0
    grid = image_grid(images, columns=5, padding=2)
    assert grid.shape == ((3 * 30 + 2) * GRID_SCALE, (5 * 30 + 2) * GRID_SCALE) and grid.dtype == np.uint8
    top, left = (2 + 2 * 30) * GRID_SCALE, (2 + 1 * 30) * GRID_SCALE  # image 11: row 2, column 1
    assert grid[top:top + 28 * GRID_SCALE, left:left + 28 * GRID_SCALE].min() == 255
    assert grid.sum() == 255 * (28 * GRID_SCALE) ** 2


def test_evaluation_images_per_digit_and_for_unconditional(tmp_path):
    conditional = build_dcgan_generator(num_classes=10, filters=(8, 4))
    paths = save_evaluation_images(conditional, tmp_path / "c", per_image=20)
    assert [p.name for p in paths] == [f"{d}.png" for d in range(10)]
    assert imageio.imread(paths[3]).shape == image_grid(np.zeros((20, 28, 28))).shape
    unconditional = build_mlp_generator(hidden_units=(8,))
    assert [p.name for p in save_evaluation_images(unconditional, tmp_path / "u", per_image=20)] == ["samples.png"]


def test_snapshot_inputs_are_fixed_and_show_one_digit_per_row():
    generator = build_dcgan_generator(num_classes=10, filters=(8, 4))
    noise, labels = snapshot_inputs(generator)
    again, _ = snapshot_inputs(generator)
    np.testing.assert_array_equal(noise, again)
    assert labels.reshape(10, 10).tolist() == [[digit] * 10 for digit in range(10)]


def test_plot_history_writes_a_png(tmp_path):
    history = [
        {"step": s, "d_loss": 0.7, "g_loss": 0.6 + s / 100, "d_acc_real": 0.5, "d_acc_fake": 0.4} for s in range(1, 41)
    ]
    figure = plot_history(history, tmp_path / "losses.png")
    assert len(figure.axes) == 2
    assert imageio.imread(tmp_path / "losses.png").ndim == 3


def test_training_gif_has_one_frame_per_snapshot_in_order(tmp_path):
    frames = []
    for index in range(3):
        frames.append(save_image_grid(np.full((4, 28, 28), index / 2), tmp_path / f"epoch_{index:04d}.png"))
    save_training_gif(frames, tmp_path / "training.gif")
    gif = imageio.mimread(tmp_path / "training.gif")
    assert len(gif) == 3
    assert [int(np.asarray(frame)[..., 0].max()) for frame in gif] == [0, 128, 255]
    with pytest.raises(ValueError, match="no snapshots"):
        save_training_gif([], tmp_path / "empty.gif")


def test_atomic_output_leaves_nothing_when_writing_fails(tmp_path):
    target = tmp_path / "out.npz"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temporary:
            temporary.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
