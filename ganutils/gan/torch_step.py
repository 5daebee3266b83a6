"""The GAN step on PyTorch: `torch.autograd.grad` of each player's loss, as Keras' PyTorch guides write it."""

import torch

from ganutils.gan.base import GANBase


class GAN(GANBase):
    """`GANBase` with a `train_step` for Keras' PyTorch backend.

    `loss.backward()` would add D's loss's gradient to G's weights as well (the fakes come from
    G), so each player asks `torch.autograd.grad` for its own loss's gradient with respect to
    its own weights only.
    """

    def train_step(self, data):
        real_images, labels, noise = self.step_inputs(data)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        d_losses, g_loss, real_logits, fake_logits = self.play(real_images, labels, noise)
        # D's gradient of D's loss with respect to D's weights; the graph is kept for G's.
        d_gradients = torch.autograd.grad(self.d_optimizer.scale_loss(d_losses[0]), [w.value for w in d_weights], retain_graph=True)
        if self.alternating:  # Algorithm 1: G's step answers the D that has just been updated
            with torch.no_grad():
                self.d_optimizer.apply(d_gradients, d_weights)
            g_loss = self.play(real_images, labels, noise)[1]
        # G's gradient of G's loss, through D, with respect to G's weights.
        g_gradients = torch.autograd.grad(self.g_optimizer.scale_loss(g_loss), [w.value for w in g_weights])
        with torch.no_grad():
            if not self.alternating:
                self.d_optimizer.apply(d_gradients, d_weights)
            self.g_optimizer.apply(g_gradients, g_weights)
            if self.average is not None:  # the average of G's weights moves a little towards G
                new_averages = self.averaged(self.average.weights, self.generator.weights, self.g_optimizer.iterations)
                for mean, value in zip(self.average.weights, new_averages):
                    mean.assign(value)
        logs = self.step_logs(d_losses, g_loss, real_logits, fake_logits)
        return {key: value.detach() for key, value in logs.items()}
