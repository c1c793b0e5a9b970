"""kgan.losses against independently computed numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kgan import losses

FAKE = [10.0, 4.4, -5.5, 3.6]


def np_log_sigmoid(x):
    x = np.asarray(x, np.float64)
    return -np.logaddexp(0.0, -x)


def as_softmax(logits, offset=1.7):
    # Two-way logits [a, a + l] have softmax[:, 1] == sigmoid(l) for any a.
    logits = np.asarray(logits, np.float32)
    return np.stack([np.full_like(logits, offset), logits + offset], axis=1)


@pytest.mark.parametrize("shape", ["n", "n1", "n2"])
def test_generator_losses_match_reference_numbers(shape):
    logits = {"n": np.array(FAKE, np.float32), "n1": np.array(FAKE, np.float32)[:, None],
              "n2": as_softmax(FAKE)}[shape]
    assert float(losses.non_saturating_generator_loss(logits)) == pytest.approx(1.38582, abs=1e-5)
    assert float(losses.minimax_generator_loss(logits)) == pytest.approx(-4.51082, abs=1e-5)


def test_discriminator_loss_matches_numpy_and_keras_bce():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=16).astype(np.float32) * 3, rng.normal(size=16).astype(np.float32) * 3
    expected = -np.mean(np_log_sigmoid(real)) - np.mean(np_log_sigmoid(-fake))
    assert float(losses.discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-5)
    # Same number from either head.
    assert float(losses.discriminator_loss(as_softmax(real), as_softmax(fake))) == pytest.approx(expected, rel=1e-5)
    # One-sided smoothing (Salimans et al. 2016): real target 1 - s = 0.8, fake target 0; equals Keras BCE
    # against the target 0.8 (not BinaryCrossentropy(label_smoothing=0.2), whose target would be 0.9).
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    expected_smooth = float(bce(np.full((16, 1), 0.8), real[:, None])) + float(bce(np.zeros((16, 1)), fake[:, None]))
    got = float(losses.discriminator_loss(real[:, None], fake[:, None], label_smoothing=0.2))
    assert got == pytest.approx(expected_smooth, rel=1e-5)
    t = 0.8
    expected_np = (-np.mean(t * np_log_sigmoid(real) + (1 - t) * np_log_sigmoid(-real))
                   - np.mean(np_log_sigmoid(-fake)))
    assert got == pytest.approx(expected_np, rel=1e-5)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_pins_the_real_target_at_one_minus_s(smoothing):
    """D's real loss is minimal where D(x) = 1 - s: its gradient in the logit vanishes at logit(1 - s)."""
    target = 1.0 - smoothing
    logit = tf.Variable([np.log(target / (1.0 - target)) if smoothing else 30.0], dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = losses.discriminator_loss(logit, tf.constant([-30.0]), label_smoothing=smoothing)
    assert float(tape.gradient(loss, logit)[0]) == pytest.approx(0.0, abs=1e-6)
    with tf.GradientTape() as tape:  # and anywhere else it pulls toward 1 - s
        loss = losses.discriminator_loss(logit + 0.5, tf.constant([-30.0]), label_smoothing=smoothing)
    if smoothing:
        assert float(tape.gradient(loss, logit)[0]) > 1e-3


def test_losses_are_stable_for_huge_logits():
    big = tf.constant([1e4, -1e4, 80.0, -80.0])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(big)
        values = [losses.discriminator_loss(big, big), losses.minimax_generator_loss(big),
                  losses.non_saturating_generator_loss(big)]
    for value in values:
        assert np.isfinite(float(value))
        assert np.all(np.isfinite(tape.gradient(value, big).numpy()))
    # -log D for logit -1e4 is 1e4 exactly (not inf).
    assert float(losses.non_saturating_generator_loss([-1e4])) == pytest.approx(1e4)


def test_probability_real_for_both_heads():
    assert np.allclose(losses.probability_real([0.0, 100.0, -100.0]), [0.5, 1.0, 0.0])
    probs = losses.probability_real([[1.0, 3.0]]).numpy()
    assert probs[0] == pytest.approx(np.exp(3) / (np.exp(1) + np.exp(3)), rel=1e-6)


def test_bad_logits_are_rejected():
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        losses.non_saturating_generator_loss(np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match="floating"):
        losses.minimax_generator_loss(tf.constant([1, 2]))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.discriminator_loss([1.0], [1.0], label_smoothing=1.0)
    with pytest.raises(ValueError, match="non_saturating"):
        losses.get_generator_loss("wasserstein")
