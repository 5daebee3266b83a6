"""A training run's history: one record per step, its averages per epoch, and the files it is saved to."""

import csv

import numpy as np

from ganutils.files import atomic_output, write_json
from ganutils.gan.base import LOG_KEYS

HISTORY_KEYS = ("step", "epoch", *LOG_KEYS)


def epoch_history(history):
    """Average the per-step history over each epoch: one dict per epoch."""
    by_epoch = {}
    for record in history:
        by_epoch.setdefault(record["epoch"], []).append(record)
    return [
        {"epoch": epoch, "steps": records[-1]["step"], **{
            key: float(np.mean([r[key] for r in records])) for key in HISTORY_KEYS[2:]
        }}
        for epoch, records in by_epoch.items()
    ]


def epoch_line(summary, total_steps):
    """One line of an epoch's average losses and accuracies."""
    return (
        f"epoch {summary['epoch']:>3} (step {summary['steps']}/{total_steps}): "
        f"D loss {summary['d_loss']:.3f}, G loss {summary['g_loss']:.3f}, "
        f"D accuracy on real {summary['d_acc_real']:.2f}, on fake {summary['d_acc_fake']:.2f}"
    )


def save_history(history, csv_path, json_path=None):
    """Write the per-step history as CSV and, optionally, per-step and per-epoch as JSON."""
    with atomic_output(csv_path) as temporary:
        with open(temporary, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=HISTORY_KEYS)
            writer.writeheader()
            writer.writerows(history)
    if json_path:
        write_json(json_path, {"per_step": history, "per_epoch": epoch_history(history)})
