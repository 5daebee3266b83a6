"""The GAN as one Keras model: G, D, their optimizers, their losses and the average of G.

`GAN(generator, discriminator, ...)` is the model for the backend Keras runs on: `GANBase`
(`base.py`, shared) with the backend's `train_step`, one round of the game, from
`tensorflow_step.py`, `jax_step.py` or `torch_step.py`.

Call `gan.train_on_batch((real_images, labels, noise), return_dict=True)` for one step; an
unconditional GAN ignores the labels. The logs are the step's own losses and accuracies.
"""

import importlib

import keras

from ganutils.gan.base import (  # noqa: F401  (the shared parts, as `ganutils.gan.<name>`)
    GENERATOR_LOSS_FUNCTIONS,
    LOG_KEYS,
    GANBase,
    accuracy,
    copy_model,
    cross_entropy,
    minimax_loss,
    non_saturating_loss,
    probability,
)

BACKENDS = ("tensorflow", "jax", "torch")


def backend_gan_class():
    """The GAN class of the backend Keras runs on, from that backend's step module."""
    backend = keras.backend.backend()
    if backend not in BACKENDS:
        raise ImportError(f"ganutils runs on Keras' {', '.join(BACKENDS)} backends, not {backend}")
    return importlib.import_module(f"ganutils.gan.{backend}_step").GAN


GAN = backend_gan_class()
