"""Discriminator features -> linear SVM (Radford et al. 2015, section 5.1).

The DCGAN paper measures how useful a trained discriminator's features are
for supervised tasks: every conv layer's activations, max-pooled to a 4x4
grid and concatenated (`kgan.features`), feed a regularized L2-SVM trained
on a few labels per class. `run_protocol` does that and applies the SAME
protocol to two baselines in the same run:

* ``trained D``: the model's discriminator (a run dir / ``.keras`` file via
  `kgan.models.features.discriminator_features`, or an export's ``features``
  signature);
* ``random D``: a randomly initialised discriminator of the same architecture
  (Keras model: ``keras.models.clone_model(D)``, fresh weights from the
  layers' own initializers after ``keras.utils.set_random_seed(seed)``;
  export: a second copy of the SavedModel whose D variables are re-drawn
  with kgan's DCGAN init, kernels N(0, 0.02), BatchNorm gamma N(1, 0.02),
  biases/beta 0, moving mean/variance 0/1);
* ``pixels``: the raw pixels in [-1, 1].

Protocol (one seed for everything): ``labels_per_class`` labelled images per
class drawn from the train split; a validation set of ``num_validation``
further train images (disjoint, uniformly drawn) to pick C from `C_GRID`
(best validation accuracy; ties -> the smaller C); the test split (all of
it, or a seeded subset of ``num_test`` images). Features are standardized
with the labelled set's mean and std, then divided by sqrt(dim) (so squared
norms average 1 and one C grid suits 784 pixels and 4608 D features alike;
on MNIST at 100 labels per class this also makes liblinear converge much
faster, ~1.5 s instead of ~20 s per D-feature fit); the classifier is
scikit-learn's ``LinearSVC`` (one-vs-rest, L2 penalty, squared hinge: an
L2-SVM, with its default regularized intercept).
"""

import time
import warnings

import keras
import numpy as np
import tensorflow as tf
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from kgan.checks import check_count
from kgan.data import pipeline
from kgan.models import features as features_lib
from kgan.serving import reader

__all__ = ["C_GRID", "FEATURE_SETS", "select_subsets", "fit_linear_svm", "feature_extractors", "run_protocol",
           "format_results"]

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
FEATURE_SETS = ("trained D", "random D", "pixels")
_BATCH_SIZE = 500
_MAX_ITER = 5000


# ---- data -----------------------------------------------------------------------


def select_subsets(labels, labels_per_class, num_validation, seed=0):
    """Seeded, disjoint labelled and validation subsets of a labelled split.

    Args:
      labels: int class ids of the whole split ``[N]``.
      labels_per_class: labelled examples drawn per class (uniformly).
      num_validation: validation examples drawn uniformly from the rest.
      seed: seed of both draws.

    Returns:
      (train indices ``[labels_per_class * num_classes]``, validation
      indices ``[num_validation]``), sorted int arrays.

    Raises:
      ValueError: a class has fewer than ``labels_per_class`` examples, or
        too few are left for the validation set.
    """
    labels = np.asarray(labels)
    labels_per_class = check_count("labels_per_class", labels_per_class)
    num_validation = check_count("num_validation", num_validation)
    rng = np.random.default_rng(seed)
    train = []
    classes, counts = np.unique(labels, return_counts=True)
    short = {int(c): int(n) for c, n in zip(classes, counts) if n < labels_per_class}
    if short:
        raise ValueError(f"labels_per_class={labels_per_class} but some classes have fewer training examples: "
                         f"{short} (class: count).")
    for cls in classes:
        train.append(rng.choice(np.flatnonzero(labels == cls), labels_per_class, replace=False))
    train = np.sort(np.concatenate(train))
    rest = np.setdiff1d(np.arange(len(labels)), train)
    if len(rest) < num_validation:
        raise ValueError(f"num_validation={num_validation} but only {len(rest)} training examples are left "
                         f"after the {len(train)} labelled ones; lower --num_validation or --labels_per_class.")
    validation = np.sort(rng.choice(rest, num_validation, replace=False))
    return train, validation


def _load_split(dataset, split, data_dir, image_shape):
    """All images of a split as uint8 (compact) with labels, cropped/resized and converted to the model's shape."""
    if image_shape[0] != image_shape[1]:
        raise ValueError(f"The model takes {image_shape[0]}x{image_shape[1]} images; only square images are "
                         "supported.")
    ds = pipeline.load_images(dataset, split, batch_size=1000, image_size=image_shape[0], with_labels=True,
                              data_dir=data_dir, shuffle=False, drop_remainder=False, cache=False,
                              channels=image_shape[2])
    images, labels = [], []
    for batch_images, batch_labels in ds.as_numpy_iterator():
        images.append(np.round((batch_images + 1.0) * 127.5).astype(np.uint8))
        labels.append(batch_labels)
    return np.concatenate(images), np.concatenate(labels).astype(np.int32)


def default_splits(dataset):
    """(train split, test split) of the protocol: tfds' train/test; 80%/20% of an image folder."""
    return ("train[:80%]", "train[80%:]") if pipeline.is_image_folder(dataset) else ("train", "test")


def _to_float(images):
    return images.astype(np.float32) / 127.5 - 1.0


# ---- features --------------------------------------------------------------------


def _keras_extractor(model):
    def extract(images):
        out = [np.asarray(model.predict_on_batch(_to_float(images[i:i + _BATCH_SIZE])), np.float32)
               for i in range(0, len(images), _BATCH_SIZE)]
        return np.concatenate(out)
    return extract


def _signature_extractor(function, owner):
    """``owner`` is the loaded SavedModel: the function's variables live only as long as it does."""
    def extract(images):
        out = [function(images=tf.constant(_to_float(images[i:i + _BATCH_SIZE])))["features"].numpy()
               for i in range(0, len(images), _BATCH_SIZE)]
        return np.concatenate(out).astype(np.float32)
    extract.saved_model = owner
    return extract


def _reinitialize(variables, seed):
    """Re-draws D's variables with kgan's DCGAN init (see the module doc)."""
    rng = np.random.default_rng(seed)
    for variable in sorted(variables, key=lambda v: v.name):
        name = variable.name.split(":")[0].rsplit("/", 1)[-1]
        shape = tuple(variable.shape)
        if name == "kernel":
            value = rng.normal(0.0, 0.02, shape)
        elif name == "gamma":
            value = rng.normal(1.0, 0.02, shape)
        elif name == "moving_variance":
            value = np.ones(shape)
        else:  # bias, beta, moving_mean
            value = np.zeros(shape)
        variable.assign(value.astype(variable.dtype.as_numpy_dtype))


def feature_extractors(model, seed=0):
    """Feature functions of a model's trained and randomly initialised discriminator.

    Args:
      model: a `kgan.GAN`, a zoo run directory / ``.keras`` file, or a
        SavedModel export directory (with a ``features`` signature).
      seed: seed of the random discriminator.

    Returns:
      dict: ``image_shape`` (H, W, C), ``description``, ``trained`` and
      ``random`` (callables: uint8 images ``[N, H, W, C]`` -> float32
      features ``[N, F]``).

    Raises:
      FileNotFoundError: a missing path.
      ValueError: a model whose contract has no DCGAN features (a conditional
        discriminator, one without conv layers), or an export without a
        ``features`` signature.
    """
    loaded = reader.load(model)
    problem = loaded.features_problem()
    if problem:
        raise ValueError(f"{loaded.description} has no DCGAN features: {problem}")
    if loaded.gan is not None:
        trained = features_lib.discriminator_features(loaded.gan)
        keras.utils.set_random_seed(seed)
        random = features_lib.discriminator_features(keras.models.clone_model(loaded.gan.discriminator))
        extractors = {"trained": _keras_extractor(trained), "random": _keras_extractor(random)}
    else:
        if "features" not in loaded.signatures:
            raise ValueError(f"The export {loaded.export_dir} has no 'features' signature; pass the run directory "
                             "or .keras file instead.")
        random_copy = tf.saved_model.load(loaded.export_dir)
        random_features = random_copy.signatures["features"]
        _reinitialize(random_features.variables, seed)
        extractors = {"trained": _signature_extractor(loaded.signatures["features"], loaded.loaded),
                      "random": _signature_extractor(random_features, random_copy)}
    return {"image_shape": loaded.image_shape, "description": loaded.description, **extractors}


# ---- the SVM ---------------------------------------------------------------------


def fit_linear_svm(train, validation, test, c_grid=C_GRID, seed=0):
    """Standardizes (then scales by 1/sqrt(dim)), picks C on the validation set, reports test accuracy.

    Args:
      train, validation, test: ``(features [N, F], labels [N])`` pairs.
      c_grid: the C values tried (L2-SVM: ``LinearSVC(C, penalty="l2",
        loss="squared_hinge")``).
      seed: the solver's random_state.

    Returns:
      dict: ``C`` (chosen), ``validation_accuracy``, ``test_accuracy``,
      ``validation_by_C`` ({C: accuracy}), ``converged`` (False if the solver
      hit its iteration limit for the chosen C), ``c_at_edge`` (True if the
      chosen C is the smallest or largest of the grid and strictly better
      than its neighbour: the grid may be too narrow).
    """
    if not c_grid:
        raise ValueError("c_grid must hold at least one C value.")
    scaler = StandardScaler().fit(train[0])
    scale = 1.0 / np.sqrt(np.asarray(train[0]).shape[1])
    x_train, x_val, x_test = (scaler.transform(x) * scale for x in (train[0], validation[0], test[0]))
    best = None
    by_c = {}
    for c in sorted(float(c) for c in c_grid):
        svm = LinearSVC(C=c, penalty="l2", loss="squared_hinge", dual="auto", max_iter=_MAX_ITER, random_state=seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            svm.fit(x_train, train[1])
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        accuracy = float(np.mean(svm.predict(x_val) == validation[1]))
        by_c[c] = accuracy
        if best is None or accuracy > best[1]:
            best = (c, accuracy, svm, converged)
    c, accuracy, svm, converged = best
    return {"C": c, "validation_accuracy": accuracy, "test_accuracy": float(np.mean(svm.predict(x_test) == test[1])),
            "validation_by_C": by_c, "converged": converged, "c_at_edge": _beats_inner_neighbour(by_c, c)}


def _beats_inner_neighbour(by_c, chosen):
    """True if ``chosen`` is the grid's smallest or largest C and strictly beats its neighbour (widen the grid)."""
    grid = sorted(by_c)
    if len(grid) < 2 or chosen not in (grid[0], grid[-1]):
        return False
    neighbour = grid[1] if chosen == grid[0] else grid[-2]
    return by_c[chosen] > by_c[neighbour]


def run_protocol(model, labels_per_class, dataset="mnist", data_dir=None, num_validation=1000, num_test=10000,
                 seed=0, c_grid=C_GRID, feature_sets=FEATURE_SETS, train_split=None, test_split=None):
    """The DCGAN paper's SVM protocol on a model's D features and the two baselines.

    Args:
      model: a `kgan.GAN`, run directory / ``.keras`` file or export directory.
      labels_per_class: labelled training images per class.
      dataset: a labelled tfds dataset ("mnist", "cifar10", "svhn_cropped", ...) or an image folder with
        class sub-folders; images are cropped, resized and converted to the model's shape.
      data_dir: tfds data dir (default: kgan's).
      num_validation: validation images (from the train split) to pick C.
      num_test: test images (all of the test split if it holds fewer).
      seed: seed of the subsets, the random D and the solver.
      c_grid: C values tried.
      feature_sets: any of "trained D", "random D", "pixels".
      train_split: where the labelled and validation images come from (default: `default_splits`).
      test_split: the test images (default: `default_splits`).

    Returns:
      dict: the settings and sizes (``num_train``, ``num_validation``,
      ``num_test``), ``data_wall_time_s`` and ``results``: one dict per
      feature set with ``features``, ``dim``, `fit_linear_svm`'s entries and
      ``wall_time_s`` (feature extraction + fits).
    """
    unknown = [name for name in feature_sets if name not in FEATURE_SETS]
    if unknown or not feature_sets:
        raise ValueError(f"feature_sets must be a non-empty subset of {FEATURE_SETS}, got {list(feature_sets)}.")
    labels_per_class = check_count("labels_per_class", labels_per_class)
    num_validation = check_count("num_validation", num_validation)
    num_test = check_count("num_test", num_test)
    start = time.time()
    extractors = feature_extractors(model, seed)
    image_shape = extractors["image_shape"]
    default_train, default_test = default_splits(dataset)
    train_split, test_split = train_split or default_train, test_split or default_test
    train_images, train_labels = _load_split(dataset, train_split, data_dir, image_shape)
    train_idx, val_idx = select_subsets(train_labels, labels_per_class, num_validation, seed)
    test_images, test_labels = _load_split(dataset, test_split, data_dir, image_shape)
    if num_test < len(test_labels):
        keep = np.sort(np.random.default_rng(seed).choice(len(test_labels), num_test, replace=False))
        test_images, test_labels = test_images[keep], test_labels[keep]
    subsets = {"train": (train_images[train_idx], train_labels[train_idx]),
               "validation": (train_images[val_idx], train_labels[val_idx]),
               "test": (test_images, test_labels)}
    del train_images
    result = {"model": extractors["description"], "dataset": dataset, "train_split": train_split,
              "test_split": test_split, "labels_per_class": labels_per_class,
              "num_classes": int(len(np.unique(train_labels))), "num_train": len(train_idx),
              "num_validation": len(val_idx), "num_test": len(test_labels), "seed": seed,
              "c_grid": [float(c) for c in c_grid], "data_wall_time_s": time.time() - start, "results": []}
    functions = {"trained D": extractors["trained"], "random D": extractors["random"],
                 "pixels": lambda images: _to_float(images).reshape(len(images), -1)}
    for name in feature_sets:
        t = time.time()
        feats = {split: (functions[name](images), labels) for split, (images, labels) in subsets.items()}
        fit = fit_linear_svm(feats["train"], feats["validation"], feats["test"], c_grid, seed)
        result["results"].append({"features": name, "dim": int(feats["train"][0].shape[1]), **fit,
                                  "wall_time_s": time.time() - t})
    return result


def format_results(result):
    """A plain-text table of `run_protocol`'s result."""
    lines = [f"L2-SVM (LinearSVC, squared hinge) on {result['dataset']}: {result['labels_per_class']} labels per "
             f"class ({result['num_train']} train), C from {result['num_validation']} validation images, "
             f"{result['num_test']} test images, seed {result['seed']}",
             f"model: {result['model']}"]
    header = ["features", "dim", "C", "val_acc", "test_acc", "time_s", "note"]
    rows = []
    for r in result["results"]:
        notes = [note for note, flag in (("not converged", not r["converged"]), ("C at the grid's edge", r["c_at_edge"]))
                 if flag]
        rows.append([r["features"], str(r["dim"]), f"{r['C']:g}", f"{r['validation_accuracy']:.4f}",
                     f"{r['test_accuracy']:.4f}", f"{r['wall_time_s']:.1f}", ", ".join(notes)])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
    lines += ["  ".join(cell.ljust(w) if i in (0, len(row) - 1) else cell.rjust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in [header] + rows]
    lines.append(f"(data loading {result['data_wall_time_s']:.1f} s)")
    return "\n".join(lines)
