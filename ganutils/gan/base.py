"""What every backend's GAN shares: G, D, their optimizers, their losses and the average of G.

Everything but the train step (how G draws, how D judges, both losses, D's accuracy, the
average of G's weights) is written once here, with `keras.ops`; each backend's module in this
package subclasses `GANBase` with its `train_step`.
"""

import keras
from keras import ops

from ganutils.config import GENERATOR_LOSSES
from ganutils.models import is_conditional

LOG_KEYS = ("d_loss", "d_loss_real", "d_loss_fake", "g_loss", "d_acc_real", "d_acc_fake")


def cross_entropy(target, logits):
    """Mean binary cross-entropy of D's logits against one target probability for all of them."""
    logits = ops.cast(logits, "float32")  # float16 under mixed precision
    return ops.mean(keras.losses.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


def non_saturating_loss(fake_logits):
    """G's usual loss, -log D(G(z)): G wants its fakes called real."""
    return cross_entropy(1.0, fake_logits)


def minimax_loss(fake_logits):
    """G's side of the value function, log(1 - D(G(z))): G wants D's loss on fakes high."""
    return -cross_entropy(0.0, fake_logits)


GENERATOR_LOSS_FUNCTIONS = dict(zip(GENERATOR_LOSSES, (non_saturating_loss, minimax_loss)))


def probability(logits):
    """D(x), the probability of "real", from D's logit."""
    return ops.sigmoid(ops.cast(logits, "float32"))


def accuracy(logits, real):
    """Fraction of D's verdicts that are right: D(x) above 1/2 for real images, at most 1/2 for fakes."""
    says_real = ops.cast(logits, "float32") > 0
    return ops.mean(ops.cast(says_real if real else ops.logical_not(says_real), "float32"))


def copy_model(model):
    """A second model of the same architecture, starting from the same weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


class GANBase(keras.Model):
    """What every backend's GAN shares; each backend's subclass adds `train_step`.

    Args:
        generator: takes noise (and integer labels, if conditional) and returns images.
        discriminator: takes images (and labels) and returns a logit, D's "real" score.
        generator_loss: "non_saturating", "minimax", or a function of D's logits on the fakes.
        label_smoothing: D's target for real images is 1 minus this.
        ema_decay: the average of G moves by 1 - decay towards G after each step; 0: no average.
        alternating: update D first, then G against the updated D (Goodfellow et al.'s
            Algorithm 1 with k = 1), instead of both players from one forward pass.
        real_and_fake_together: D judges real images and fakes as one batch, not two.
    """

    def __init__(self, generator, discriminator, generator_loss="non_saturating", label_smoothing=0.1,
                 ema_decay=0.999, alternating=False, real_and_fake_together=False):
        super().__init__(name="gan")
        self.generator, self.discriminator = generator, discriminator
        self.generator_loss = GENERATOR_LOSS_FUNCTIONS.get(generator_loss, generator_loss)
        if not callable(self.generator_loss):
            raise ValueError(f"generator_loss must be one of {', '.join(GENERATOR_LOSSES)} or a function, got {generator_loss!r}")
        self.label_smoothing, self.ema_decay = label_smoothing, ema_decay
        self.alternating, self.real_and_fake_together = alternating, real_and_fake_together
        self.conditional = is_conditional(generator)
        self.average = copy_model(generator) if ema_decay else None
        if self.average is not None:
            self.average.trainable = False  # it moves towards G, not down a gradient
        self.built = True  # G and D are built; the GAN itself has no call() to build

    def compile(self, d_optimizer, g_optimizer, model_optimizer=None):
        """Give each player its own optimizer; the model itself has no loss and no metrics."""
        super().compile(optimizer=model_optimizer)
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer
        d_optimizer.build(self.discriminator.trainable_variables)
        g_optimizer.build(self.generator.trainable_variables)

    @staticmethod
    def step_inputs(data):
        """The real images, labels and noise of a `train_on_batch((real_images, labels, noise))` call, as tensors."""
        real_images, labels, noise = keras.utils.unpack_x_y_sample_weight(data)[0]
        return ops.convert_to_tensor(real_images), ops.convert_to_tensor(labels, "int32"), ops.convert_to_tensor(noise)

    @property
    def sampler(self):
        """The generator to draw samples from: the average of G's weights, or G if there is none."""
        return self.generator if self.average is None else self.average

    def model_inputs(self, main, labels):
        """What G or D takes: the noise or images, and the labels if the GAN is conditional."""
        return [main, labels] if self.conditional else main

    def generate(self, noise, labels):
        """G's fakes for this noise (and labels), in training mode."""
        return self.generator(self.model_inputs(noise, labels), training=True)

    def discriminate(self, images, labels):
        """D's logits for these images (and labels), in training mode."""
        return self.discriminator(self.model_inputs(images, labels), training=True)

    def judge(self, real_images, fake_images, labels):
        """D's logits for the real images and for the fakes, in two calls or in one batch."""
        if not self.real_and_fake_together:
            return self.discriminate(real_images, labels), self.discriminate(fake_images, labels)
        batch = ops.shape(real_images)[0]
        both = ops.concatenate([real_images, ops.cast(fake_images, real_images.dtype)], axis=0)
        logits = self.discriminate(both, ops.concatenate([labels, labels], axis=0))
        return logits[:batch], logits[batch:]

    def play(self, real_images, labels, noise):
        """One round's forward pass: G draws fakes, D judges them and the real images, each player's loss."""
        fake_images = self.generate(noise, labels)
        real_logits, fake_logits = self.judge(real_images, fake_images, labels)
        d_losses = self.discriminator_losses(real_logits, fake_logits)  # D wants real called real, fakes fake
        g_loss = self.generator_loss(fake_logits)  # G wants its fakes called real
        return d_losses, g_loss, real_logits, fake_logits

    def discriminator_losses(self, real_logits, fake_logits):
        """D's loss, the mean over its real and fake images, and its two halves."""
        real_loss = cross_entropy(1.0 - self.label_smoothing, real_logits)
        fake_loss = cross_entropy(0.0, fake_logits)
        return (real_loss + fake_loss) / 2, real_loss, fake_loss

    def average_decay(self, steps_done):
        """The average's decay after `steps_done` steps: smaller early on, so that G's first weights fade fast."""
        steps_done = ops.cast(steps_done, "float32")
        return ops.minimum(self.ema_decay, (1.0 + steps_done) / (10.0 + steps_done))

    def averaged(self, average_weights, generator_weights, steps_done):
        """The average's new weights: each moves by 1 - decay towards G's."""
        decay = self.average_decay(steps_done)
        return [decay * mean + (1.0 - decay) * ops.cast(value, mean.dtype)
                for mean, value in zip(average_weights, generator_weights)]

    def step_logs(self, d_losses, g_loss, real_logits, fake_logits):
        """The step's record: both losses, D's two halves, and D's accuracy on real and fake images."""
        d_loss, d_loss_real, d_loss_fake = d_losses
        return dict(zip(LOG_KEYS, (d_loss, d_loss_real, d_loss_fake, g_loss,
                                   accuracy(real_logits, real=True), accuracy(fake_logits, real=False))))

