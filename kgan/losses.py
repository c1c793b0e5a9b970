"""Adversarial losses as pure functions on discriminator logits.

Every function accepts either head of the discriminator:

* a single logit per example, shape ``[N]`` or ``[N, 1]`` (sigmoid head:
  ``D(x) = sigmoid(logit)``), or
* 2-way softmax logits, shape ``[N, 2]`` with index 1 = "real"
  (``D(x) = softmax(logits)[:, 1]``).

A 2-way softmax is a sigmoid of the logit difference
(``softmax(l)[1] == sigmoid(l[1] - l[0])``), so both heads reduce to one
real-vs-fake logit and every log-probability is computed with
``log_sigmoid``, which is stable for logits of any size.
"""

import tensorflow as tf


def real_logit(logits):
    """Reduces either discriminator head to one "real" logit per example.

    Args:
      logits: ``[N]``, ``[N, 1]`` (sigmoid head) or ``[N, 2]`` (softmax head,
        index 1 = real) logits.

    Returns:
      float32 ``[N]`` logits ``l`` with ``D(x) = sigmoid(l)``.
    """
    logits = tf.convert_to_tensor(logits)
    if not logits.dtype.is_floating:
        raise TypeError(f"Discriminator logits must be floating point, got {logits.dtype}.")
    logits = tf.cast(logits, tf.float32)
    rank = logits.shape.rank
    if rank == 1:
        return logits
    if rank == 2 and logits.shape[-1] == 1:
        return logits[:, 0]
    if rank == 2 and logits.shape[-1] == 2:
        return logits[:, 1] - logits[:, 0]
    raise ValueError(
        "Discriminator logits must have shape [N], [N, 1] (sigmoid head) or "
        f"[N, 2] (softmax head, index 1 = real); got shape {logits.shape}."
    )


def probability_real(logits):
    """``D(x)``: the probability the discriminator assigns to "real".

    Args:
      logits: discriminator logits of either head (see module docstring).

    Returns:
      float32 ``[N]`` probabilities in [0, 1].
    """
    return tf.sigmoid(real_logit(logits))


def discriminator_loss(real_logits, fake_logits, label_smoothing=0.0):
    """``-(log D(x) + log(1 - D(G(z))))``, averaged over the batch.

    The mean over the real batch plus the mean over the generated batch, as in
    Goodfellow et al. 2014, Algorithm 1.

    Args:
      real_logits: logits of D on real data.
      fake_logits: logits of D on generated data.
      label_smoothing: one-sided label smoothing (Salimans et al. 2016): the
        real target becomes ``1 - label_smoothing`` (0.1 -> 0.9); fake targets
        stay 0. (Keras' ``BinaryCrossentropy(label_smoothing=s)`` instead moves
        both targets by ``s / 2``.)

    Returns:
      Scalar float32 loss.
    """
    if not 0.0 <= float(label_smoothing) < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}.")
    real = real_logit(real_logits)
    fake = real_logit(fake_logits)
    target = 1.0 - float(label_smoothing)
    # BCE(t, l) = -(t log sigmoid(l) + (1 - t) log sigmoid(-l)); log(1 - sigmoid(l)) = log sigmoid(-l).
    real_loss = -(target * tf.math.log_sigmoid(real) + (1.0 - target) * tf.math.log_sigmoid(-real))
    fake_loss = -tf.math.log_sigmoid(-fake)
    return tf.reduce_mean(real_loss) + tf.reduce_mean(fake_loss)


def minimax_generator_loss(fake_logits):
    """The original minimax generator loss ``log(1 - D(G(z)))``, averaged.

    Args:
      fake_logits: logits of D on generated data.

    Returns:
      Scalar float32 loss (always <= 0; G minimizes it).
    """
    return tf.reduce_mean(tf.math.log_sigmoid(-real_logit(fake_logits)))


def non_saturating_generator_loss(fake_logits):
    """The non-saturating generator loss ``-log D(G(z))``, averaged.

    Args:
      fake_logits: logits of D on generated data.

    Returns:
      Scalar float32 loss (always >= 0).
    """
    return tf.reduce_mean(-tf.math.log_sigmoid(real_logit(fake_logits)))


GENERATOR_LOSSES = {
    "non_saturating": non_saturating_generator_loss,
    "minimax": minimax_generator_loss,
}


def get_generator_loss(name):
    """Looks up a generator loss by name.

    Args:
      name: "non_saturating" or "minimax".

    Returns:
      The loss function.
    """
    try:
        return GENERATOR_LOSSES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown generator_loss {name!r}; expected one of {sorted(GENERATOR_LOSSES)}."
        ) from None
