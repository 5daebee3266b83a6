"""Shared fixtures: quiet TensorFlow, seeded Keras, and small MNIST-shaped data on disk."""

import gzip
import os
import struct

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


def write_idx(path, array):
    """Write a uint8 array as a gzipped IDX file, the format of the original MNIST files."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.tobytes())


def fake_digits(count, seed=0):
    """Random 28x28 uint8 images and labels 0-9 in turn."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), np.arange(count, dtype=np.uint8) % 10


@pytest.fixture
def idx_dir(tmp_path):
    """A directory with train (64 images) and test (32 images) IDX files."""
    for prefix, count in (("train", 64), ("t10k", 32)):
        images, labels = fake_digits(count, seed=count)
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return tmp_path


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state."""
    keras.utils.set_random_seed(0)
