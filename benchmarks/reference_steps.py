"""Plain training steps to time the `ganutils` loop against, on the same models and settings.

- `TutorialStep` (TensorFlow): one `tf.function` with two `GradientTape`s, as TensorFlow's
  DCGAN tutorial writes it (https://www.tensorflow.org/tutorials/generative/dcgan), for
  conditional models too.
- `JaxStep` (JAX): one `jax.jit` function of all the weights and optimizer states, with
  `stateless_call`, `jax.value_and_grad` and `optimizer.stateless_apply`, outside Keras'
  `train_on_batch`.

Neither keeps an average of G's weights or a history: they are what a step costs at least.
Each takes `run(images, labels)` for a batch and returns once the step is done.
"""

import keras
import numpy as np


class TutorialStep:
    """TensorFlow's tutorial step on the course's models (D returns logits, smoothed real target)."""

    def __init__(self, generator, discriminator, config):
        import tensorflow as tf

        self.generator, self.discriminator, self.config = generator, discriminator, config
        self.conditional = len(generator.inputs) == 2
        self.cross_entropy = keras.losses.BinaryCrossentropy(from_logits=True)
        self.generator_optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        self.discriminator_optimizer = keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
        self.train_step = tf.function(self._train_step)
        self.tf = tf

    def _inputs(self, main, labels):
        return [main, labels] if self.conditional else main

    def _train_step(self, images, labels):
        tf = self.tf
        noise = tf.random.normal([tf.shape(images)[0], self.config.latent_dim])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = self.generator(self._inputs(noise, labels), training=True)
            real_output = self.discriminator(self._inputs(images, labels), training=True)
            fake_output = self.discriminator(self._inputs(generated_images, labels), training=True)
            gen_loss = self.cross_entropy(tf.ones_like(fake_output), fake_output)
            real_target = tf.ones_like(real_output) * (1.0 - self.config.label_smoothing)
            disc_loss = self.cross_entropy(real_target, real_output) + self.cross_entropy(tf.zeros_like(fake_output), fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, self.generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, self.discriminator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients_of_generator, self.generator.trainable_variables))
        self.discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, self.discriminator.trainable_variables))
        return gen_loss, disc_loss

    def run(self, images, labels):
        losses = self.train_step(images, labels)
        [float(loss) for loss in losses]  # wait for the step, as train_on_batch does


class JaxStep:
    """A plain jitted JAX step on the course's models: the textbook step with nothing around it."""

    def __init__(self, generator, discriminator, config):
        import jax

        self.jax = jax
        self.generator, self.discriminator, self.config = generator, discriminator, config
        self.conditional = len(generator.inputs) == 2
        self.optimizers = [keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1) for _ in range(2)]
        for optimizer, model in zip(self.optimizers, (discriminator, generator)):
            optimizer.build(model.trainable_variables)
        models = (discriminator, generator)
        self.state = (
            [[v.value for v in model.trainable_variables] for model in models],
            [[v.value for v in model.non_trainable_variables] for model in models],
            [[v.value for v in optimizer.variables] for optimizer in self.optimizers],
        )
        self.key = jax.random.PRNGKey(config.seed)
        self.step = jax.jit(self._step)

    def _inputs(self, main, labels):
        return [main, labels] if self.conditional else main

    def _losses(self, d_weights, g_weights, d_state, g_state, images, labels, noise):
        jax_numpy = self.jax.numpy
        fakes, g_state = self.generator.stateless_call(g_weights, g_state, self._inputs(noise, labels), training=True)
        real_logits, d_state = self.discriminator.stateless_call(d_weights, d_state, self._inputs(images, labels), training=True)
        fake_logits, d_state = self.discriminator.stateless_call(d_weights, d_state, self._inputs(fakes, labels), training=True)
        softplus = self.jax.nn.softplus
        smoothing = self.config.label_smoothing
        d_loss = (jax_numpy.mean((1 - smoothing) * softplus(-real_logits) + smoothing * softplus(real_logits))
                  + jax_numpy.mean(softplus(fake_logits))) / 2
        g_loss = jax_numpy.mean(softplus(-fake_logits))
        return d_loss, g_loss, d_state, g_state

    def _step(self, state, key, images, labels):
        (d_weights, g_weights), (d_state, g_state), (d_opt, g_opt) = state
        key, noise_key = self.jax.random.split(key)
        noise = self.jax.random.normal(noise_key, (images.shape[0], self.config.latent_dim))

        def d_loss(weights):
            loss, _, new_d_state, new_g_state = self._losses(weights, g_weights, d_state, g_state, images, labels, noise)
            return loss, (new_d_state, new_g_state)

        def g_loss(weights):
            return self._losses(d_weights, weights, d_state, g_state, images, labels, noise)[1]

        (loss_d, (new_d_state, new_g_state)), d_gradients = self.jax.value_and_grad(d_loss, has_aux=True)(d_weights)
        loss_g, g_gradients = self.jax.value_and_grad(g_loss)(g_weights)
        d_weights, d_opt = self.optimizers[0].stateless_apply(d_opt, d_gradients, d_weights)
        g_weights, g_opt = self.optimizers[1].stateless_apply(g_opt, g_gradients, g_weights)
        return ((d_weights, g_weights), (new_d_state, new_g_state), (d_opt, g_opt)), key, loss_d, loss_g

    def run(self, images, labels):
        self.state, self.key, loss_d, loss_g = self.step(self.state, self.key, images, labels)
        float(loss_d), float(loss_g)


def reference_step(generator, discriminator, config):
    """The plain step for the backend Keras runs, or None where there is none."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return TutorialStep(generator, discriminator, config)
    if backend == "jax":
        return JaxStep(generator, discriminator, config)
    return None


def batches(images, labels, batch_size, seed=0):
    """Endless shuffled batches, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    while True:
        picked = rng.integers(0, len(images), batch_size)
        yield images[picked], labels[picked]
