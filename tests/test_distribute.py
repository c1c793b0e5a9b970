"""tf.distribute: MirroredStrategy on 2 logical CPUs gives the same update as one device.

Runs in a subprocess: logical devices must be configured before TF starts.
"""

import subprocess
import sys

from conftest import REPO

SCRIPT = r'''
import sys
import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
import kgan

TABLE = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
X = np.random.default_rng(1).uniform(-1, 1, (16, 4, 4, 1)).astype("float32")


class TableGAN(kgan.GAN):
    """Replica r takes rows [r*n, (r+1)*n) of a fixed table: the union over replicas
    equals the single-device draw of the global batch."""

    def sample_latents(self, batch_size, seed=None):
        context = tf.distribute.get_replica_context()
        replica = context.replica_id_in_sync_group if context and context.num_replicas_in_sync > 1 else 0
        return tf.gather(tf.constant(TABLE), tf.range(batch_size) + replica * batch_size)


def build():
    keras.utils.set_random_seed(0)
    z = keras.Input((6,))
    g = keras.Model(z, keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16, activation="tanh")(
        keras.layers.Dense(8, activation="relu")(z))))
    x = keras.Input((4, 4, 1))
    d = keras.Model(x, keras.layers.Dense(1)(keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(x))))
    gan = TableGAN(g, d, latent_dim=6)
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1), ema_decay=0.5)
    return gan


def train(strategy):
    with strategy.scope():
        gan = build()
    history = gan.fit(tf.data.Dataset.from_tensor_slices(X).batch(8), epochs=2, verbose=0).history
    return gan, history


one, h1 = train(tf.distribute.OneDeviceStrategy("/cpu:0"))
two, h2 = train(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
assert two.distribute_strategy.num_replicas_in_sync == 2
for a, b in zip(one.trainable_variables, two.trainable_variables):
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-6, err_msg=a.path)
for a, b in zip(one.ema_generator.variables, two.ema_generator.variables):  # the EMA generator too
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=2e-6, err_msg=a.path)
assert not np.allclose(one.ema_generator.variables[0].numpy(), one.generator.variables[0].numpy())
for key in h1:
    np.testing.assert_allclose(h1[key], h2[key], rtol=1e-5, err_msg=key)
assert two.d_optimizer.iterations.numpy() == two.g_optimizer.iterations.numpy() == 4

# A real model under the strategy draws different z on each replica.
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    gan = kgan.DCGAN(generator_filters=2, discriminator_filters=2, seed=0)
a, b = strategy.run(tf.function(lambda: gan.sample_latents(3))).values
assert not np.allclose(a.numpy(), b.numpy())
print("OK")
'''


def test_mirrored_strategy_matches_one_device():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("OK")


WORKER = r'''
import json, os, sys
import numpy as np
import tensorflow as tf
import keras
import kgan

strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    keras.utils.set_random_seed(0)
    gan = kgan.DCGAN(generator_filters=2, discriminator_filters=2, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(1e-3), g_optimizer=keras.optimizers.Adam(1e-3), d_steps=2)
x = np.random.default_rng(1).uniform(-1, 1, (64, 28, 28, 1)).astype("float32")
data = tf.data.Dataset.from_tensor_slices(x).batch(16, drop_remainder=True).repeat()
history = gan.fit(data, epochs=2, steps_per_epoch=2, verbose=0).history
assert all(np.isfinite(v).all() for v in history.values()), history
# Trainable weights must agree; BatchNorm moving statistics are each worker's own (as in any
# tf.distribute data-parallel run without synchronized BatchNorm).
np.savez(sys.argv[1], *[v.numpy() for v in gan.trainable_variables],
         d_iterations=gan.d_optimizer.iterations.numpy(), g_iterations=gan.g_optimizer.iterations.numpy())
print("OK", json.dumps({k: float(np.ravel(v[-1])[0]) for k, v in history.items()}))
'''


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_worker_multi_worker_mirrored_training(tmp_path):
    import json
    import os

    import numpy as np

    ports = free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / f"w{index}.npz")], cwd=REPO,
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=240))
    finally:
        for worker in workers:
            worker.kill()
    for worker, (out, err) in zip(workers, outputs):
        assert worker.returncode == 0, err[-4000:]
        assert out.strip().splitlines()[-1].startswith("OK")
    logs = [json.loads(out.strip().splitlines()[-1][3:]) for out, _ in outputs]
    assert logs[0] == logs[1]  # metrics aggregated across workers
    first, second = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(first["g_iterations"]) == 4 and int(first["d_iterations"]) == 8
    for key in first.files:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
