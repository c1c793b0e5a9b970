"""The choices the zoo's flags offer, repeated from kgan so that the trainers, zoo.export, zoo.import_data,
zoo.latent, zoo.evaluate and zoo.svm check their flags before importing TensorFlow (a bad flag is answered in
a second, not after TF's start-up); tests/test_bad_input.py checks they agree with kgan's."""

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
