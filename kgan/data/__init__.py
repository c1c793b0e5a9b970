"""Image data for GAN training: tfds datasets by name (`pipeline`, `download`), folders of images (`folder`),
and the offline import of raw IDX files (`idx`)."""

from kgan.data import download, folder, idx, pipeline
from kgan.data.download import DownloadUnavailableError
from kgan.data.folder import IMAGE_EXTENSIONS, scan_image_folder
from kgan.data.idx import IDX_FILES, import_idx_dataset, read_idx
from kgan.data.pipeline import (DEFAULT_FOLDER_IMAGE_SIZE, IDX_DATASETS, SUPPORTED_DATASETS, DataNotFoundError,
                                batches_per_pass, dataset_spec, default_cache_dir, default_data_dir, default_test_split,
                                is_image_folder, is_prepared, load_image_folder, load_images, resolve_data_dir,
                                source_signature, split_size)

__all__ = ["DEFAULT_FOLDER_IMAGE_SIZE", "DataNotFoundError", "DownloadUnavailableError", "IDX_DATASETS", "IDX_FILES",
           "IMAGE_EXTENSIONS", "SUPPORTED_DATASETS", "batches_per_pass", "dataset_spec", "default_cache_dir",
           "default_data_dir", "default_test_split", "download", "folder", "idx", "import_idx_dataset",
           "is_image_folder", "is_prepared", "load_image_folder", "load_images", "pipeline", "read_idx",
           "resolve_data_dir", "scan_image_folder", "source_signature", "split_size"]
