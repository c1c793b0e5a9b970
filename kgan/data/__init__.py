"""Image data for GAN training: tfds pipelines (`pipeline`) and the offline import of raw files (`idx`)."""

from kgan.data import idx, pipeline
from kgan.data.idx import IDX_FILES, import_idx_dataset, read_idx
from kgan.data.pipeline import (IDX_DATASETS, SUPPORTED_DATASETS, DataNotFoundError, batches_per_pass, dataset_spec,
                                default_data_dir, is_prepared, load_images, resolve_data_dir)

__all__ = ["DataNotFoundError", "IDX_DATASETS", "IDX_FILES", "SUPPORTED_DATASETS", "batches_per_pass",
           "dataset_spec", "default_data_dir", "idx", "import_idx_dataset", "is_prepared", "load_images",
           "pipeline", "read_idx", "resolve_data_dir"]
