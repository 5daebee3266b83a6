"""Loading a trained generator and drawing images from it."""

import numpy as np

from ganutils.files import ModelFileError, check_model_file
from ganutils.models import IMAGE_SHAPE, NUM_CLASSES, is_conditional

SAMPLE_BATCH = 1000  # images drawn at a time, so that memory stays flat however many are asked for


class NonFiniteImagesError(ValueError):
    """A generator drew images with NaN or infinite pixels."""


def load_generator(path):
    """Load a generator saved by `ganutils train` (or `model.save`), with one-line errors."""
    import keras

    check_model_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for damaged archives.
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(f"{path}: cannot load model ({message})") from None
    if len(model.inputs) not in (1, 2) or len(model.inputs[0].shape) != 2:
        raise ModelFileError(f"{path}: not a generator (expected a noise input of shape (batch, z))")
    if len(model.outputs) != 1 or tuple(model.outputs[0].shape[1:]) != IMAGE_SHAPE:
        shapes = ", ".join(str(tuple(output.shape)) for output in model.outputs)
        raise ModelFileError(f"{path}: not a generator (its output is shaped {shapes}, not (batch, 28, 28, 1))")
    return model


def latent_dim(generator):
    """Size of the generator's noise vector."""
    return int(generator.inputs[0].shape[-1])


def fixed_noise(generator, n, seed=0):
    """The same `n` noise vectors for the same seed: used to compare snapshots over training."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, latent_dim(generator)), dtype=np.float32)


def generate_images(generator, noise, labels=None):
    """Run the generator in inference mode; images come back in [0, 1], shape (n, 28, 28, 1).

    Raises `NonFiniteImagesError` if any pixel is NaN or infinite (a diverged generator).
    """
    inputs = noise if labels is None else [noise, np.asarray(labels, dtype=np.int32)]
    images = generator.predict(inputs, batch_size=256, verbose=0).astype(np.float32)  # float16 if mixed precision
    if not np.isfinite(images).all():
        raise NonFiniteImagesError("the generator draws images with NaN or infinite pixels")
    return np.clip((images + 1.0) / 2.0, 0.0, 1.0)


def sample_images(generator, n, label=None, seed=0):
    """Draw `n` images, `SAMPLE_BATCH` at a time; a conditional generator gets `label`, or the digits 0-9 in turn.

    The noise is `fixed_noise(generator, n, seed)`.

    Returns:
        (images, labels): images (n, 28, 28) float32 in [0, 1]; labels (n,) int32 for a
        conditional generator, None for an unconditional one.
    """
    if n < 1:
        raise ValueError(f"the number of images must be positive, got {n}")
    if label is not None and not is_conditional(generator):
        raise ValueError("this generator is unconditional: it takes no label")
    if label is not None and not 0 <= label < NUM_CLASSES:
        raise ValueError(f"label must be a digit from 0 to {NUM_CLASSES - 1}, got {label}")
    labels = None
    if is_conditional(generator):
        labels = np.full(n, label, np.int32) if label is not None else np.arange(n, dtype=np.int32) % NUM_CLASSES
    noise = fixed_noise(generator, n, seed)
    images = np.empty((n, *IMAGE_SHAPE[:2]), np.float32)
    for start in range(0, n, SAMPLE_BATCH):
        part = slice(start, start + SAMPLE_BATCH)
        images[part] = generate_images(generator, noise[part], None if labels is None else labels[part])[..., 0]
    return images, labels
