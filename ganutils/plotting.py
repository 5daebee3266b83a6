"""Pictures of a GAN's progress: image grids, per-digit grids, loss curves and a training GIF."""

from pathlib import Path

import imageio.v2 as imageio
import matplotlib.pyplot as plt
import numpy as np

from ganutils.files import atomic_output
from ganutils.models import NUM_CLASSES, is_conditional
from ganutils.run_folder import SAMPLES_PICTURE, SNAPSHOT_FRAMES, digit_picture
from ganutils.sampling import fixed_noise, generate_images

GRID_SCALE = 2  # each pixel becomes a 2x2 block, so digits are readable at a glance
GIF_FRAMES = 40  # frames of a training GIF when no snapshot interval is given


def image_grid(images, columns=10, padding=2, scale=GRID_SCALE):
    """Tile images in [0, 1] (shape (n, h, w) or (n, h, w, 1)) into one uint8 picture."""
    images = np.asarray(images, dtype=np.float32).reshape(len(images), *np.shape(images)[1:3])
    rows = -(-len(images) // columns)
    height, width = images.shape[1] + padding, images.shape[2] + padding
    grid = np.zeros((rows * height + padding, columns * width + padding), dtype=np.float32)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * height, padding + column * width
        grid[top:top + image.shape[0], left:left + image.shape[1]] = image
    grid = np.kron(grid, np.ones((scale, scale), dtype=np.float32))
    return np.round(np.clip(grid, 0, 1) * 255).astype(np.uint8)


def save_image_grid(images, path, columns=10, scale=GRID_SCALE):
    """Write images in [0, 1] as one PNG grid; returns the path."""
    with atomic_output(path) as temporary:
        imageio.imwrite(temporary, image_grid(images, columns, scale=scale), format="png")
    return Path(path)


def snapshot_inputs(generator, n=100, seed=1234):
    """Fixed noise (and labels: row r shows digit r) reused for every snapshot of a run."""
    noise = fixed_noise(generator, n, seed)
    labels = np.arange(n, dtype=np.int32) // (n // NUM_CLASSES) % NUM_CLASSES if is_conditional(generator) else None
    return noise, labels


def save_snapshot(generator, path, noise, labels=None, scale=GRID_SCALE):
    """Write a 10-column grid of the generator's images for fixed noise (and labels)."""
    return save_image_grid(generate_images(generator, noise, labels), path, scale=scale)


def save_evaluation_images(generator, out_dir, per_image=100, seed=0):
    """Write one grid per digit (0.png ... 9.png), or samples.png for an unconditional model.

    Every digit's grid uses the same noise, so the same position shows the same "style".
    Returns the paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    noise = fixed_noise(generator, per_image, seed)
    if not is_conditional(generator):
        return [save_image_grid(generate_images(generator, noise), out_dir / SAMPLES_PICTURE)]
    return [
        save_image_grid(generate_images(generator, noise, np.full(per_image, digit)), out_dir / digit_picture(digit))
        for digit in range(NUM_CLASSES)
    ]


def plot_history(history, path=None, smoothing=50):
    """Plot D's and G's losses and D's accuracy per step; save the figure if `path` is given.

    Args:
        history: per-step records as returned by `GANTrainer.fit`.
        path: where to write a PNG, or None.
        smoothing: width of the moving average drawn over the raw per-step values.
    Returns:
        The matplotlib figure.
    """
    steps = np.array([record["step"] for record in history])
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(11, 4))
    for key, label in (("d_loss", "D loss"), ("g_loss", "G loss")):
        _plot_smoothed(loss_axes, steps, [record[key] for record in history], label, smoothing)
    for key, label in (("d_acc_real", "D accuracy on real"), ("d_acc_fake", "D accuracy on fake")):
        _plot_smoothed(accuracy_axes, steps, [record[key] for record in history], label, smoothing)
    loss_axes.set(title="Losses (binary cross-entropy)", xlabel="training step", ylabel="loss")
    accuracy_axes.set(title="Discriminator accuracy", xlabel="training step", ylim=(-0.05, 1.05))
    accuracy_axes.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    for axes in (loss_axes, accuracy_axes):
        axes.legend()
    figure.tight_layout()
    if path is not None:
        with atomic_output(path) as temporary:
            figure.savefig(temporary, dpi=120, format="png")
    return figure


def _plot_smoothed(axes, steps, values, label, window):
    """Raw values faintly, their moving average boldly, in the same colour."""
    values = np.asarray(values, dtype=np.float32)
    (line,) = axes.plot(steps, values, alpha=0.15, linewidth=0.6)
    window = max(1, min(window, len(values)))
    smoothed = np.convolve(values, np.ones(window) / window, mode="valid")
    axes.plot(steps[window - 1:], smoothed, color=line.get_color(), label=label)


def save_training_gif(frame_paths, gif_path, seconds_per_frame=0.25):
    """Join snapshot PNGs, in the order given, into a looping GIF; returns its path."""
    frames = [imageio.imread(path) for path in frame_paths]
    if not frames:
        raise ValueError("no snapshots to make a GIF from")
    with atomic_output(gif_path) as temporary:
        imageio.mimsave(temporary, frames, format="gif", duration=seconds_per_frame * 1000, loop=0)
    return Path(gif_path)


class StepSnapshots:
    """An `on_step_end` callback: a grid of fixed noise (and labels) every `every` steps, and after the last.

    Used with `GANTrainer.fit(..., on_step_end=snapshots)`; `save_gif` joins the grids. Counting
    steps, not epochs, gives a run the same number of frames whatever the size of its data; with
    `every=None` a run gets about `GIF_FRAMES` of them. Frames are drawn at one screen pixel per
    image pixel, to keep the GIF small.
    """

    def __init__(self, generator, folder, every=None):
        self.generator, self.folder, self.every = generator, Path(folder), every
        self.noise, self.labels = snapshot_inputs(generator)
        self.paths = []

    def __call__(self, trainer):
        every = self.every or max(1, trainer.total_steps // GIF_FRAMES)
        if trainer.step % every == 0 or trainer.step == trainer.total_steps:
            path = self.folder / SNAPSHOT_FRAMES.replace("*", f"{trainer.step:07d}")
            self.paths.append(save_snapshot(self.generator, path, self.noise, self.labels, scale=1))

    def save_gif(self, gif_path):
        """Write the snapshots, in order, as a looping GIF; returns its path."""
        return save_training_gif(self.paths, gif_path)
