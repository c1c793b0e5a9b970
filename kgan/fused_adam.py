"""Applies a `keras.optimizers.Adam` step with TensorFlow's fused Adam kernel.

Keras 3's Adam updates each variable with about ten separate elementwise ops
(backend-agnostic code); `tf.raw_ops.ResourceApplyAdam`, the kernel tf.keras 2's
Adam used, does the same update in one pass over the variable and its two
slots. Its arithmetic is Keras 3's, term for term::

    alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
    m += (g - m) * (1 - beta_1);  v += (g**2 - v) * (1 - beta_2)
    var -= m * alpha / (sqrt(v) + epsilon)

and it writes the optimizer's own variables (``iterations`` and the ``m``/``v``
slots), so saving, loading and a later `apply_gradients` see no difference.
Measured on the DCGAN of the zoo (3.4 M parameters, 2-core CPU): 8.8 ms -> 3.4
ms per step for both optimizers (see bench/README.md).

Only the plain case is fused: a `keras.optimizers.Adam` (not a subclass)
without amsgrad, weight decay, clipping, EMA, gradient accumulation or loss
scaling, float32 variables without constraints, dense gradients, outside any
tf.distribute strategy (whose cross-replica gradient sum Keras does). Anything
else goes through ``optimizer.apply_gradients`` unchanged.
"""

import keras
import tensorflow as tf


def can_fuse(optimizer, grads, variables):
    """Whether `apply_gradients` may use the fused kernel for this update.

    Args:
      optimizer: a Keras optimizer.
      grads: the gradients (tensors, IndexedSlices or None).
      variables: the Keras variables they belong to.

    Returns:
      True for the plain Adam case described in the module docstring.
    """
    if type(optimizer) is not keras.optimizers.Adam or not optimizer.built:  # pylint: disable=unidiomatic-typecheck
        return False
    if (optimizer.amsgrad or optimizer.weight_decay or optimizer.use_ema or optimizer.gradient_accumulation_steps
            or optimizer.loss_scale_factor is not None
            or any(c is not None for c in (optimizer.clipnorm, optimizer.clipvalue, optimizer.global_clipnorm))):
        return False
    if tf.distribute.has_strategy():
        return False
    known = {id(v) for v in optimizer._trainable_variables}  # pylint: disable=protected-access
    for grad, variable in zip(grads, variables):
        if not isinstance(grad, tf.Tensor) or grad.dtype != tf.float32 or variable.dtype != "float32":
            return False
        if variable.constraint is not None or getattr(variable, "overwrite_with_gradient", False):
            return False
        if id(variable) not in known:
            return False
    return True


def apply_gradients(optimizer, grads, variables):
    """One optimizer step: fused Adam when `can_fuse`, else ``optimizer.apply_gradients``.

    Args:
      optimizer: a Keras optimizer built on (a superset of) ``variables``.
      grads: gradients, one per variable.
      variables: the Keras variables to update.
    """
    grads, variables = list(grads), list(variables)
    if not can_fuse(optimizer, grads, variables):
        optimizer.apply_gradients(zip(grads, variables))
        return
    with tf.name_scope(optimizer.name):
        step = tf.cast(optimizer.iterations + 1, tf.float32)
        beta_1 = tf.cast(optimizer.beta_1, tf.float32)
        beta_2 = tf.cast(optimizer.beta_2, tf.float32)
        learning_rate = tf.cast(optimizer.learning_rate, tf.float32)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
        epsilon = tf.cast(optimizer.epsilon, tf.float32)
        for grad, variable in zip(grads, variables):
            index = optimizer._get_variable_index(variable)  # pylint: disable=protected-access
            tf.raw_ops.ResourceApplyAdam(
                var=variable.value.handle,
                m=optimizer._momentums[index].value.handle,  # pylint: disable=protected-access
                v=optimizer._velocities[index].value.handle,  # pylint: disable=protected-access
                beta1_power=beta_1_power, beta2_power=beta_2_power, lr=learning_rate,
                beta1=beta_1, beta2=beta_2, epsilon=epsilon, grad=grad)
        optimizer.iterations.assign_add(1)
