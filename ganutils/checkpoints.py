"""The checkpoint format: one .npz file of a trainer's variables and its state, and the checks before resuming."""

import json
import zipfile
import zlib

import keras
import numpy as np

from ganutils.config import TYPE_NAMES, ConfigError, TrainConfig, is_of_type
from ganutils.divergence import check_finite_arrays
from ganutils.files import atomic_output
from ganutils.history import HISTORY_KEYS

CHECKPOINT_FORMAT = 3  # format 1: the step before the GAN model (D returned probabilities); 2: no training seconds
CHECKPOINT_STATE = {"format": int, "backend": str, "config": dict, "step": int, "total_steps": int, "seconds": float,
                    "history": list}  # what a checkpoint's state holds, and the type of each


class CheckpointError(ValueError):
    """A checkpoint this version of ganutils cannot resume from."""


def checkpoint_variables(trainer):
    """Every variable a checkpoint of `trainer` holds, by its name there (`group/index`)."""
    gan = trainer.gan
    groups = {
        "generator": trainer.generator.variables,
        "discriminator": trainer.discriminator.variables,
        "d_optimizer": gan.d_optimizer.variables,
        "g_optimizer": gan.g_optimizer.variables,
    }
    if gan.average is not None:
        groups["average"] = gan.average.variables
    return {f"{group}/{i}": variable for group, variables in groups.items() for i, variable in enumerate(variables)}


def save_checkpoint(trainer, path):
    """Write the trainer's weights, optimizer states, step, history, time and config to one file, atomically; refuse NaN weights."""
    arrays = {name: keras.ops.convert_to_numpy(variable) for name, variable in checkpoint_variables(trainer).items()}
    check_finite_arrays(arrays, trainer.step)
    state = {
        "format": CHECKPOINT_FORMAT,
        "backend": keras.backend.backend(),
        "config": trainer.config.as_dict(),
        "step": trainer.step,
        "total_steps": trainer.total_steps,
        "seconds": float(trainer.seconds),
        "history": trainer.history,
    }
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    with atomic_output(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)


def restore_checkpoint(trainer, path):
    """Load what `save_checkpoint` wrote into the trainer's models (built from the same config), once all of it is checked; returns its state."""
    state = read_checkpoint_state(path)
    variables = checkpoint_variables(trainer)
    stored = _read_arrays(path, lambda name: name != "state")
    unmatched = sorted(set(variables) ^ set(stored))
    if unmatched:
        where = "this model has no" if unmatched[0] in stored else "it lacks"
        raise CheckpointError(f"{path}: its {unmatched[0].split('/')[0]} does not match this model ({where} {unmatched[0]})")
    for name, variable in variables.items():
        value = stored[name]
        if value.shape != tuple(variable.shape) or value.dtype.kind not in "biuf":
            raise CheckpointError(f"{path}: its {name} is {value.dtype} shaped {value.shape}, this model's {tuple(variable.shape)}")
    for name, variable in variables.items():
        variable.assign(stored[name])
    return state


def _read_arrays(path, wanted):
    """The arrays of a checkpoint whose names `wanted` accepts; a damaged file is a CheckpointError naming it."""
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a checkpoint (not an npz archive)")
    try:
        with np.load(path) as archive:
            return {name: archive[name] for name in archive.files if wanted(name)}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(error).__name__})") from None


def read_checkpoint_state(path):
    """The state a checkpoint holds (its config as a `TrainConfig`), checked to be one this backend can resume."""
    stored = _read_arrays(path, lambda name: name == "state")
    try:
        state = json.loads(stored["state"].tobytes())
    except (KeyError, ValueError):  # UnicodeDecodeError is a ValueError
        raise CheckpointError(f"{path}: not a ganutils checkpoint (no readable state in it)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a ganutils checkpoint (its state is a {type(state).__name__}, not a dict)")
    if state.get("format", 1) != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: checkpoint format {state.get('format', 1)}, from another version of "
                              f"ganutils; this one resumes format {CHECKPOINT_FORMAT} only")
    for key, kind in CHECKPOINT_STATE.items():
        if not is_of_type(state.get(key), kind):
            raise CheckpointError(f"{path}: its state's {key} is missing or not {TYPE_NAMES.get(kind, 'a ' + kind.__name__)}")
    if state["backend"] != keras.backend.backend():
        raise CheckpointError(f"{path}: written on Keras' {state['backend']} backend; resume it there "
                              f"(KERAS_BACKEND={state['backend']}), not on {keras.backend.backend()}")
    _check_history(path, state["history"], state["step"])
    try:
        return {**state, "config": TrainConfig.from_dict(state["config"])}
    except ConfigError as error:
        raise CheckpointError(f"{path}: its config does not fit this version of ganutils ({error})") from None


def _check_history(path, history, step):
    """A checkpoint's history must hold one record of numbers per step taken."""
    if len(history) != step:
        raise CheckpointError(f"{path}: its history holds {len(history)} steps, its step count {step}")
    for record in history:
        if not (isinstance(record, dict) and all(is_of_type(record.get(key), float) for key in HISTORY_KEYS)):
            raise CheckpointError(f"{path}: its history holds a record that is not {', '.join(HISTORY_KEYS)}")
