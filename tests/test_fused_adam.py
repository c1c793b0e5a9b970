"""kgan.fused_adam: TF's fused Adam kernel in place of Keras 3's elementwise Adam update."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import fused_adam

# The kernel forms 1 - beta in float32 (Keras: in float64, then cast): 1 - 0.999f is
# 1.3e-5 relative off 0.001. One step differs by float32 ulps; over steps Adam's
# m / sqrt(v) amplifies that where gradients are near 0: ATOL is 0.1% of the rate 1e-2.
RTOL, ATOL = 2e-5, 1e-5


def _model(**dense_kwargs):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, **dense_kwargs), keras.layers.Dense(2)])


def _train(optimizer, fused, steps=5, model=None, jit_compile=False):
    """Trains a tiny model ``steps`` steps; returns (model, optimizer, traced graph's op types)."""
    model = model or _model()
    optimizer.build(model.trainable_variables)

    @tf.function(jit_compile=jit_compile)
    def step(x):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        if fused:
            fused_adam.apply_gradients(optimizer, grads, model.trainable_variables)
        else:
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    x = tf.random.stateless_normal([8, 4], [1, 2])
    for _ in range(steps):
        step(x)
    ops = {op.type for op in step.get_concrete_function(x).graph.get_operations()}
    return model, optimizer, ops


def _values(model, optimizer):
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables + optimizer.variables]


@pytest.mark.parametrize("learning_rate", [1e-2, "schedule"])
def test_fused_update_is_keras_adams_update(learning_rate):
    def adam():
        lr = keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5) if learning_rate == "schedule" else 1e-2
        return keras.optimizers.Adam(lr, beta_1=0.5, epsilon=1e-6)

    reference, ref_opt, ref_ops = _train(adam(), fused=False)
    fused, fused_opt, fused_ops = _train(adam(), fused=True)
    assert "ResourceApplyAdam" in fused_ops and "ResourceApplyAdam" not in ref_ops
    assert int(fused_opt.iterations) == int(ref_opt.iterations) == 5
    for want, got in zip(_values(reference, ref_opt), _values(fused, fused_opt)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
    # It trained (and with the schedule: a different result from the constant rate).
    untrained = _model()
    assert not np.allclose(keras.ops.convert_to_numpy(fused.weights[0]),
                           keras.ops.convert_to_numpy(untrained.weights[0]), atol=1e-3)
    if learning_rate == "schedule":
        constant, _, _ = _train(keras.optimizers.Adam(1e-2, beta_1=0.5, epsilon=1e-6), fused=True)
        assert not np.allclose(keras.ops.convert_to_numpy(constant.weights[0]),
                               keras.ops.convert_to_numpy(fused.weights[0]), atol=1e-4)
    # Its slots are the optimizer's own: a later Keras update continues from them.
    ref_opt.apply_gradients(zip([tf.ones_like(v) for v in reference.trainable_variables],
                                reference.trainable_variables))
    fused_opt.apply_gradients(zip([tf.ones_like(v) for v in fused.trainable_variables], fused.trainable_variables))
    for want, got in zip(_values(reference, ref_opt), _values(fused, fused_opt)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_fused_update_matches_adam_in_float64():
    """Constant gradients (a linear loss of one Dense layer): Adam's closed form, in numpy float64."""
    keras.utils.set_random_seed(0)
    layer = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    c = np.random.default_rng(2).normal(size=(8, 3)).astype("float32")
    start = [keras.ops.convert_to_numpy(v).astype("float64") for v in layer.trainable_variables]
    grads = [x.T.astype("float64") @ c, c.sum(axis=0).astype("float64")]
    lr, beta_1, beta_2, epsilon, steps = 1e-2, 0.5, 0.999, 1e-7, 6
    optimizer = keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    optimizer.build(layer.trainable_variables)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) * c)
        variables = layer.trainable_variables
        fused_adam.apply_gradients(optimizer, tape.gradient(loss, variables), variables)

    for _ in range(steps):
        step()
    for value, grad, got in zip(start, grads, layer.trainable_variables):
        m = v = 0.0
        for t in range(1, steps + 1):
            m = beta_1 * m + (1 - beta_1) * grad
            v = beta_2 * v + (1 - beta_2) * grad ** 2
            value = value - lr * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + epsilon)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), value, rtol=1e-5, atol=1e-6)


def test_fused_update_compiles_with_xla():
    reference, ref_opt, _ = _train(keras.optimizers.Adam(1e-2), fused=False)
    fused, fused_opt, _ = _train(keras.optimizers.Adam(1e-2), fused=True, jit_compile=True)
    for want, got in zip(_values(reference, ref_opt), _values(fused, fused_opt)):
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


class MyAdam(keras.optimizers.Adam):
    pass


@pytest.mark.parametrize("make", [
    lambda: keras.optimizers.Adam(1e-2, amsgrad=True),
    lambda: keras.optimizers.Adam(1e-2, weight_decay=0.1),
    lambda: keras.optimizers.Adam(1e-2, clipnorm=0.01),
    lambda: keras.optimizers.Adam(1e-2, clipvalue=0.01),
    lambda: keras.optimizers.Adam(1e-2, global_clipnorm=0.01),
    lambda: keras.optimizers.Adam(1e-2, use_ema=True),
    lambda: keras.optimizers.Adam(1e-2, gradient_accumulation_steps=2),
    lambda: keras.optimizers.Adam(1e-2, loss_scale_factor=4.0),
    lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    lambda: MyAdam(1e-2),
], ids=["amsgrad", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "ema", "accumulation",
        "loss_scale_factor", "sgd", "subclass"])
def test_everything_else_goes_through_keras_unchanged(make):
    reference, ref_opt, _ = _train(make(), fused=False)
    fused, fused_opt, ops = _train(make(), fused=True)
    assert "ResourceApplyAdam" not in ops
    for want, got in zip(_values(reference, ref_opt), _values(fused, fused_opt)):
        np.testing.assert_array_equal(got, want)  # the very same Keras update


def test_unfusable_variables_and_gradients_are_detected():
    model = _model()
    optimizer = keras.optimizers.Adam()
    variables = model.trainable_variables
    grads = [tf.ones_like(v) for v in variables]
    assert not fused_adam.can_fuse(optimizer, grads, variables)  # not built yet
    optimizer.build(variables)
    assert fused_adam.can_fuse(optimizer, grads, variables)
    assert not fused_adam.can_fuse(optimizer, [None] + grads[1:], variables)
    sparse = tf.IndexedSlices(tf.ones([1, 3]), tf.constant([0]), tf.constant([4, 3]))
    assert not fused_adam.can_fuse(optimizer, [sparse] + grads[1:], variables)
    other = _model().trainable_variables  # variables the optimizer does not know
    assert not fused_adam.can_fuse(optimizer, grads, other)
    constrained = _model(kernel_constraint=keras.constraints.NonNeg())
    opt = keras.optimizers.Adam()
    opt.build(constrained.trainable_variables)
    assert not fused_adam.can_fuse(opt, grads, constrained.trainable_variables)
    wide = _model(dtype="float64")
    opt = keras.optimizers.Adam()
    opt.build(wide.trainable_variables)
    assert not fused_adam.can_fuse(opt, [tf.ones_like(v) for v in wide.trainable_variables],
                                   wide.trainable_variables)
    # Keras sums the replicas' gradients under a strategy: never fused there.
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        assert not fused_adam.can_fuse(optimizer, grads, variables)


def _tiny_dcgan(**compile_kwargs):
    gan = kgan.DCGAN(generator_filters=4, discriminator_filters=4, seed=0)
    gan.compile(d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), **compile_kwargs)
    return gan


def test_gan_uses_the_fused_kernel_unless_told_not_to(tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (16, 28, 28, 1)).astype("float32")
    start = _tiny_dcgan()
    trained = {}
    for fused in (True, False):
        gan = _tiny_dcgan(fused_adam=fused)
        gan.generator.set_weights(start.generator.get_weights())
        gan.discriminator.set_weights(start.discriminator.get_weights())
        graph = tf.function(gan.train_step).get_concrete_function(tf.TensorSpec([8, 28, 28, 1])).graph
        ops = {op.type for op in graph.get_operations()}
        assert ("ResourceApplyAdam" in ops) == fused
        gan.fit(images, batch_size=8, epochs=1, verbose=0, shuffle=False)
        trained[fused] = gan
    for want, got in zip(trained[False].generator.weights, trained[True].generator.weights):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want),
                                   rtol=1e-4, atol=1e-6)
    assert int(trained[True].g_optimizer.iterations) == 2
    # The choice is part of the compile config.
    trained[False].save(tmp_path / "unfused.keras")
    assert keras.models.load_model(tmp_path / "unfused.keras").fused_adam is False
    assert keras.models.load_model(_save(trained[True], tmp_path / "fused.keras")).fused_adam is True
    with pytest.raises(ValueError, match="fused_adam must be True or False"):
        _tiny_dcgan(fused_adam="yes")


def _save(model, path):
    model.save(path)
    return path
