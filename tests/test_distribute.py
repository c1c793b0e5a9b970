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
    gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
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
