"""Adversarial losses and penalties as pure functions on discriminator logits.

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

import dataclasses
import functools

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


def hinge_discriminator_loss(real_logits, fake_logits):
    """The hinge loss of D (Lim & Ye 2017; Miyato et al. 2018): ``E[relu(1 - l(x))] + E[relu(1 + l(G(z)))]``.

    Args:
      real_logits: logits of D on real data (either head).
      fake_logits: logits of D on generated data.

    Returns:
      Scalar float32 loss.
    """
    return (tf.reduce_mean(tf.nn.relu(1.0 - real_logit(real_logits)))
            + tf.reduce_mean(tf.nn.relu(1.0 + real_logit(fake_logits))))


def least_squares_discriminator_loss(real_logits, fake_logits):
    """LSGAN's D loss (Mao et al. 2017, a-b-c = 0-1-1): ``0.5 E[(l(x) - 1)^2] + 0.5 E[l(G(z))^2]``.

    D's output ``l`` is the raw logit (no sigmoid), as in the paper.

    Returns:
      Scalar float32 loss.
    """
    return (0.5 * tf.reduce_mean(tf.square(real_logit(real_logits) - 1.0))
            + 0.5 * tf.reduce_mean(tf.square(real_logit(fake_logits))))


def least_squares_generator_loss(fake_logits):
    """LSGAN's G loss (c = 1): ``0.5 E[(l(G(z)) - 1)^2]``."""
    return 0.5 * tf.reduce_mean(tf.square(real_logit(fake_logits) - 1.0))


def wasserstein_discriminator_loss(real_logits, fake_logits):
    """The WGAN critic loss (Arjovsky et al. 2017): ``E[l(G(z))] - E[l(x)]``.

    Only meaningful with a Lipschitz constraint (a gradient penalty or weight clipping).

    Returns:
      Scalar float32 loss.
    """
    return tf.reduce_mean(real_logit(fake_logits)) - tf.reduce_mean(real_logit(real_logits))


def critic_generator_loss(fake_logits):
    """G's loss for the hinge and Wasserstein objectives: ``-E[l(G(z))]``."""
    return -tf.reduce_mean(real_logit(fake_logits))


def gradient_penalty(critic, real_images, fake_images, seed):
    """The WGAN-GP penalty (Gulrajani et al. 2017): ``E[(||grad_x critic(x_hat)||_2 - 1)^2]``.

    ``x_hat = e * x + (1 - e) * G(z)`` with one ``e ~ U[0, 1]`` per example. The norm is
    ``sqrt(sum g^2 + 1e-12)``, so its gradient stays finite where ``g = 0``.

    Args:
      critic: a function from images to D's logits (either head).
      real_images: ``[N, H, W, C]`` real images.
      fake_images: ``[N, H, W, C]`` generated images (gradient-stopped or not).
      seed: int ``[2]`` seed of the interpolation weights.

    Returns:
      Scalar float32 penalty (unweighted).
    """
    real_images = tf.cast(real_images, tf.float32)
    fake_images = tf.cast(fake_images, tf.float32)
    shape = tf.concat([tf.shape(real_images)[:1], tf.ones([tf.rank(real_images) - 1], tf.int32)], 0)
    weight = tf.random.stateless_uniform(shape, seed)
    mixed = weight * real_images + (1.0 - weight) * fake_images
    norms = _input_gradient_norms(critic, mixed, squared=False)
    return tf.reduce_mean(tf.square(norms - 1.0))


def r1_penalty(critic, real_images):
    """The R1 penalty (Mescheder et al. 2018) without its ``gamma / 2``: ``E[||grad_x critic(x)||_2^2]`` on real data.

    Args:
      critic: a function from images to D's logits (either head).
      real_images: ``[N, H, W, C]`` real images.

    Returns:
      Scalar float32 penalty (unweighted).
    """
    return tf.reduce_mean(_input_gradient_norms(critic, tf.cast(real_images, tf.float32), squared=True))


def _input_gradient_norms(critic, images, squared):
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(real_logit(critic(images)))
    grads = tape.gradient(total, images, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    squares = tf.reduce_sum(tf.square(tf.reshape(grads, [tf.shape(grads)[0], -1])), axis=1)
    return squares if squared else tf.sqrt(squares + 1e-12)


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


OBJECTIVES = ("classic", "hinge", "least_squares", "wasserstein")


@dataclasses.dataclass(frozen=True)
class Objective:
    """An adversarial objective: D's and G's losses on logits.

    Attributes:
      name: one of `OBJECTIVES`.
      discriminator: ``(real_logits, fake_logits) -> scalar`` D minimizes.
      generator: ``fake_logits -> scalar`` G minimizes.
    """

    name: str
    discriminator: object
    generator: object

    @property
    def needs_lipschitz(self):
        """Whether D must be kept Lipschitz (gradient penalty or weight clipping) for the loss to mean anything."""
        return self.name == "wasserstein"


def get_objective(loss="classic", generator_loss="non_saturating", label_smoothing=0.0):
    """The objective for a ``loss`` name.

    Args:
      loss: "classic" (Goodfellow et al. 2014), "hinge", "least_squares" or "wasserstein".
      generator_loss: the classic objective's G loss, "non_saturating" or "minimax"; the
        other objectives have their own G loss and take only "non_saturating" (the default).
      label_smoothing: the classic objective's one-sided label smoothing; 0 for the others.

    Returns:
      An `Objective`.
    """
    if loss not in OBJECTIVES:
        raise ValueError(f"Unknown loss {loss!r}; expected one of {list(OBJECTIVES)}.")
    generator = get_generator_loss(generator_loss)
    if loss == "classic":
        return Objective(loss, functools.partial(discriminator_loss, label_smoothing=float(label_smoothing)),
                         generator)
    if generator_loss != "non_saturating":
        raise ValueError(f"generator_loss={generator_loss!r} is a choice of the classic loss only; loss={loss!r} "
                         "has its own generator loss (leave generator_loss at 'non_saturating').")
    if label_smoothing:
        raise ValueError(f"label_smoothing is a choice of the classic loss only, not of loss={loss!r}: "
                         "pass label_smoothing=0.")
    if loss == "hinge":
        return Objective(loss, hinge_discriminator_loss, critic_generator_loss)
    if loss == "least_squares":
        return Objective(loss, least_squares_discriminator_loss, least_squares_generator_loss)
    return Objective(loss, wasserstein_discriminator_loss, critic_generator_loss)
