"""Lesson 1's toy game: the ring of Gaussians, its players, and the count of modes covered."""

import numpy as np

from ganutils import toy
from ganutils.config import TrainConfig
from ganutils.training import GANTrainer


def test_the_ring_draws_evenly_from_eight_tight_gaussians():
    points = toy.ring_of_gaussians(8_000)
    assert points.shape == (8_000, 2) and points.dtype == np.float32
    distances = np.linalg.norm(points[:, None] - toy.mode_centres()[None], axis=2)
    assert distances.min(axis=1).max() < 6 * toy.SPREAD
    assert np.all(np.abs(np.bincount(distances.argmin(axis=1)) - 1_000) < 120)


def test_modes_covered_counts_the_modes_that_hold_enough_points():
    centres = toy.mode_centres()
    assert toy.modes_covered(toy.ring_of_gaussians(2_000)) == toy.MODES
    assert toy.modes_covered(np.repeat(centres[:3], 100, axis=0)) == 3
    assert toy.modes_covered(np.zeros((100, 2))) == 0  # the centre of the ring is no mode
    assert toy.modes_covered(np.concatenate([np.repeat(centres[:1], 99, axis=0), centres[1:2]])) == 1  # 1% is too few


def test_the_toy_players_train_with_the_course_step_and_snapshots_come_every_few_steps():
    config = TrainConfig(batch_size=16, latent_dim=2, learning_rate=1e-3)
    trainer = GANTrainer(toy.build_toy_generator(hidden_units=(8,)), toy.build_toy_discriminator((8,)), config)
    snapshots = toy.ToySnapshots(every=2, latent_dim=2, n=50)
    history = trainer.fit(toy.ring_of_gaussians(64), steps=5, verbose=0, on_step_end=snapshots)
    assert [step for step, _ in snapshots.points] == [2, 4]
    assert all(points.shape == (50, 2) and np.all(np.abs(points) <= 1) for _, points in snapshots.points)
    assert not np.array_equal(snapshots.points[0][1], snapshots.points[1][1])  # G moved between the two
    assert len(history) == 5 and all(np.isfinite(record["d_loss"]) for record in history)
    figure = toy.plot_toy_snapshots(toy.ring_of_gaussians(100), snapshots, "test")
    assert len(figure.axes) == 2
