"""Keeps TensorFlow's start-up messages out of a lesson's outputs (each lesson's setup cell)."""

import contextlib
import importlib
import importlib.util
import os


@contextlib.contextmanager
def startup_messages_hidden():
    """Import Keras' backends with TensorFlow's C++ log silenced and the process's stderr sent to /dev/null (docs/design.md)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # also hides the graph optimiser's messages during training
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        if importlib.util.find_spec("tensorflow") is not None:  # keras.utils.set_random_seed imports it on any backend
            importlib.import_module("tensorflow")
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
