"""Serving: the contract as SavedModel signatures, TF Serving exports, TF-Lite files, and the one reader."""

from kgan.serving import reader, saved_model, signatures, tflite
from kgan.serving.reader import ExportedGAN, KerasGAN, LoadedGAN, find_export_dir, load, open_export
from kgan.serving.saved_model import (METADATA_FILE, WARMUP_FILE, export_saved_model, versions,
                                      write_models_config)
from kgan.serving.signatures import (MAX_SAMPLE_IMAGES, describe, float32_model, serving_generator,
                                     warmup_inputs)
from kgan.serving.tflite import TFLiteGenerator, export_tflite

__all__ = ["ExportedGAN", "KerasGAN", "LoadedGAN", "MAX_SAMPLE_IMAGES", "METADATA_FILE", "TFLiteGenerator", "WARMUP_FILE",
           "describe", "export_saved_model", "float32_model", "export_tflite", "find_export_dir", "load", "open_export", "reader",
           "saved_model", "serving_generator", "signatures", "tflite", "versions", "warmup_inputs",
           "write_models_config"]
