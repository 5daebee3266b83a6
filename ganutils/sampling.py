"""Loading a trained generator and drawing images from it."""

import numpy as np

from ganutils.config import MAX_LATENT_DIM
from ganutils.files import ModelFileError, check_model_file, first_line
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
        raise ModelFileError(f"{path}: cannot load model ({first_line(error)})") from None
    check_generator(model, path)
    return model


def check_generator(model, path):
    """Refuse, from its input and output specs, a model the course cannot draw from, naming the file and what is wrong."""
    if len(model.inputs) not in (1, 2):
        raise ModelFileError(f"{path}: not a generator (it takes {len(model.inputs)} inputs; expected noise, and a label if conditional)")
    noise, output = model.inputs[0], model.outputs[0] if len(model.outputs) == 1 else None
    shape = tuple(noise.shape)
    if len(shape) != 2 or shape[0] is not None or not 1 <= (shape[1] or 0) <= MAX_LATENT_DIM or "float" not in noise.dtype:
        raise ModelFileError(f"{path}: not a generator (its noise input is {noise.dtype} shaped {shape}; "
                             f"expected floats shaped (None, z), z from 1 to {MAX_LATENT_DIM})")
    if len(model.inputs) == 2:
        _check_label_input(model, path)
    if output is None or tuple(output.shape) != (None, *IMAGE_SHAPE) or "float" not in output.dtype:
        shapes = ", ".join(f"{output.dtype} shaped {tuple(output.shape)}" for output in model.outputs)
        raise ModelFileError(f"{path}: not a generator (its output is {shapes}, not floats shaped (None, 28, 28, 1))")


def _check_label_input(model, path):
    """A conditional generator takes whole-number labels shaped (None,) and can tell all ten digits apart."""
    label = model.inputs[1]
    if tuple(label.shape) != (None,) or "int" not in label.dtype:
        raise ModelFileError(f"{path}: not a conditional generator the course can use (its label input is {label.dtype} "
                             f"shaped {tuple(label.shape)}; expected whole numbers shaped (None,))")
    for layer in _all_layers(model):
        classes = getattr(layer, "input_dim", None) or getattr(layer, "num_tokens", None)
        if classes is not None and classes < NUM_CLASSES:
            raise ModelFileError(f"{path}: its layer {layer.name!r} takes {classes} classes of labels, fewer than the {NUM_CLASSES} digits")


def _all_layers(model):
    """A model's layers, those of the models inside it included."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


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
