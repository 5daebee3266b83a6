"""Shared fixtures: quiet TensorFlow, seeded Keras, and small MNIST-shaped data on disk."""

import os
import signal

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import pytest  # noqa: E402
from mnist_files import write_idx_folder  # noqa: E402


@pytest.fixture
def idx_dir(tmp_path):
    """A directory with train (64 images) and test (32 images) IDX files."""
    return write_idx_folder(tmp_path)


@pytest.fixture(autouse=True)
def seeded():
    """Every test starts from the same random state."""
    keras.utils.set_random_seed(0)


@pytest.fixture
def run_cli(capsys):
    """`ganutils ARGS` in this process, Keras being loaded already: (exit status, stdout, stderr)."""
    from ganutils import cli

    previous = signal.getsignal(signal.SIGTERM)

    def run(*args):
        status = cli.main([str(arg) for arg in args])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    yield run
    signal.signal(signal.SIGTERM, previous)

