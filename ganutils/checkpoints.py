"""The checkpoint format: one .npz file of a trainer's variables and its state, and the checks before resuming."""

import json

import keras
import numpy as np

from ganutils.config import TYPE_NAMES, ConfigError, TrainConfig, is_of_type
from ganutils.divergence import check_finite_arrays
from ganutils.files import ArchiveError, atomic_output, npz_headers, read_npz
from ganutils.history import HISTORY_KEYS

CHECKPOINT_FORMAT = 4  # 1: the step before the GAN model (D returned probabilities); 2: no training seconds; 3: no data
READABLE_FORMATS = (3, CHECKPOINT_FORMAT)  # what a format-3 file lacks takes its default (no data fingerprint)
CHECKPOINT_STATE = {"format": int, "backend": str, "config": dict, "step": int, "total_steps": int, "seconds": float,
                    "history": list}  # what a checkpoint's state holds, and the type of each
DATA_FINGERPRINT = {"source": str, "images": int, "sha256": str}  # the state's "data" (`data.fingerprint`), or None
MAX_STATE_BYTES = 64 * 2**20  # a checkpoint's state: its history of 100,000 steps takes about 15 MB


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
        "data": trainer.data,
    }
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    with atomic_output(path) as temporary:
        with open(temporary, "wb") as stream:
            np.savez(stream, **arrays)


def restore_checkpoint(trainer, path):
    """Load what `save_checkpoint` wrote into the trainer's models (built from the same config), once all of it is checked; returns its state."""
    state = read_checkpoint_state(path)
    variables = checkpoint_variables(trainer)
    declared = _headers(path)
    declared.pop("state")
    unmatched = sorted(set(variables) ^ set(declared))
    if unmatched:
        where = "this model has no" if unmatched[0] in declared else "it lacks"
        raise CheckpointError(f"{path}: its {unmatched[0].split('/')[0]} does not match this model ({where} {unmatched[0]})")
    for name, variable in variables.items():
        shape, dtype = declared[name]
        if shape != tuple(variable.shape):
            raise CheckpointError(f"{path}: its {name} is {dtype} shaped {shape}, this model's {tuple(variable.shape)}")
    largest = max((np.dtype(dtype).itemsize * np.prod(shape, dtype=np.int64) for shape, dtype in declared.values()), default=0)
    stored = _read(path, list(variables), int(largest))
    for name, variable in variables.items():
        variable.assign(stored[name])
    return state


def _headers(path):
    """Each array of a checkpoint as (shape, dtype), from its header; a file that is no checkpoint is a CheckpointError naming it."""
    try:
        declared = npz_headers(path)
    except ArchiveError as error:
        raise CheckpointError(str(error)) from None
    if "state" not in declared:
        raise CheckpointError(f"{path}: not a ganutils checkpoint (no state in it)")
    return declared


def _read(path, names, max_bytes):
    """The arrays `names` of a checkpoint, none larger than `max_bytes`."""
    try:
        return read_npz(path, names, max_bytes)
    except ArchiveError as error:
        raise CheckpointError(str(error)) from None


def read_checkpoint_state(path):
    """The state a checkpoint holds (its config as a `TrainConfig`), checked to be one this backend can resume."""
    _headers(path)
    try:
        state = json.loads(_read(path, ["state"], MAX_STATE_BYTES)["state"].tobytes())
    except ValueError as error:  # UnicodeDecodeError and JSON errors are ValueErrors
        if isinstance(error, CheckpointError):
            raise
        raise CheckpointError(f"{path}: not a ganutils checkpoint (its state is unreadable)") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: not a ganutils checkpoint (its state is a {type(state).__name__}, not a dict)")
    if state.get("format", 1) not in READABLE_FORMATS:
        raise CheckpointError(f"{path}: checkpoint format {state.get('format', 1)}, from another version of "
                              f"ganutils; this one resumes formats {' and '.join(map(str, READABLE_FORMATS))}")
    for key, kind in CHECKPOINT_STATE.items():
        if not is_of_type(state.get(key), kind):
            raise CheckpointError(f"{path}: its state's {key} is missing or not {TYPE_NAMES.get(kind, 'a ' + kind.__name__)}")
    state.setdefault("data", None)
    _check_fingerprint(path, state["data"])
    if state["backend"] != keras.backend.backend():
        raise CheckpointError(f"{path}: written on Keras' {state['backend']} backend; resume it there "
                              f"(KERAS_BACKEND={state['backend']}), not on {keras.backend.backend()}")
    _check_history(path, state["history"], state["step"])
    try:
        return {**state, "config": TrainConfig.from_dict(state["config"])}
    except ConfigError as error:
        raise CheckpointError(f"{path}: its config does not fit this version of ganutils ({error})") from None


def _check_fingerprint(path, data):
    """A checkpoint's data fingerprint must be None (a format-3 file) or `DATA_FINGERPRINT`'s entries."""
    if data is not None and not (isinstance(data, dict) and all(is_of_type(data.get(key), kind) for key, kind in DATA_FINGERPRINT.items())):
        raise CheckpointError(f"{path}: its state's data is not {', '.join(DATA_FINGERPRINT)}")


def _check_history(path, history, step):
    """A checkpoint's history must hold one record of numbers per step taken."""
    if len(history) != step:
        raise CheckpointError(f"{path}: its history holds {len(history)} steps, its step count {step}")
    for record in history:
        if not (isinstance(record, dict) and all(is_of_type(record.get(key), float) for key in HISTORY_KEYS)):
            raise CheckpointError(f"{path}: its history holds a record that is not {', '.join(HISTORY_KEYS)}")
