"""Sample-quality metrics for conditional and code models.

(The classifier-based image metrics of the evaluation issue build on these.)
"""

import numpy as np


def _check_ids(name, values, count):
    values = np.asarray(values)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D array of integer ids, got dtype {values.dtype} shape {values.shape}.")
    if values.size and (values.min() < 0 or values.max() >= count):
        raise ValueError(f"{name} must be in [0, {count}); got values {values.min()}..{values.max()}.")
    return values


def label_accuracy(predicted, labels):
    """Fraction of samples classified as the label they were generated for (CGAN).

    Args:
      predicted: int class ids predicted by an evaluator classifier, ``[N]``.
      labels: int conditioning labels, ``[N]``.

    Returns:
      Accuracy in [0, 1].
    """
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    if predicted.shape != labels.shape or predicted.ndim != 1 or predicted.size == 0:
        raise ValueError(f"predicted and labels must be equal-length 1-D arrays, got {predicted.shape}, {labels.shape}.")
    return float(np.mean(predicted == labels))


def confusion_matrix(codes, classes, num_codes, num_classes):
    """Counts ``[num_codes, num_classes]`` of (code, class) pairs."""
    codes = _check_ids("codes", codes, num_codes)
    classes = _check_ids("classes", classes, num_classes)
    if codes.shape != classes.shape:
        raise ValueError(f"codes and classes differ in length: {codes.shape} vs {classes.shape}.")
    matrix = np.zeros((num_codes, num_classes), np.int64)
    np.add.at(matrix, (codes, classes), 1)
    return matrix


def best_one_to_one_accuracy(codes, classes, num_codes, num_classes):
    """Accuracy of codes as class predictions under the best one-to-one code->class map.

    For InfoGAN: how well the categorical code separates the classes, as the
    paper's "5% error" on MNIST. Exact maximum-weight assignment by dynamic
    programming over subsets of classes (fine for up to ~16 classes).

    Args:
      codes: the categorical code of each sample, ``[N]`` ints.
      classes: the class an evaluator classifier assigns each sample, ``[N]`` ints.
      num_codes: categories of the code.
      num_classes: classes of the evaluator.

    Returns:
      (accuracy in [0, 1], mapping: list where mapping[code] = class or -1).
    """
    if num_classes > 16:
        raise ValueError(f"best_one_to_one_accuracy supports up to 16 classes, got {num_classes}.")
    matrix = confusion_matrix(codes, classes, num_codes, num_classes)
    masks = np.arange(1 << num_classes)
    # table[i, mask]: most samples matched by codes < i mapped into exactly the classes in mask.
    table = np.full((num_codes + 1, masks.size), -1, np.int64)
    table[0, 0] = 0
    for code in range(num_codes):
        table[code + 1] = table[code]  # the code left unmapped
        for cls in range(num_classes):
            bit = 1 << cls
            has = (masks & bit) != 0
            before = table[code, masks[has] ^ bit]
            gain = np.where(before >= 0, before + matrix[code, cls], -1)
            table[code + 1, has] = np.maximum(table[code + 1, has], gain)
    mask = int(np.argmax(table[num_codes]))
    mapping = [-1] * num_codes
    for code in reversed(range(num_codes)):  # backtrack
        if table[code, mask] == table[code + 1, mask]:
            continue
        for cls in range(num_classes):
            bit = 1 << cls
            if mask & bit and table[code, mask ^ bit] >= 0 and \
                    table[code, mask ^ bit] + matrix[code, cls] == table[code + 1, mask]:
                mapping[code], mask = cls, mask ^ bit
                break
    return float(table[num_codes].max()) / max(int(matrix.sum()), 1), mapping
