"""The GAN step on JAX: pure functions of the weights, differentiated with `jax.value_and_grad`.

JAX steps change nothing in place. Keras hands `train_step` the values of the model's
variables and keeps the values it returns, so everything a step changes travels in that
state: both players' weights, D's and G's batch statistics and random seeds, the average of
G, and both optimizers' variables, which `compile` makes part of the model for that reason.
"""

import jax
import keras

from ganutils.gan.base import GANBase


class StateValues:
    """The values of a model's variables during one stateless step, looked up and replaced by variable."""

    def __init__(self, variables, values):
        self.variables = list(variables)
        self.by_id = {id(variable): value for variable, value in zip(self.variables, values)}

    def of(self, variables):
        return [self.by_id[id(variable)] for variable in variables]

    def update(self, variables, values):
        self.by_id.update(zip(map(id, variables), values))

    def scope(self, *variables_and_values):
        """A `keras.StatelessScope` reading every variable as its value here, except the pairs given."""
        mapping = {id(variable): (variable, value) for variable, value in zip(self.variables, self.of(self.variables))}
        for variables, values in variables_and_values:
            mapping.update({id(variable): (variable, value) for variable, value in zip(variables, values)})
        return keras.StatelessScope(state_mapping=list(mapping.values()))



class GAN(GANBase):
    """`GANBase` with a stateless `train_step`, as Keras' JAX guides write it."""

    def compile(self, d_optimizer, g_optimizer):
        # Keras' JAX trainer passes one model-level optimizer's variables through the step; a GAN
        # has two, so that one is an unused placeholder, and the players' optimizers' variables
        # travel as the model's own (non-trainable) state, tracked by this attribute.
        super().compile(d_optimizer, g_optimizer, model_optimizer=keras.optimizers.SGD(0.0))
        self.optimizer_variables = [*d_optimizer.variables, *g_optimizer.variables]

    def train_step(self, state, data):
        trainable_values, non_trainable_values, optimizer_values, metrics_values = state
        real_images, labels, noise = self.step_inputs(data)
        values = StateValues(self.trainable_variables + self.non_trainable_variables, trainable_values + non_trainable_values)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        players_state = self.discriminator.non_trainable_variables + self.generator.non_trainable_variables  # batch statistics, random seeds

        def play(d_weight_values, g_weight_values):
            """`GANBase.play`, G's fakes judged by D and both losses, as a pure function of both players' weights."""
            with values.scope((d_weights, d_weight_values), (g_weights, g_weight_values)) as scope:
                outcome = self.play(real_images, labels, noise)
                scaled_losses = self.d_optimizer.scale_loss(outcome[0][0]), self.g_optimizer.scale_loss(outcome[1])  # x1 unless mixed precision
            new_state = [scope.get_current_value(variable) for variable in players_state]
            return scaled_losses, outcome, new_state

        def d_loss(d_weight_values, g_weight_values):
            scaled_losses, outcome, new_state = play(d_weight_values, g_weight_values)
            return scaled_losses[0], (outcome, new_state)

        def g_loss(g_weight_values, d_weight_values):
            scaled_losses, outcome, new_state = play(d_weight_values, g_weight_values)
            return scaled_losses[1], (outcome, new_state)

        # D's gradient of D's loss with respect to D's weights.
        (_, (outcome, d_state)), d_gradients = jax.value_and_grad(d_loss, has_aux=True)(values.of(d_weights), values.of(g_weights))
        if self.alternating:  # Algorithm 1: G's step answers the D that has just been updated
            self.apply_update(values, self.d_optimizer, d_weights, d_gradients)
            values.update(players_state, d_state)
        # G's gradient of G's loss, through D, with respect to G's weights.
        (_, (g_outcome, g_state)), g_gradients = jax.value_and_grad(g_loss, has_aux=True)(values.of(g_weights), values.of(d_weights))
        if not self.alternating:
            self.apply_update(values, self.d_optimizer, d_weights, d_gradients)
        values.update(players_state, g_state)
        self.apply_update(values, self.g_optimizer, g_weights, g_gradients)
        if self.average is not None:  # the average of G's weights moves a little towards G
            steps_done = values.of([self.g_optimizer.iterations])[0]
            averaged = self.averaged(values.of(self.average.weights), values.of(self.generator.weights), steps_done)
            values.update(self.average.weights, averaged)
        d_losses, _, real_logits, fake_logits = outcome
        logs = self.step_logs(d_losses, g_outcome[1], real_logits, fake_logits)
        return logs, (values.of(self.trainable_variables), values.of(self.non_trainable_variables), optimizer_values, metrics_values)

    @staticmethod
    def apply_update(values, optimizer, weights, gradients):
        """One optimizer step, `optimizer.stateless_apply`, on the values of `weights` and the optimizer's variables."""
        new_weights, new_optimizer_values = optimizer.stateless_apply(values.of(optimizer.variables), gradients, values.of(weights))
        values.update(weights, new_weights)
        values.update(optimizer.variables, new_optimizer_values)
