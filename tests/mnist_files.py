"""Small MNIST-format files for the tests: gzipped IDX files of made-up digits."""

import gzip
import struct

import numpy as np


def write_idx(path, array):
    """Write a uint8 array as a gzipped IDX file, the format of the original MNIST files."""
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.tobytes())


def fake_digits(count, seed=0, ink=0.2):
    """Random 28x28 uint8 images, a share `ink` of their pixels lit as in MNIST's digits, and labels 0-9 in turn.

    The default looks like MNIST to `ganutils.data` (a mean pixel value near 26 of 255); ink=0.6, like Fashion-MNIST.
    """
    rng = np.random.default_rng(seed)
    lit = rng.random((count, 28, 28)) < ink
    return (rng.integers(0, 256, (count, 28, 28)) * lit).astype(np.uint8), np.arange(count, dtype=np.uint8) % 10


def write_idx_folder(folder):
    """Train (64 images) and test (32 images) IDX files in `folder`, as the `idx_dir` fixture has them."""
    for prefix, count in (("train", 64), ("t10k", 32)):
        images, labels = fake_digits(count, seed=count)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder
