"""Turning generated batches into viewable images: uint8 conversion, grids, PNG files."""

import numpy as np
import tensorflow as tf

from kgan.checks import write_bytes_atomic


def to_uint8(images):
    """Maps images in [-1, 1] to uint8 [0, 255] (values outside are clipped).

    Args:
      images: array-like ``[..., H, W, C]`` in [-1, 1].

    Returns:
      uint8 numpy array of the same shape.
    """
    images = np.asarray(images, dtype=np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images, rows, cols, padding=2):
    """Tiles ``rows * cols`` images into one grid image, row-major.

    Args:
      images: ``[rows * cols, H, W, C]`` in [-1, 1].
      rows: grid rows.
      cols: grid columns.
      padding: pixels of black border between tiles.

    Returns:
      uint8 numpy array ``[rows*(H+p)+p, cols*(W+p)+p, C]``.
    """
    images = to_uint8(images)
    if images.ndim != 4 or images.shape[0] != rows * cols:
        raise ValueError(f"Need {rows}x{cols}={rows * cols} images [N, H, W, C], got shape {images.shape}.")
    n, height, width, channels = images.shape
    grid = np.zeros((rows * (height + padding) + padding, cols * (width + padding) + padding, channels), np.uint8)
    for index in range(n):
        r, c = divmod(index, cols)
        top, left = padding + r * (height + padding), padding + c * (width + padding)
        grid[top:top + height, left:left + width] = images[index]
    return grid


def save_png(path, image):
    """Writes a uint8 ``[H, W, C]`` image (C = 1 or 3) to a PNG file, atomically.

    Args:
      path: destination file.
      image: uint8 array.
    """
    write_bytes_atomic(path, tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)).numpy())
