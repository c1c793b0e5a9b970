"""Export flags and the export step shared by zoo.export and the trainers."""

from absl import flags

from zoo._choices import TFLITE_VARIANTS

FLAGS = flags.FLAGS

flags.DEFINE_string("export_dir", "exports", "TF Serving model base path: exports go to <dir>/<name>/<version>/.")
flags.DEFINE_string("export_name", None, "Served model name (default: the trainer's name, e.g. dcgan).")
flags.DEFINE_list("tflite", list(TFLITE_VARIANTS), "TF-Lite variants of the generator to export (empty: none).")
flags.register_validator("tflite", lambda variants: set(variants) <= set(TFLITE_VARIANTS),
                         message=f"--tflite takes a comma-separated subset of {', '.join(TFLITE_VARIANTS)}.")
flags.DEFINE_bool("replace_family", False,
                  "Allow exporting under a model name whose versions are of another family (its clients' inputs "
                  "change); refused otherwise.")
flags.DEFINE_string("serving_root", "/models",
                    "Where the model server sees --export_dir, written into models.config "
                    "(/models for the docker image; an absolute path for a host install).")


def export_model(gan, model_name, export_dir, tflite_variants, serving_root, version=None, training_epochs=None,
                 metrics=None, provenance=None, replace_family=False):
    """Exports ``gan`` to ``export_dir``; refreshes models.config; returns the version dir."""
    from kgan.serving import saved_model

    path = saved_model.export_saved_model(gan, export_dir, model_name, version=version,
                                          training_epochs=training_epochs, metrics=metrics,
                                          tflite_variants=tuple(tflite_variants), provenance=provenance,
                                          replace_family=replace_family)
    saved_model.write_models_config(export_dir, serving_root)
    return path
