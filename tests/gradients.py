"""The gradient of a loss with respect to some Keras variables, on whichever backend Keras runs."""

import keras
import numpy as np


def gradients(loss_function, variables):
    """The gradient of `loss_function()` with respect to each of `variables`, as NumPy arrays."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_function()
        return [np.asarray(tf.convert_to_tensor(gradient)) for gradient in tape.gradient(loss, variables)]
    if backend == "jax":
        import jax

        def loss_of(values):
            with keras.StatelessScope(state_mapping=list(zip(variables, values))):
                return loss_function()

        return [np.asarray(gradient) for gradient in jax.grad(loss_of)([variable.value for variable in variables])]
    import torch

    loss = loss_function()
    return [gradient.numpy() for gradient in torch.autograd.grad(loss, [variable.value for variable in variables])]


def numpy(value):
    """Any backend's tensor (or a Keras variable) as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(value))
