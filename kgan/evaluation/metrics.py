"""Sample-quality metrics: conditional/code accuracies and classifier-based image metrics.

* `label_accuracy`, `confusion_matrix`, `best_one_to_one_accuracy`: how well a
  CGAN obeys its label / an InfoGAN's categorical code separates the classes.
* `classifier_score` (the Inception-Score formula), `frechet_distance` (the
  FID formula), `precision_recall` (Kynkaanniemi et al. 2019) and
  `density_coverage` (Naeem et al. 2020) on a domain classifier's logits /
  features (`kgan.classifier`); `kgan.evaluation` computes them for a model.

Pure numpy, no TensorFlow.
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


# ---- classifier-based image metrics ------------------------------------------
#
# Computed on the logits / penultimate features of a domain classifier (kgan's
# shipped MNIST classifier, `kgan.classifier`), the way TF-GAN scores MNIST:
# the Inception Score and FID formulas with the classifier in place of
# Inception. All functions are pure numpy (float64 inside).

# Pairwise distances are computed in blocks of at most this many entries
# (float64: 64 MiB), so 10k x 10k (or larger) sets fit in memory.
_BLOCK_ENTRIES = 1 << 23


def _check_features(name, features, min_rows=1):
    array = np.asarray(features)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [num_samples, dim], got shape {array.shape}.")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}.")
    if array.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} samples, got {array.shape[0]}.")
    if array.shape[1] < 1:
        raise ValueError(f"{name} has no feature dimensions (shape {array.shape}).")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or Inf values.")
    return array


def _check_same_dim(a, b, names):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"{names[0]} and {names[1]} have different feature dimensions: "
                         f"{a.shape[1]} vs {b.shape[1]}.")


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}.")
    return int(k)


def classifier_score(logits):
    """The Inception-Score formula on a classifier's logits: ``exp(E_x KL(p(y|x) || p(y)))``.

    ``p(y|x)`` is the softmax of each row, ``p(y)`` their mean over the
    samples. Computed from log-softmax (log-sum-exp shifted by the row max),
    so very confident logits neither overflow nor give ``0 * log 0`` NaNs.
    One split over all samples (TF-GAN's ``num_batches=1``).

    Args:
      logits: ``[N, num_classes]`` unnormalised class scores.

    Returns:
      float in ``[1, num_classes]``: ``num_classes`` when every sample is
      classified with certainty and the classes are used uniformly, 1 when
      every sample gets the same prediction.
    """
    logits = _check_features("logits", logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log p(y|x)
    p = np.exp(log_p)
    # log p(y) = log mean_x p(y|x), also by log-sum-exp.
    top = log_p.max(axis=0, keepdims=True)
    log_marginal = top + np.log(np.exp(log_p - top).mean(axis=0, keepdims=True))
    kl = np.sum(p * (log_p - log_marginal), axis=1)  # p = 0 entries contribute exactly 0
    return float(np.exp(max(float(kl.mean()), 0.0)))


def inception_score(logits, num_splits=10):
    """The Inception Score as published (Salimans et al. 2016): `classifier_score` on each of ``num_splits``
    consecutive equal parts of the samples, then mean and standard deviation over the parts.

    Args:
      logits: ``[N, num_classes]`` with ``N >= num_splits``.
      num_splits: parts (10 in the paper's code).

    Returns:
      (mean, std) floats.
    """
    logits = _check_features("logits", logits)
    num_splits = _check_k(num_splits)
    if len(logits) < num_splits:
        raise ValueError(f"inception_score needs at least num_splits={num_splits} samples, got {len(logits)}.")
    scores = [classifier_score(part) for part in np.array_split(logits, num_splits)]
    return float(np.mean(scores)), float(np.std(scores))


def _polynomial_mmd(a, b):
    """Unbiased MMD^2 with the kernel ``k(x, y) = (x.y / d + 1)^3`` between feature sets ``a`` and ``b``."""
    dim = a.shape[1]
    k_aa = (a @ a.T / dim + 1.0) ** 3
    k_bb = (b @ b.T / dim + 1.0) ** 3
    k_ab = (a @ b.T / dim + 1.0) ** 3
    m, n = len(a), len(b)
    return float((k_aa.sum() - np.trace(k_aa)) / (m * (m - 1)) + (k_bb.sum() - np.trace(k_bb)) / (n * (n - 1))
                 - 2.0 * k_ab.mean())


def kernel_inception_distance(real_features, fake_features, num_subsets=100, subset_size=1000, seed=0):
    """The Kernel Inception Distance (Binkowski et al. 2018) on any features: unbiased MMD^2 with the cubic
    polynomial kernel ``(x.y / d + 1)^3``, averaged over random subsets (drawn without replacement within each).

    Unbiased: near 0 (it can be slightly negative) for samples of the real distribution, at any sample size.

    Args:
      real_features: ``[M, D]``.
      fake_features: ``[N, D]``.
      num_subsets: subsets drawn (100 in the paper's code).
      subset_size: rows per subset (1000; the smaller set's size if that is smaller).
      seed: seed of the subsets.

    Returns:
      (mean, std) over the subsets.
    """
    real = _check_features("real_features", real_features, min_rows=2)
    fake = _check_features("fake_features", fake_features, min_rows=2)
    _check_same_dim(real, fake, ("real_features", "fake_features"))
    num_subsets, subset_size = _check_k(num_subsets), _check_k(subset_size)
    size = max(2, min(subset_size, len(real), len(fake)))
    rng = np.random.default_rng(seed)
    values = [_polynomial_mmd(real[rng.choice(len(real), size, replace=False)],
                              fake[rng.choice(len(fake), size, replace=False)]) for _ in range(num_subsets)]
    return float(np.mean(values)), float(np.std(values))


def feature_statistics(features):
    """Mean and covariance of features, as used by `frechet_distance`.

    Args:
      features: ``[N, D]`` with ``N >= 2``.

    Returns:
      (mean ``[D]``, covariance ``[D, D]``), float64; the covariance is the
      unbiased sample covariance (``ddof=1``, like ``np.cov`` and TF-GAN).
    """
    features = _check_features("features", features, min_rows=2)
    mean = features.mean(axis=0)
    centered = features - mean
    return mean, centered.T @ centered / (len(features) - 1)


def _psd_sqrt(matrix):
    """Square root of a symmetric positive semi-definite matrix (eigenvalues < 0 from round-off -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_from_statistics(mean_a, cov_a, mean_b, cov_b):
    """Frechet distance between two Gaussians ``N(mean_a, cov_a)`` and ``N(mean_b, cov_b)``.

    ``||mean_a - mean_b||^2 + Tr(cov_a + cov_b - 2 (cov_a cov_b)^(1/2))``.

    The trace of the matrix square root is computed without forming
    ``sqrtm(cov_a @ cov_b)`` (which is not symmetric and gives complex round-off
    for near-singular covariances, what FID code patches with an epsilon on the
    diagonal): ``cov_a cov_b`` has the same eigenvalues as the symmetric PSD
    matrix ``S = cov_a^(1/2) cov_b cov_a^(1/2)`` (AB and BA share their nonzero
    eigenvalues), so ``Tr (cov_a cov_b)^(1/2) = sum_i sqrt(eig_i(S))``, with
    symmetric eigendecompositions only. Eigenvalues that round-off makes
    slightly negative are clipped to 0 (the only "epsilon": no regularisation
    of the covariances is needed, singular ones included, e.g. fewer samples
    than dimensions). The result is clipped at 0.

    Args:
      mean_a, cov_a: mean ``[D]`` and covariance ``[D, D]`` of the first set.
      mean_b, cov_b: those of the second set.

    Returns:
      float >= 0.
    """
    mean_a, mean_b = np.asarray(mean_a, np.float64), np.asarray(mean_b, np.float64)
    cov_a, cov_b = np.asarray(cov_a, np.float64), np.asarray(cov_b, np.float64)
    dim = mean_a.shape[0] if mean_a.ndim == 1 else -1
    for name, value, shape in (("mean_a", mean_a, (dim,)), ("mean_b", mean_b, (dim,)),
                               ("cov_a", cov_a, (dim, dim)), ("cov_b", cov_b, (dim, dim))):
        if value.shape != shape:
            raise ValueError(f"{name} has shape {value.shape}; expected {shape} (means [D], covariances [D, D]).")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or Inf values.")
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = float(np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None))))
    diff = mean_a - mean_b
    distance = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt)
    return max(distance, 0.0)


def frechet_distance(features_a, features_b):
    """The FID formula on any features (e.g. the shipped MNIST classifier's 128-d layer).

    Fits a Gaussian (mean, unbiased covariance) to each set and returns
    `frechet_distance_from_statistics` of the two. Symmetric; 0 for identical
    sets. Biased upward at small sample sizes (the covariance estimates are
    noisy), so only compare values computed with the same numbers of samples.

    Args:
      features_a: ``[N_a, D]``, ``N_a >= 2``.
      features_b: ``[N_b, D]``, ``N_b >= 2``.

    Returns:
      float >= 0.
    """
    a = _check_features("features_a", features_a, min_rows=2)
    b = _check_features("features_b", features_b, min_rows=2)
    _check_same_dim(a, b, ("features_a", "features_b"))
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b))


def _blocks(num_rows, num_cols):
    step = max(1, _BLOCK_ENTRIES // max(num_cols, 1))
    for start in range(0, num_rows, step):
        yield slice(start, min(start + step, num_rows))


def _squared_distances(a, b, b_norms):
    """``[len(a), len(b)]`` squared Euclidean distances (clipped at 0 against round-off)."""
    d = np.sum(a * a, axis=1)[:, None] + b_norms[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _squared_radii(x, k):
    norms = np.sum(x * x, axis=1)
    radii = np.empty(len(x))
    for rows in _blocks(len(x), len(x)):
        d = _squared_distances(x[rows], x, norms)
        d[np.arange(d.shape[0]), np.arange(rows.start, rows.stop)] = -1.0  # self sorts first
        radii[rows] = np.partition(d, k, axis=1)[:, k]
    return radii


def nearest_neighbour_radii(features, k):
    """Distance from each sample to its k-th nearest OTHER sample of the same set.

    Args:
      features: ``[N, D]`` with ``N > k``.
      k: neighbourhood size.

    Returns:
      float64 ``[N]`` Euclidean distances (a sample is not its own neighbour;
      duplicates are, at distance 0).
    """
    k = _check_k(k)
    x = _check_features("features", features, min_rows=k + 1)
    return np.sqrt(_squared_radii(x, k))


def _against_balls(points, centers, squared_radii, strict):
    """For each point: how many balls B(center_i, radius_i) contain it (``<`` if strict, else ``<=``),
    and for each ball whether it contains any point. Blocked over the points."""
    center_norms = np.sum(centers * centers, axis=1)
    counts = np.zeros(len(points), np.int64)
    hit = np.zeros(len(centers), bool)
    for rows in _blocks(len(points), len(centers)):
        d = _squared_distances(points[rows], centers, center_norms)
        inside = d < squared_radii[None, :] if strict else d <= squared_radii[None, :]
        counts[rows] = inside.sum(axis=1)
        hit |= inside.any(axis=0)
    return counts, hit


def precision_recall(real_features, fake_features, k=3):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, of radius
    the distance to the sample's k-th nearest neighbour in its own set.
    Precision: fraction of fake samples inside the real manifold (quality).
    Recall: fraction of real samples inside the fake manifold (coverage of
    the real distribution). Membership is ``distance <= radius``, as in the
    authors' code; distances are Euclidean, computed in blocks.

    Args:
      real_features: ``[N, D]``, ``N > k``.
      fake_features: ``[M, D]``, ``M > k``.
      k: neighbourhood size (3 in the paper).

    Returns:
      (precision, recall), floats in [0, 1].
    """
    k = _check_k(k)
    real = _check_features("real_features", real_features, min_rows=k + 1)
    fake = _check_features("fake_features", fake_features, min_rows=k + 1)
    _check_same_dim(real, fake, ("real_features", "fake_features"))
    fake_in_real, _ = _against_balls(fake, real, _squared_radii(real, k), strict=False)
    real_in_fake, _ = _against_balls(real, fake, _squared_radii(fake, k), strict=False)
    return float(np.mean(fake_in_real > 0)), float(np.mean(real_in_fake > 0))


def density_coverage(real_features, fake_features, k=5):
    """Density and coverage (Naeem et al. 2020), on the real k-NN balls only.

    With ``B_i`` the ball around real sample i of radius its distance to the
    k-th nearest other real sample: density ``= 1/(k M) sum_j #{i: fake_j in
    B_i}`` (about 1 when fakes are distributed like the reals, can exceed 1);
    coverage ``=`` fraction of real balls that contain at least one fake.
    Membership is ``distance < radius``, as in the authors' ``prdc`` code
    (so identical sets give density exactly 1 when there are no ties).

    Args:
      real_features: ``[N, D]``, ``N > k``.
      fake_features: ``[M, D]``, ``M >= 1``.
      k: neighbourhood size (5 in the paper).

    Returns:
      (density >= 0, coverage in [0, 1]), floats.
    """
    k = _check_k(k)
    real = _check_features("real_features", real_features, min_rows=k + 1)
    fake = _check_features("fake_features", fake_features, min_rows=1)
    _check_same_dim(real, fake, ("real_features", "fake_features"))
    counts, covered = _against_balls(fake, real, _squared_radii(real, k), strict=True)
    return float(counts.sum() / (k * len(fake))), float(np.mean(covered))
