"""DiffAugment (Zhao et al. 2020): differentiable augmentations applied to every image D sees.

The same three transforms as the paper's reference code, on images in [-1, 1]:

* ``color``: brightness ``+ U[-0.5, 0.5]``, saturation ``x U[0, 2]`` around the pixel's
  channel mean, contrast ``x U[0.5, 1.5]`` around the image mean.
* ``translation``: a shift of up to 1/8 of each side (an integer per image and axis),
  zeros shifted in.
* ``cutout``: one zeroed square of half each side at a random position (cut at the border).

Every draw comes from a stateless ``[2]`` seed, so an augmentation is a function of
(images, seed): a GAN drawing that seed from its noise stream stays reproducible and
resumable. The gradient flows to the images through every transform.
"""

import tensorflow as tf

TRANSFORMS = ("color", "translation", "cutout")
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def parse_policy(policy):
    """Checks an augmentation policy.

    Args:
      policy: None/"" (off), a comma-separated string ("translation,cutout") or a sequence of names.

    Returns:
      A tuple of transform names in the given order (empty: off).
    """
    if policy is None:
        return ()
    names = policy.split(",") if isinstance(policy, str) else list(policy)
    names = [str(name).strip() for name in names if str(name).strip()]
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(f"Unknown augmentation {', '.join(map(repr, unknown))}; the DiffAugment transforms are "
                         f"{', '.join(TRANSFORMS)} (any subset, comma-separated).")
    if len(set(names)) != len(names):
        raise ValueError(f"Augmentation policy {policy!r} names a transform twice.")
    return tuple(names)


def diff_augment(images, policy, seed):
    """Applies the policy's transforms to a batch.

    Args:
      images: float ``[N, H, W, C]`` in [-1, 1].
      policy: transform names (see `parse_policy`).
      seed: int ``[2]`` seed (each transform folds in its own stream).

    Returns:
      The augmented images, same shape and dtype.
    """
    policy = parse_policy(policy)
    if not policy:
        return images
    seed = tf.cast(seed, tf.int64)
    dtype = images.dtype
    images = tf.cast(images, tf.float32)
    for index, name in enumerate(policy):
        stream = tf.random.experimental.stateless_fold_in(seed, index)
        images = _TRANSFORM_FUNCTIONS[name](images, stream)
    return tf.cast(images, dtype)


def color(images, seed):
    """Random brightness, saturation and contrast per image (the reference's ``rand_*``)."""
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    brightness = tf.random.stateless_uniform([n, 1, 1, 1], seeds[0]) - 0.5
    images = images + brightness
    mean = tf.reduce_mean(images, axis=3, keepdims=True)
    images = (images - mean) * (2.0 * tf.random.stateless_uniform([n, 1, 1, 1], seeds[1])) + mean
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * (tf.random.stateless_uniform([n, 1, 1, 1], seeds[2]) + 0.5) + mean


def translation(images, seed, ratio=TRANSLATION_RATIO):
    """Shifts each image by up to ``ratio`` of its sides, filling with zeros."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    max_y, max_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    shift_y = tf.random.stateless_uniform([n, 1, 1], seeds[0], minval=-max_y, maxval=max_y + 1, dtype=tf.int32)
    shift_x = tf.random.stateless_uniform([n, 1, 1], seeds[1], minval=-max_x, maxval=max_x + 1, dtype=tf.int32)
    # One zero row/column around the image; every source index outside it lands there.
    padded = tf.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]])
    rows = tf.clip_by_value(tf.range(height)[None, :, None] + shift_y + 1, 0, height + 1)
    cols = tf.clip_by_value(tf.range(width)[None, None, :] + shift_x + 1, 0, width + 1)
    batch = tf.broadcast_to(tf.range(n)[:, None, None], tf.shape(rows + cols))
    index = tf.stack([batch, tf.broadcast_to(rows, tf.shape(batch)), tf.broadcast_to(cols, tf.shape(batch))], -1)
    return tf.gather_nd(padded, index)


def cutout(images, seed, ratio=CUTOUT_RATIO):
    """Zeroes one ``ratio``-sized square per image at a random centre (clipped at the borders)."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    size_y, size_x = int(height * ratio + 0.5), int(width * ratio + 0.5)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    top = tf.random.stateless_uniform([n, 1, 1], seeds[0], minval=0, maxval=height + (1 - size_y % 2),
                                      dtype=tf.int32) - size_y // 2
    left = tf.random.stateless_uniform([n, 1, 1], seeds[1], minval=0, maxval=width + (1 - size_x % 2),
                                       dtype=tf.int32) - size_x // 2
    rows, cols = tf.range(height)[None, :, None], tf.range(width)[None, None, :]
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return images * tf.cast(~inside, images.dtype)[..., None]


_TRANSFORM_FUNCTIONS = {"color": color, "translation": translation, "cutout": cutout}
