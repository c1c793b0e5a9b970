"""Exploring a trained generator's latent space: interpolation and latent arithmetic.

A model's *latents* are whatever ``gan.sample_latents(n, seed=...)`` returns:
z of shape ``[n, latent_dim]`` for GAN/DCGAN/VanillaGAN, or a list whose first
element is z for the conditional families (CGAN ``[z, one-hot labels]``,
InfoGAN ``[z, categorical code, continuous code]``). Every function here works
on either form (via `tf.nest`): the chosen interpolation method applies to z,
and every other component is interpolated linearly / averaged.

- `lerp`, `slerp`: row-wise interpolation of batches of vectors.
- `interpolate`: ``steps`` latents from one latent to another.
- `interpolation_grid`: images of ``rows`` interpolations, ``steps`` each.
- `latent_arithmetic`: the DCGAN paper's "vector arithmetic on face samples"
  (Radford et al. 2015, sec. 6.3): mean(a) - mean(b) + mean(c) over groups of
  samples picked by index from `numbered_sample_grid` / `candidate_images`.
- `load_gan`: a GAN from a zoo run directory or a ``.keras`` file (an export
  opens as a `kgan.serving.ExportedGAN`); see `kgan.load`.

Every function takes a `kgan.GAN` or anything `kgan.load` opens: it uses only
the model's ``sample_latents`` and ``generator``.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from kgan import images as image_utils
from kgan.checks import check_count
from kgan.serving import reader

METHODS = ("linear", "spherical")

# 3x5 bitmap digits for the candidate numbers of `numbered_sample_grid`.
_DIGITS = {
    "0": ("111", "101", "101", "101", "111"),
    "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"),
    "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"),
    "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"),
    "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"),
    "9": ("111", "101", "111", "001", "111"),
}


# ---- interpolation of vectors ------------------------------------------------


def _to_dtype(x, dtype):
    """``x`` as a tensor of ``dtype`` (Python floats go straight to it, not through float32)."""
    if tf.is_tensor(x):
        return tf.cast(x, dtype)
    return tf.convert_to_tensor(np.asarray(x, dtype.as_numpy_dtype))


def _row_t(t, x):
    """``t`` (scalar or one value per row) shaped to broadcast against ``x`` row-wise."""
    t = _to_dtype(t, x.dtype)
    if t.shape.rank == 0:
        return t
    if t.shape.rank != 1 or x.shape.rank < 2:
        raise ValueError(
            f"t must be a scalar or a vector with one value per row of a batch [N, ...]; got t of shape "
            f"{t.shape} for vectors of shape {x.shape}.")
    return tf.reshape(t, [-1] + [1] * (x.shape.rank - 1))


def _as_float_pair(a, b):
    a = tf.convert_to_tensor(a)
    if not a.dtype.is_floating:
        a = tf.cast(a, tf.float32)
    return a, _to_dtype(b, a.dtype)


def lerp(a, b, t):
    """Linear interpolation ``(1 - t) * a + t * b``, row-wise.

    Args:
      a: start vectors ``[N, ...]`` (or one vector ``[D]``).
      b: end vectors, same shape as ``a`` (or broadcastable to it).
      t: a scalar, or ``[N]`` (one value per row); 0 gives ``a``, 1 gives ``b``.

    Returns:
      float tensor of the broadcast shape of ``a`` and ``b``.
    """
    a, b = _as_float_pair(a, b)
    t = _row_t(t, a)
    return (1.0 - t) * a + t * b


def slerp(a, b, t, eps=1e-4):
    """Spherical interpolation, row-wise, that also interpolates the norm.

    The direction follows the great circle from ``a/|a|`` to ``b/|b|``
    (Shoemake 1985; White 2016, "Sampling Generative Networks")::

        u(t) = sin((1 - t) theta) / sin(theta) * a/|a| + sin(t theta) / sin(theta) * b/|b|

    and the norm goes linearly from ``|a|`` to ``|b|``: the result is
    ``((1 - t)|a| + t|b|) * u(t)``. For vectors of equal norm (unit vectors in
    particular) this is exactly White's ``slerp``; unit vectors stay on the
    unit sphere. The angle is computed as ``2 atan2(|ua - ub|, |ua + ub|)``,
    accurate for nearly parallel vectors too. Rows where ``sin(theta) < eps``
    (parallel or opposite vectors: the great circle is undefined or
    degenerate) or where ``a`` or ``b`` is zero fall back to `lerp`.

    Args:
      a: start vectors ``[N, ...]``; each row (all axes after the first) is
        one vector. A 1-D ``[D]`` is one vector.
      b: end vectors, same shape as ``a``.
      t: a scalar, or ``[N]`` (one value per row); 0 gives ``a``, 1 gives ``b``.
      eps: the fallback threshold on ``sin(theta)``.

    Returns:
      float tensor of ``a``'s shape.
    """
    a, b = _as_float_pair(a, b)
    rank = max(a.shape.rank, b.shape.rank)
    axes = list(range(1, rank)) if rank >= 2 else [0]
    t = _row_t(t, a if a.shape.rank >= b.shape.rank else b)

    def norm(x):
        return tf.sqrt(tf.reduce_sum(tf.square(x), axis=axes, keepdims=True))

    norm_a, norm_b = norm(a), norm(b)
    tiny = tf.cast(1e-12, a.dtype)
    unit_a = a / tf.maximum(norm_a, tiny)
    unit_b = b / tf.maximum(norm_b, tiny)
    theta = 2.0 * tf.atan2(norm(unit_a - unit_b), norm(unit_a + unit_b))
    sin_theta = tf.sin(theta)
    fallback = (sin_theta < eps) | (norm_a <= tiny) | (norm_b <= tiny)
    safe_sin = tf.where(fallback, tf.ones_like(sin_theta), sin_theta)
    direction = (tf.sin((1.0 - t) * theta) * unit_a + tf.sin(t * theta) * unit_b) / safe_sin
    spherical = ((1.0 - t) * norm_a + t * norm_b) * direction
    return tf.where(fallback, (1.0 - t) * a + t * b, spherical)


def _check_method(method):
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS} ('linear' = lerp, 'spherical' = slerp on z), "
                         f"got {method!r}.")


def interpolate(start, end, steps, method="linear"):
    """``steps`` latents going from ``start`` to ``end`` (both included).

    Args:
      start: ONE latent, without a batch axis: z ``[latent_dim]``, or a list
        like ``[z, one_hot]`` (e.g. ``[x[i] for x in gan.sample_latents(n)]``).
      end: a latent of the same structure and shapes.
      steps: number of latents, >= 2 (evenly spaced t from 0 to 1).
      method: "linear" or "spherical": how z (the first component) is
        interpolated (`lerp` or `slerp`). Every other float component is
        interpolated linearly; a non-float component (e.g. integer labels)
        must be equal at both ends and is repeated.

    Returns:
      Latents of the same structure, each component ``[steps, ...]``.
    """
    _check_method(method)
    steps = check_count("steps", steps, 2, " Both ends are included, so steps=2 is just the two latents.")
    try:
        tf.nest.assert_same_structure(start, end)
    except (ValueError, TypeError) as error:
        raise ValueError(f"start and end must be latents of the same structure: {error}") from None
    starts = [tf.convert_to_tensor(x) for x in tf.nest.flatten(start)]
    ends = [tf.convert_to_tensor(x) for x in tf.nest.flatten(end)]
    out = []
    for index, (s, e) in enumerate(zip(starts, ends)):
        if s.shape != e.shape:
            raise ValueError(f"Latent component {index} has shape {s.shape} at the start but {e.shape} at the "
                             "end; pass two latents of the same model (one row each, no batch axis).")
        if not s.dtype.is_floating:
            if not bool(tf.reduce_all(tf.equal(s, tf.cast(e, s.dtype)))):
                raise ValueError(f"Latent component {index} ({s.dtype.name}) differs between start and end and "
                                 "cannot be interpolated; use float (e.g. one-hot) components.")
            out.append(tf.repeat(s[None], steps, axis=0))
            continue
        tile = [steps] + [1] * s.shape.rank
        s_rows, e_rows = tf.tile(s[None], tile), tf.tile(tf.cast(e, s.dtype)[None], tile)
        t = tf.linspace(tf.constant(0.0, s.dtype), tf.constant(1.0, s.dtype), steps)
        if index == 0 and method == "spherical":
            out.append(slerp(s_rows, e_rows, t))
        else:
            out.append(lerp(s_rows, e_rows, t))
    return tf.nest.pack_sequence_as(start, out)


# ---- images --------------------------------------------------------------------


def _generate(gan, latents):
    """``gan.generator(latents)`` in inference mode as a float32 numpy array."""
    return keras.ops.convert_to_numpy(gan.generator(latents, training=False)).astype(np.float32)


def _model(gan):
    """``gan`` as a model with ``sample_latents`` and ``generator`` (a `kgan.GAN` is wrapped)."""
    try:
        return reader.load(gan)
    except TypeError:
        raise TypeError(f"Expected a kgan.GAN (e.g. kgan.DCGAN or kgan.load('runs/dcgan')), got "
                        f"{type(gan).__name__}.") from None


def _rows(latents, indices):
    return tf.nest.map_structure(lambda x: tf.gather(tf.convert_to_tensor(x), indices), latents)


def _concat(latent_list):
    return tf.nest.map_structure(lambda *xs: tf.concat(xs, axis=0), *latent_list)


def interpolation_grid(gan, rows=8, steps=10, seed=0, method="linear"):
    """Images of ``rows`` interpolations, ``steps`` images each.

    Row ``r`` goes from latent ``2r`` to latent ``2r + 1`` of
    ``gan.sample_latents(2 * rows, seed=seed)``.

    Args:
      gan: a `kgan.GAN`.
      rows: number of interpolations.
      steps: images per interpolation (>= 2, both ends included).
      seed: seed of the end-point latents.
      method: "linear" or "spherical" (for z; see `interpolate`).

    Returns:
      float32 numpy ``[rows * steps, H, W, C]`` in [-1, 1], row-major (ready
      for ``kgan.images.image_grid(images, rows, steps)``).
    """
    gan = _model(gan)
    _check_method(method)
    rows = check_count("rows", rows)
    steps = check_count("steps", steps, 2, " Both ends are included, so steps=2 is just the two latents.")
    latents = gan.sample_latents(2 * rows, seed=seed)
    paths = []
    for r in range(rows):
        start = tf.nest.map_structure(lambda x, i=2 * r: tf.convert_to_tensor(x)[i], latents)
        end = tf.nest.map_structure(lambda x, i=2 * r + 1: tf.convert_to_tensor(x)[i], latents)
        paths.append(interpolate(start, end, steps, method))
    return _generate(gan, _concat(paths))


def candidate_images(gan, seed=0, num_candidates=64):
    """The candidates `latent_arithmetic` picks from, in index order.

    Args:
      gan: a `kgan.GAN`.
      seed: seed of ``gan.sample_latents(num_candidates, seed=seed)``.
      num_candidates: how many.

    Returns:
      float32 numpy ``[num_candidates, H, W, C]`` in [-1, 1]; image ``i`` is
      candidate ``i``.
    """
    gan = _model(gan)
    num_candidates = check_count("num_candidates", num_candidates)
    return _generate(gan, gan.sample_latents(num_candidates, seed=seed))


def _label_strip(number, width, channels, scale):
    """A black ``[7*scale, width, channels]`` strip (in [-1, 1]) with ``number`` in white."""
    strip = -np.ones((7 * scale, width, channels), np.float32)
    x = scale
    for digit in str(number):
        for row, bits in enumerate(_DIGITS[digit]):
            for col, bit in enumerate(bits):
                left = x + col * scale
                if bit == "1" and left < width:
                    top = (1 + row) * scale
                    strip[top:top + scale, left:min(left + scale, width)] = 1.0
        x += 4 * scale
    return strip


def numbered_sample_grid(gan, seed=0, num_candidates=64, cols=8, padding=2):
    """A grid of the candidates with each one's index written above it.

    Use it to choose the ``a``, ``b``, ``c`` groups of `latent_arithmetic`
    (same ``seed`` and ``num_candidates``). Tiles are row-major: candidate
    ``i`` is at row ``i // cols``, column ``i % cols``, under a black strip of
    ``7 * s`` pixels (``s = max(1, W // 32)``) showing ``i`` in white digits.
    Unused tiles of the last row are black.

    Args:
      gan: a `kgan.GAN`.
      seed: seed of the candidates.
      num_candidates: how many.
      cols: tiles per row.
      padding: pixels of black border between tiles.

    Returns:
      uint8 numpy ``[R*(7s+H+p)+p, cols*(W+p)+p, C]`` with
      ``R = ceil(num_candidates / cols)``.
    """
    images = candidate_images(gan, seed, num_candidates)
    cols = check_count("cols", cols)
    count, height, width, channels = images.shape
    scale = max(1, width // 32)
    tiles = np.stack([np.concatenate([_label_strip(i, width, channels, scale), image])
                      for i, image in enumerate(images)])
    grid_rows = math.ceil(count / cols)
    blank = -np.ones((grid_rows * cols - count,) + tiles.shape[1:], np.float32)
    return image_utils.image_grid(np.concatenate([tiles, blank]), grid_rows, cols, padding)


# ---- latent arithmetic -------------------------------------------------------


def _check_group(name, indices, num_candidates, seed):
    if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
        indices = [indices]
    try:
        values = list(indices)
    except TypeError:
        raise ValueError(f"Group {name} must be a list of candidate indices (ints), got {indices!r}.") from None
    if not values:
        raise ValueError(f"Group {name} is empty: give it at least one candidate index, e.g. {name}=[3] "
                         "(numbered_sample_grid shows which index is which sample).")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"Group {name} must hold integer candidate indices, got {value!r}.")
    bad = sorted({int(v) for v in values if not 0 <= v < num_candidates})
    if bad:
        raise ValueError(
            f"Group {name} has indices {bad} outside 0..{num_candidates - 1}: only num_candidates="
            f"{num_candidates} candidates are drawn. Pick indices shown by numbered_sample_grid(gan, "
            f"seed={seed}, num_candidates={num_candidates}), or raise num_candidates.")
    return [int(v) for v in values]


def latent_arithmetic(gan, a, b, c, seed=0, num_candidates=64, variants=8, noise_scale=0.25):
    """Latent arithmetic mean(a) - mean(b) + mean(c) (Radford et al. 2015, sec. 6.3).

    The candidates are ``gan.sample_latents(num_candidates, seed=seed)`` (see
    them numbered with `numbered_sample_grid`); each group's latents are
    averaged (every component: z and any label/code), then
    ``y = mean(a) - mean(b) + mean(c)`` is generated together with
    ``variants`` samples of ``y`` plus uniform noise in
    ``[-noise_scale, noise_scale]`` on z only (the paper's figure 7 uses 8
    variants at 0.25). The noise is drawn from ``numpy.random.default_rng(seed)``.

    Args:
      gan: a `kgan.GAN`.
      a: candidate indices of the first group (list of ints).
      b: indices of the group subtracted.
      c: indices of the group added.
      seed: seed of the candidates and of the noise.
      num_candidates: how many candidates are drawn; indices are in
        ``[0, num_candidates)``.
      variants: number of noisy variants (0: just ``y``).
      noise_scale: half-width of the uniform noise added to z.

    Returns:
      dict of float32 numpy arrays (images in [-1, 1]):
      ``"a_images"``, ``"b_images"``, ``"c_images"`` (each group's samples,
      ``[len(group), H, W, C]``), ``"mean_images"`` (``[3, H, W, C]``: the
      images of mean(a), mean(b), mean(c)), ``"result_images"``
      (``[1 + variants, H, W, C]``: index 0 is ``y`` itself, then the noisy
      variants), and ``"result_latents"`` (the latents of those, structured
      like the model's latents).
    """
    gan = _model(gan)
    num_candidates = check_count("num_candidates", num_candidates)
    variants = check_count("variants", variants, 0)
    if isinstance(noise_scale, bool) or not isinstance(noise_scale, (int, float)) or not noise_scale >= 0:
        raise ValueError(f"noise_scale must be a number >= 0, got {noise_scale!r}.")
    groups = {name: _check_group(name, indices, num_candidates, seed)
              for name, indices in (("a", a), ("b", b), ("c", c))}
    candidates = gan.sample_latents(num_candidates, seed=seed)
    for index, leaf in enumerate(tf.nest.flatten(candidates)):
        if not tf.convert_to_tensor(leaf).dtype.is_floating:
            raise ValueError(f"Latent component {index} is {tf.convert_to_tensor(leaf).dtype.name}; latent "
                             "arithmetic averages every component, so the model's latents must be float "
                             "(e.g. one-hot labels).")
    picked = {name: _rows(candidates, indices) for name, indices in groups.items()}
    means = {name: tf.nest.map_structure(lambda x: tf.reduce_mean(x, axis=0, keepdims=True), latents)
             for name, latents in picked.items()}
    y = tf.nest.map_structure(lambda ma, mb, mc: ma - mb + mc, means["a"], means["b"], means["c"])
    leaves = tf.nest.flatten(y)
    z = leaves[0]
    noise = np.random.default_rng(seed).uniform(-noise_scale, noise_scale, (variants,) + tuple(z.shape[1:]))
    z = tf.concat([z, z + tf.cast(noise, z.dtype)], axis=0)
    result = tf.nest.pack_sequence_as(y, [z] + [tf.repeat(x, 1 + variants, axis=0) for x in leaves[1:]])

    # One generator call for everything (inference mode: no batch statistics).
    parts = [picked["a"], picked["b"], picked["c"], means["a"], means["b"], means["c"], result]
    images = _generate(gan, _concat(parts))
    sizes = np.cumsum([len(groups["a"]), len(groups["b"]), len(groups["c"]), 3])
    a_images, b_images, c_images, mean_images, result_images = np.split(images, sizes)
    return {"a_images": a_images, "b_images": b_images, "c_images": c_images, "mean_images": mean_images,
            "result_images": result_images, "result_latents": result}


# ---- loading -------------------------------------------------------------------


def load_gan(path):
    """A model for the latent tools from a zoo run directory, a ``.keras`` file or an export.

    Args:
      path: a run directory holding ``model.keras`` (as ``zoo.dcgan`` leaves
        it), a ``.keras`` file saved with ``gan.save(...)``, or an export
        directory (a version, or ``exports/<name>`` for its latest version).

    Returns:
      The `kgan.GAN` (uncompiled: the optimizers are not needed to generate),
      or a `kgan.serving.ExportedGAN` for an export (see `kgan.load`).

    Raises:
      FileNotFoundError: ``path`` does not exist.
      ValueError: ``path`` is not a run directory, ``.keras`` file or export,
        cannot be loaded, or holds a model that is not a kgan GAN.
    """
    loaded = reader.load(path)
    return loaded.gan if loaded.gan is not None else loaded
