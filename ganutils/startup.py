"""Keeps TensorFlow's start-up messages out of a lesson's outputs (each lesson's setup cell)."""

import contextlib
import os


@contextlib.contextmanager
def startup_messages_hidden():
    """Silence TensorFlow's C++ log and, while the block runs, everything written to the process's stderr.

    TensorFlow writes its start-up lines (CUDA drivers looked for, cuDNN factories registered) to
    file descriptor 2 from C++, before its log level applies, so only redirecting that descriptor
    hides them. Python's warnings go through `sys.stderr`, which a notebook's kernel does not send
    to descriptor 2, so the course's own warnings still show.
    """
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # also hides the graph optimiser's messages during training
    saved_stderr = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
