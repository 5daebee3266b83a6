"""The GAN as one Keras model: G, D, their optimizers, their losses and the average of G.

`GAN(generator, discriminator, ...)` is the model for the backend Keras runs on: `GANBase`
(`base.py`, shared) with the backend's `train_step`, one round of the game, from
`tensorflow_step.py`, `jax_step.py` or `torch_step.py`.

Call `gan.train_on_batch((real_images, labels, noise), return_dict=True)` for one step; an
unconditional GAN ignores the labels. The logs are the step's own losses and accuracies.
"""

import importlib

import keras

from ganutils.config import BACKENDS
from ganutils.gan.base import LOG_KEYS, GANBase, cross_entropy, probability  # noqa: F401  (as the lessons and trainer use them)


def backend_gan_class():
    """The GAN class of the backend Keras runs on, from that backend's step module."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ImportError(f"ganutils runs on Keras' {', '.join(BACKENDS)} backends, not {backend}")
    return importlib.import_module(f"ganutils.gan.{backend}_step").GAN


GAN = backend_gan_class()
