"""Where training runs: the GPUs a backend sees, and data-parallel training over several devices (JAX only).

Data parallelism uses Keras' distribution API: `keras.distribution.DataParallel` keeps every
weight replicated on each device and splits each batch across them, so one step on N devices
computes what one step on one device computes with the same global batch.
"""

import contextlib

import keras

ALL_DEVICES = "all"
DATA_PARALLEL_BACKENDS = ("jax",)  # where Keras' distribution API trains; see docs/design.md


class DevicesError(ValueError):
    """A device count that this backend, these devices or this batch size cannot train on."""


def gpu_names():
    """The model names of the GPUs the backend sees (or their ids, where the backend gives no name)."""
    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return [tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name) for gpu in gpus]


def describe_devices(count=1):
    """Where training runs, in words: `GPU (NVIDIA H200, jax)`, `2 GPUs (...)`, or `CPU (jax sees no GPU)`."""
    backend = keras.backend.backend()
    gpus = gpu_names()[:count]
    if not gpus:
        return f"CPU ({backend} sees no GPU)" if count == 1 else f"{count} CPU devices ({backend} sees no GPU)"
    names = ", ".join(dict.fromkeys(gpus))  # each model once
    return f"GPU ({names}, {backend})" if count == 1 else f"{count} GPUs ({names}, {backend})"


def data_parallel(devices, batch_size):
    """A `keras.distribution.DataParallel` over `devices` (a count, or "all") that splits `batch_size` evenly; None for one device."""
    if devices == 1:
        return None
    backend = keras.backend.backend()
    if backend not in DATA_PARALLEL_BACKENDS:
        raise DevicesError(f"training on several devices needs Keras' jax backend (KERAS_BACKEND=jax); "
                           f"Keras' distribution API does not train on {backend}")
    available = keras.distribution.list_devices()
    count = len(available) if devices == ALL_DEVICES else devices
    if count > len(available):
        raise DevicesError(f"{count} devices asked for, but {backend} sees {len(available)}")
    if batch_size % count:
        raise DevicesError(f"the batch size {batch_size} does not split evenly across {count} devices; "
                           f"choose a multiple of {count}")
    return None if count == 1 else keras.distribution.DataParallel(devices=available[:count])


def device_count(distribution):
    """How many devices a distribution (None: one device) trains on."""
    return 1 if distribution is None else distribution.device_mesh.devices.size


def replicate(distribution, variables):
    """Place every variable on all of the distribution's devices (its layout for them), wherever it was created."""
    for variable in variables:
        layout = distribution.get_variable_layout(variable)
        variable.assign(keras.distribution.distribute_tensor(variable.value, layout))


def training_scope(distribution):
    """The scope to run a training step in: the distribution's, or none for one device."""
    return contextlib.nullcontext() if distribution is None else distribution.scope()
