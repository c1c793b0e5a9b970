"""Runs a zoo trainer with an injected fault (a test helper, not a test module).

  python tests/fault_injection.py zoo.dcgan --kill_at_batch=8 [trainer flags]
  python tests/fault_injection.py zoo.dcgan --kill_in_checkpoint_write=3 [trainer flags]
  python tests/fault_injection.py zoo.dcgan --nan_at_batch=7 [trainer flags]
  python tests/fault_injection.py zoo.dcgan --sleep_per_batch=0.5 [trainer flags]
  python tests/fault_injection.py zoo.dcgan --hold_while=PATH [trainer flags]
  python tests/fault_injection.py zoo.dcgan --full_disk_at=model|export [trainer flags]
  python tests/fault_injection.py zoo.dcgan --free_bytes=1000 [trainer flags]

Batches are counted over the whole process (1-based), across fit calls.
"""

import collections
import errno
import importlib
import os
import signal
import sys
import time

import keras
from absl import app, flags

flags.DEFINE_integer("kill_at_batch", 0, "SIGKILL this process right after this batch (and its callbacks).")
flags.DEFINE_integer("kill_in_checkpoint_write", 0,
                     "SIGKILL this process inside the Nth checkpoint write, after the data is written but "
                     "before it is renamed into place.")
flags.DEFINE_integer("nan_at_batch", 0, "Set a discriminator weight to NaN after this batch.")
flags.DEFINE_float("sleep_per_batch", 0.0, "Sleep this many seconds after every batch (a slow trainer).")
flags.DEFINE_string("hold_while", None,
                    "At every epoch end, wait while this file exists (at most 10 minutes): a trainer that stays "
                    "running until the test lets it go.")
flags.DEFINE_enum("full_disk_at", None, ["model", "export"],
                  "Fail with ENOSPC (after writing part of the file) when saving model.keras, or while writing the "
                  "export's SavedModel.")
flags.DEFINE_integer("free_bytes", None, "Report only this much free disk space.")
FLAGS = flags.FLAGS


class Fault(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == FLAGS.nan_at_batch:
            variable = self.model.discriminator.trainable_variables[0]
            variable.assign(variable * float("nan"))
        if self.batches == FLAGS.kill_at_batch:
            os.kill(os.getpid(), signal.SIGKILL)
        if FLAGS.sleep_per_batch:
            time.sleep(FLAGS.sleep_per_batch)

    def on_epoch_end(self, epoch, logs=None):
        deadline = time.time() + 600
        while FLAGS.hold_while and os.path.exists(FLAGS.hold_while) and time.time() < deadline:
            time.sleep(0.1)


def full_disk(target):
    def fail(path):
        with open(path, "wb") as f:
            f.write(b"half a file")
        raise OSError(errno.ENOSPC, "No space left on device", path)

    if target == "model":
        real_save = keras.Model.save

        def save(self, path, *args, **kwargs):
            if "model.keras" in os.path.basename(str(path)):
                fail(path)
            return real_save(self, path, *args, **kwargs)

        keras.Model.save = save
    else:
        from kgan.serving import saved_model

        class FullDiskArchive:
            def write_out(self, path, *args, **kwargs):
                fail(os.path.join(path, "saved_model.pb"))

        saved_model.build_archive = lambda gan: FullDiskArchive()


def kill_in_nth_fsync(n):
    real_fsync, calls = os.fsync, [0]

    def fsync(fd):
        real_fsync(fd)
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".partial-"):
            calls[0] += 1
            if calls[0] == n:
                os.kill(os.getpid(), signal.SIGKILL)

    os.fsync = fsync  # only fsyncs of checkpoint writes (.partial-* files) count


def main():
    module_name = sys.argv.pop(1)
    module = importlib.import_module(module_name)
    from zoo import _cli

    def run(argv):
        if FLAGS.kill_in_checkpoint_write:
            kill_in_nth_fsync(FLAGS.kill_in_checkpoint_write)
        if FLAGS.full_disk_at:
            full_disk(FLAGS.full_disk_at)
        if FLAGS.free_bytes is not None:
            from kgan.training import checkpoint

            usage = collections.namedtuple("usage", "total used free")
            checkpoint.shutil.disk_usage = lambda path: usage(10**12, 10**12 - FLAGS.free_bytes, FLAGS.free_bytes)
        _cli.main_for(module_name.split(".")[-1], module.build, lambda config, gan, run, state: [Fault()])(argv)

    app.run(run)


if __name__ == "__main__":
    main()
