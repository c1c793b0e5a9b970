"""The choices the zoo's flags offer, repeated from kgan so that every zoo CLI checks its flags before importing
TensorFlow (a bad flag is answered in a second, not after TF's start-up); tests/test_bad_input.py checks they
agree with kgan's."""

import importlib.util
import os

# kgan.data.pipeline.SUPPORTED_DATASETS (the help's examples; any registered tfds image dataset works).
DATASET_EXAMPLES = ("mnist", "fashion_mnist", "cifar10", "svhn_cropped", "celeb_a", "lsun/bedroom", "stl10")
# kgan.data.pipeline.IDX_DATASETS: what zoo.import_data builds from raw IDX files.
IDX_DATASETS = ("mnist", "fashion_mnist")
# kgan.losses.OBJECTIVES and sorted(kgan.losses.GENERATOR_LOSSES).
OBJECTIVES = ("classic", "hinge", "least_squares", "wasserstein")
GENERATOR_LOSSES = ("minimax", "non_saturating")
# kgan.serving.tflite.VARIANTS.
TFLITE_VARIANTS = ("float32", "float16", "int8_dynamic", "int8")
# kgan.checks.PRECISIONS.
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# kgan.augment.TRANSFORMS: the DiffAugment transforms.
AUGMENT_TRANSFORMS = ("color", "translation", "cutout")
# kgan.preset.URI_PREFIXES.
PRESET_URI_PREFIXES = ("preset:", "hf://", "kaggle://")


def shipped_preset_names():
    """The names `kgan.list_presets()` gives, read from kgan's package folder without importing kgan."""
    spec = importlib.util.find_spec("kgan")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "presets") if spec else ""
    if not os.path.isdir(folder):
        return []
    return [name for name in sorted(os.listdir(folder)) if os.path.isfile(os.path.join(folder, name, "metadata.json"))]
