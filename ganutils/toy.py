"""Lesson 1's first game: a ring of Gaussians in the plane, players small enough to train in seconds, and pictures of their play."""

import keras
import matplotlib.pyplot as plt
import numpy as np
from keras import layers

from ganutils.models import build_mlp_discriminator

MODES, RADIUS, SPREAD = 8, 0.8, 0.01  # eight Gaussians on a circle of radius 0.8, each with std 0.01
NEAR = 0.06  # a point this close to a mode's centre counts as that mode's


def mode_centres(modes=MODES, radius=RADIUS):
    """The centres of the ring's Gaussians, shape (modes, 2)."""
    angles = 2 * np.pi * np.arange(modes) / modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring_of_gaussians(n, modes=MODES, radius=RADIUS, spread=SPREAD, seed=0):
    """`n` points in the plane (float32, shape (n, 2)), each from one of the ring's Gaussians, picked evenly."""
    rng = np.random.default_rng(seed)
    centres = mode_centres(modes, radius)[rng.integers(modes, size=n)]
    return (centres + spread * rng.standard_normal((n, 2))).astype(np.float32)


def build_toy_generator(latent_dim=2, hidden_units=(128, 128)):
    """Noise -> a point in the plane: dense layers with LeakyReLU, then tanh, which keeps it in [-1, 1]^2."""
    noise = keras.Input((latent_dim,), name="noise")
    x = noise
    for units in hidden_units:
        x = layers.Dense(units, activation="leaky_relu")(x)
    return keras.Model(noise, layers.Dense(2, activation="tanh")(x), name="toy_generator")


def build_toy_discriminator(hidden_units=(128, 128)):
    """A point -> a logit: lesson 1's MLP discriminator, for two numbers and without dropout."""
    return build_mlp_discriminator(input_shape=(2,), hidden_units=hidden_units, dropout=0.0)


def modes_covered(points, modes=MODES, radius=RADIUS, share=0.02):
    """How many of the ring's modes hold at least `share` of the points within `NEAR` of their centre."""
    distances = np.linalg.norm(points[:, None, :] - mode_centres(modes, radius)[None], axis=2)
    nearest = distances.argmin(axis=1)[distances.min(axis=1) < NEAR]
    return int((np.bincount(nearest, minlength=modes) >= share * len(points)).sum())


class ToySnapshots:
    """An `on_step_end` callback: G's points for the same noise every `every` steps, as (step, points) pairs."""

    def __init__(self, every, latent_dim=2, n=1000, seed=1):
        self.every, self.points = every, []
        self.noise = np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)

    def __call__(self, trainer):
        if trainer.step % self.every == 0:
            points = keras.ops.convert_to_numpy(trainer.generator(self.noise, training=False))
            self.points.append((trainer.step, points))


def plot_toy_snapshots(real, snapshots, title):
    """Real points in grey and G's in red, one panel per snapshot; returns the figure."""
    figure, axes = plt.subplots(1, len(snapshots.points), figsize=(2.2 * len(snapshots.points), 2.6), squeeze=False)
    for axis, (step, points) in zip(axes[0], snapshots.points):
        axis.scatter(real[:, 0], real[:, 1], s=2, color="grey")
        axis.scatter(points[:, 0], points[:, 1], s=2, color="red")
        axis.set(xlim=(-1, 1), ylim=(-1, 1), xticks=[], yticks=[], aspect="equal", title=f"step {step:,}")
    figure.suptitle(title)
    figure.tight_layout()
    return figure
