"""The GAN step on TensorFlow: two gradient tapes, as in TensorFlow's DCGAN tutorial."""

import tensorflow as tf

from ganutils.gan.base import GANBase


class GAN(GANBase):
    """`GANBase` with a `train_step` written with `tf.GradientTape`."""

    def train_step(self, data):
        real_images, labels, noise = self.step_inputs(data)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            d_losses, g_loss, real_logits, fake_logits = self.play(real_images, labels, noise)
            d_scaled, g_scaled = self.d_optimizer.scale_loss(d_losses[0]), self.g_optimizer.scale_loss(g_loss)  # x1 unless mixed precision
        # D's update: the gradient of D's loss with respect to D's weights.
        self.d_optimizer.apply(d_tape.gradient(d_scaled, d_weights), d_weights)
        if self.alternating:  # Algorithm 1: G's step answers the D that has just been updated
            with tf.GradientTape() as g_tape:
                g_loss = self.play(real_images, labels, noise)[1]
                g_scaled = self.g_optimizer.scale_loss(g_loss)
        # G's update: the gradient of G's loss, through D, with respect to G's weights.
        self.g_optimizer.apply(g_tape.gradient(g_scaled, g_weights), g_weights)
        if self.average is not None:  # the average of G's weights moves a little towards G
            new_averages = self.averaged(self.average.weights, self.generator.weights, self.g_optimizer.iterations)
            for mean, value in zip(self.average.weights, new_averages):
                mean.assign(value)
        return self.step_logs(d_losses, g_loss, real_logits, fake_logits)
