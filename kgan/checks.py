"""Checks, one-line errors and atomic file writes shared by every kgan module.

Everything here is small and depends on nothing else of kgan, so any module can use it.
"""

import json
import os
import random
import tempfile

import keras
import numpy as np
import tensorflow as tf


# ---- argument checks ----------------------------------------------------------

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def check_precision(precision):
    """Returns ``precision`` (a Keras dtype policy name, or None for the global policy) or raises ValueError."""
    if precision is None:
        return None
    try:
        policy = keras.dtype_policies.DTypePolicy(precision)
    except (TypeError, ValueError):
        policy = None
    # An integer policy would only fail later, inside the layers, with an unrelated message.
    if policy is None or not keras.backend.is_float_dtype(policy.variable_dtype):
        raise ValueError(f"precision must be a floating-point Keras dtype policy name such as {', '.join(PRECISIONS)}, "
                         f"or None (Keras' global dtype policy), got {precision!r}.") from None
    return precision


def check_positive_int(name, value):
    """Raises ValueError unless ``value`` is an int >= 1 (bools are refused); returns it."""
    return check_count(name, value, 1)


def check_non_negative(name, value):
    """Returns ``value`` as a float, or raises ValueError unless it is a number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or \
            not float(value) >= 0.0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
    return float(value)


def check_count(name, value, minimum=1, hint=""):
    """Raises ValueError unless ``value`` is an integer >= ``minimum``; returns it as an int.

    Args:
      name: how the message names the value.
      value: the value.
      minimum: the smallest allowed value.
      hint: a sentence appended to the message.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.{hint}")
    return int(value)


def check_ids(values, count, name="labels"):
    """Validates class ids given in Python/numpy; returns them as an int32 numpy vector.

    Args:
      values: a sequence of ints in [0, count) (a scalar is one id).
      count: the number of classes.
      name: how the message names them.

    Returns:
      int32 numpy array ``[N]``.
    """
    array = np.asarray(values)
    if array.ndim == 0:
        array = array[None]
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D list of class ids, got shape {array.shape}.")
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must be integer class ids in [0, {count}), got dtype {array.dtype}.")
    bad = array[(array < 0) | (array >= count)]
    if bad.size:
        raise ValueError(f"{name} must be in [0, {count}); got {sorted(set(bad.tolist()))}.")
    return array.astype(np.int32)


def fresh_seed():
    """A random 31-bit seed from the OS (for draws the caller did not seed)."""
    return random.SystemRandom().randrange(2**31)


# ---- in-graph checks ------------------------------------------------------------

def after_checks(tensor, *checks):
    """Returns ``tensor`` made to depend on the given assertion ops.

    In a traced step an assertion runs in parallel with everything it does not
    feed; routing the checked tensor through it guarantees no update uses bad
    data. (Eagerly the assertions have already raised, and return None.)
    """
    checks = [check for check in checks if check is not None]
    if not checks:
        return tensor
    with tf.control_dependencies(checks):
        return tf.identity(tensor)


def failed_check_message(error):
    """The message of a failed kgan in-graph check (a TF InvalidArgumentError), or None.

    TF wraps an assertion's message in its node trace; this returns just the
    message. Other errors give None: they are bugs, not bad input.
    """
    if not isinstance(error, tf.errors.InvalidArgumentError):
        return None
    text = str(getattr(error, "message", None) or error).split("[[{{node")[0]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    failed = [line for line in lines if line.startswith("assertion failed:")]
    if failed:
        message = failed[-1][len("assertion failed:"):].split(" [Condition")[0].strip()
        return message[1:-1] if message.startswith("[") and message.endswith("]") else message
    last = lines[-1] if lines else ""
    if "Tensor had NaN values" in last or "Tensor had Inf values" in last:  # tf.debugging.check_numerics
        return last
    return None


def one_line(error, limit=300):
    """``str(error)`` on one line, cut to ``limit`` characters: for an error message that quotes another."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---- atomic writes ---------------------------------------------------------------

def fsync_dir(folder):
    """Flushes a folder's entries (a rename into it) to disk, where the OS allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path, data, overwrite=True):
    """Writes ``data`` to ``path`` so that readers see the old file or the whole new one, never a part.

    The bytes go to a hidden temporary file in the same folder, are flushed to
    disk, then renamed over ``path`` (or, with ``overwrite=False``, hard-linked
    to it, which fails if ``path`` exists).

    Args:
      path: the destination file.
      data: bytes.
      overwrite: replace an existing file.

    Raises:
      FileExistsError: ``overwrite`` is False and ``path`` exists.
      OSError: the write failed (e.g. disk full); ``path`` is as it was.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # atomic, and unlike rename it never replaces an existing file
            except FileExistsError:
                raise FileExistsError(f"{path} already exists and is never overwritten.") from None
            except OSError:  # filesystems without hard links
                if os.path.lexists(path):
                    raise FileExistsError(f"{path} already exists and is never overwritten.") from None
                os.rename(tmp, path)
        fsync_dir(folder)
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    return path


def set_aside(path, suffix=".corrupt"):
    """Renames a damaged file to ``<path><suffix>`` (``-1``, ``-2``... if that exists): kept, out of the way.

    Returns:
      The new path.
    """
    aside, index = path + suffix, 1
    while os.path.lexists(aside):
        aside, index = f"{path}{suffix}-{index}", index + 1
    os.replace(path, aside)
    return aside


def write_json_atomic(path, record):
    """Writes ``record`` to ``path`` as indented JSON, atomically (see `write_bytes_atomic`)."""
    return write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))


def write_text_atomic(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically (see `write_bytes_atomic`)."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
