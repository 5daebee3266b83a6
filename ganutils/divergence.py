"""Checks that a run has not diverged: finite losses and weights, and a warning of very large losses."""

import math
import sys

import numpy as np

LOSS_WARNING = 1e4  # a loss this large is far outside any healthy run of the course's models


class DivergedError(ValueError):
    """Training produced NaN or infinity (in a loss, or in weights about to be saved): it cannot go on."""


def check_finite_losses(record, keys):
    """Raise `DivergedError` if any of the step record's `keys` is NaN or infinite."""
    for key in keys:
        if not math.isfinite(record[key]):
            raise DivergedError(f"training stopped at step {record['step']}: {key} is {record[key]}")


def warn_of_large_loss(record):
    """Warn on stderr if D's or G's loss in the step record is above `LOSS_WARNING`; returns whether it warned."""
    largest = max(("d_loss", "g_loss"), key=lambda key: abs(record[key]))
    if abs(record[largest]) <= LOSS_WARNING:
        return False
    print(f"warning: {largest} is {record[largest]:.3g} at step {record['step']}, far above any healthy "
          f"run's (over {LOSS_WARNING:g}): training is diverging; a smaller learning rate may help", file=sys.stderr)
    return True


def check_finite_arrays(arrays, step):
    """Raise `DivergedError` if any float array of `arrays` (by name) holds NaN or infinity."""
    for name, array in arrays.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DivergedError(f"training stopped at step {step}: {name} holds NaN or infinity")
