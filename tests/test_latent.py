"""Latent-space exploration (kgan.latent, zoo.latent): interpolation, latent arithmetic, the CLI."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import run_module

import kgan
from kgan import latent

NUM_CLASSES = 3


def np_(x):
    return keras.ops.convert_to_numpy(x)


def read_png(path):
    return tf.io.decode_png(tf.io.read_file(str(path))).numpy()


def tiny_dcgan():
    gan = kgan.DCGAN(generator_filters=2, discriminator_filters=2, seed=0)
    # Untrained N(0, 0.02) weights give images of ~1e-4; scale the output layer so that the
    # images span a good part of [-1, 1] and comparisons between them mean something.
    for weight in gan.generator.weights:
        if weight.path.endswith("deconv_4/kernel"):
            weight.assign(weight * 5000.0)
    return gan


class TwoInputGAN(kgan.GAN):
    """A minimal conditional-style GAN: latents are ``[z, one-hot label]``, D sees images only."""

    def sample_latents(self, batch_size, seed=None):
        z = self._sample_z(batch_size, seed)
        labels = keras.ops.arange(batch_size) % NUM_CLASSES
        return [z, keras.ops.one_hot(labels, NUM_CLASSES)]

    def fake_conditions(self, latents):
        return None


def two_input_gan(latent_dim=5):
    z = keras.Input((latent_dim,), name="z")
    y = keras.Input((NUM_CLASSES,), name="label")
    x = keras.layers.Concatenate()([z, y])
    x = keras.layers.Dense(4 * 4, activation="tanh")(x)
    generator = keras.Model([z, y], keras.layers.Reshape((4, 4, 1))(x))
    images = keras.Input((4, 4, 1))
    discriminator = keras.Model(images, keras.layers.Dense(1)(keras.layers.Flatten()(images)))
    return TwoInputGAN(generator, discriminator, latent_dim=latent_dim, seed=0)


@pytest.fixture(scope="module")
def dcgan():
    keras.utils.set_random_seed(0)
    return tiny_dcgan()


@pytest.fixture(scope="module")
def cgan():
    keras.utils.set_random_seed(0)
    return two_input_gan()


@pytest.fixture(scope="module")
def saved(dcgan, tmp_path_factory):
    """The tiny DCGAN as a .keras file and as a zoo run directory."""
    root = tmp_path_factory.mktemp("saved")
    dcgan.save(root / "m.keras")
    (root / "run").mkdir()
    dcgan.save(root / "run" / "model.keras")
    return root


# ---- lerp / slerp ------------------------------------------------------------------


def test_lerp_endpoints_midpoint_and_per_row_t():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(np_(latent.lerp(a, b, 0.0)), a)
    np.testing.assert_allclose(np_(latent.lerp(a, b, 1.0)), b)
    np.testing.assert_allclose(np_(latent.lerp(a, b, 0.5)), (a + b) / 2)
    t = np.array([0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(np_(latent.lerp(a, b, t)), [a[0], 0.75 * a[1] + 0.25 * b[1], (a[2] + b[2]) / 2, b[3]])


def test_slerp_endpoints():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 8)), 3 * rng.normal(size=(6, 8))
    np.testing.assert_allclose(np_(latent.slerp(a, b, 0.0)), a, atol=1e-12)
    np.testing.assert_allclose(np_(latent.slerp(a, b, 1.0)), b, atol=1e-12)
    a32 = a.astype(np.float32)
    out = latent.slerp(a32, b.astype(np.float32), 0.0)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(np_(out), a32, atol=1e-5)


def test_slerp_unit_vectors_stay_on_sphere_and_match_the_90_degree_closed_form():
    # Random orthonormal pairs (90 degrees apart) in 10-D: slerp(t) = cos(t pi/2) a + sin(t pi/2) b.
    q, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(10, 10)))
    a, b = q[:, :5].T, q[:, 5:].T
    for t in (0.0, 0.1, 0.5, 0.9, 1.0):
        out = np_(latent.slerp(a, b, t))
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-12)
        np.testing.assert_allclose(out, np.cos(t * np.pi / 2) * a + np.sin(t * np.pi / 2) * b, atol=1e-12)
    np.testing.assert_allclose(np_(latent.slerp(a, b, 0.5)), (a + b) / np.sqrt(2), atol=1e-12)
    # 60 degrees in the plane: the midpoint is the unit vector at 30 degrees.
    mid = np_(latent.slerp([[1.0, 0.0]], [[0.5, np.sqrt(3) / 2]], 0.5))
    np.testing.assert_allclose(mid, [[np.sqrt(3) / 2, 0.5]], atol=1e-12)


def test_slerp_interpolates_the_norm():
    # |a| = 2 and |b| = 4, 90 degrees apart: at t = 0.5 the norm is 3, the direction bisects them.
    out = np_(latent.slerp([[2.0, 0.0]], [[0.0, 4.0]], 0.5))
    np.testing.assert_allclose(out, [[3 / np.sqrt(2), 3 / np.sqrt(2)]], atol=1e-12)


def test_slerp_falls_back_to_lerp_for_parallel_opposite_and_zero_vectors():
    a = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    b = np.array([[3.0, 6.0, 9.0], [-1.0, -2.0, -3.0], [1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.0, 1.0, 1.0 + 1e-9]])
    for t in (0.0, 0.3, 1.0):
        out = np_(latent.slerp(a, b, t))
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, (1 - t) * a + t * b, atol=1e-12)


# ---- interpolate ---------------------------------------------------------------------


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolate_a_single_tensor(method):
    rng = np.random.default_rng(3)
    start, end = rng.normal(size=6).astype(np.float32), rng.normal(size=6).astype(np.float32)
    path = np_(latent.interpolate(start, end, 5, method))
    assert path.shape == (5, 6)
    np.testing.assert_allclose(path[0], start, atol=1e-6)
    np.testing.assert_allclose(path[-1], end, atol=1e-6)
    t = np.linspace(0, 1, 5)[:, None]
    if method == "linear":
        np.testing.assert_allclose(path, (1 - t) * start + t * end, atol=1e-6)
    else:  # independent numpy slerp of the direction, lerp of the norm
        na, nb = np.linalg.norm(start), np.linalg.norm(end)
        ua, ub = start / na, end / nb
        theta = np.arccos(np.clip(ua @ ub, -1, 1))
        direction = (np.sin((1 - t) * theta) * ua + np.sin(t * theta) * ub) / np.sin(theta)
        np.testing.assert_allclose(path, ((1 - t) * na + t * nb) * direction, atol=1e-5)


def test_interpolate_list_latents_slerps_z_and_lerps_the_rest():
    z0, z1 = np.array([1.0, 0.0, 0.0], np.float32), np.array([0.0, 1.0, 0.0], np.float32)
    y0, y1 = np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32)
    out = latent.interpolate([z0, y0], [z1, y1], 3, method="spherical")
    assert isinstance(out, list) and len(out) == 2
    z, y = np_(out[0]), np_(out[1])
    assert z.shape == (3, 3) and y.shape == (3, 2)
    np.testing.assert_allclose(z, [[1, 0, 0], [1 / np.sqrt(2), 1 / np.sqrt(2), 0], [0, 1, 0]], atol=1e-6)
    np.testing.assert_allclose(y, [[1, 0], [0.5, 0.5], [0, 1]], atol=1e-6)  # linear, not (y0+y1)/sqrt(2)
    # Structure is kept for tuples and dicts too.
    assert isinstance(latent.interpolate((z0, y0), (z1, y1), 2), tuple)
    assert set(latent.interpolate({"z": z0, "y": y0}, {"z": z1, "y": y1}, 2)) == {"z", "y"}


def test_interpolate_rejects_bad_arguments():
    z = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="steps must be an integer >= 2"):
        latent.interpolate(z, z, 1)
    with pytest.raises(ValueError, match="method must be one of"):
        latent.interpolate(z, z, 3, method="cubic")
    with pytest.raises(ValueError, match="same structure"):
        latent.interpolate([z, z], z, 3)
    with pytest.raises(ValueError, match="shape"):
        latent.interpolate(z, np.zeros(4, np.float32), 3)
    with pytest.raises(ValueError, match="cannot be interpolated"):
        latent.interpolate([z, np.array(1)], [z, np.array(2)], 3)


# ---- grids -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["linear", "spherical"])
def test_interpolation_grid(dcgan, method):
    images = latent.interpolation_grid(dcgan, rows=2, steps=4, seed=7, method=method)
    assert images.shape == (8, 28, 28, 1) and images.dtype == np.float32
    assert np.all(np.abs(images) <= 1.0) and images.std() > 0.01
    # Row r runs from latent 2r to latent 2r + 1 of sample_latents(4, seed).
    ends = np_(dcgan.generator(dcgan.sample_latents(4, seed=7), training=False))
    np.testing.assert_allclose(images[[0, 3, 4, 7]], ends, atol=1e-5)


def test_interpolation_grid_with_list_latents(cgan):
    images = latent.interpolation_grid(cgan, rows=3, steps=5, seed=1, method="spherical")
    assert images.shape == (15, 4, 4, 1) and np.all(np.abs(images) <= 1.0)
    z, y = (np_(x) for x in cgan.sample_latents(6, seed=1))
    path = latent.interpolate([z[2], y[2]], [z[3], y[3]], 5, "spherical")
    np.testing.assert_allclose(images[5:10], np_(cgan.generator(path)), atol=1e-6)


def test_numbered_sample_grid_shows_candidates_in_index_order(dcgan):
    grid = latent.numbered_sample_grid(dcgan, seed=2, num_candidates=10, cols=4)
    # 3 rows of 4 tiles; each tile = 7 px label strip + 28 px image; 2 px borders.
    assert grid.shape == (3 * (7 + 28 + 2) + 2, 4 * (28 + 2) + 2, 1) and grid.dtype == np.uint8
    candidates = kgan.images.to_uint8(latent.candidate_images(dcgan, seed=2, num_candidates=10))
    for i in range(10):
        r, c = divmod(i, 4)
        top, left = 2 + r * 37, 2 + c * 30
        np.testing.assert_array_equal(grid[top + 7:top + 35, left:left + 28], candidates[i])
        label = grid[top:top + 7, left:left + 28]
        assert (label == 255).any() and set(np.unique(label)) <= {0, 255}
    assert not grid[2 + 2 * 37:, 2 + 2 * 30:].any()  # tiles 10 and 11 are blank
    # The labels differ (they show the numbers).
    assert not np.array_equal(grid[2:9, 2:30], grid[2:9, 32:60])


# ---- latent arithmetic -----------------------------------------------------------------------


def test_latent_arithmetic_matches_a_hand_computation(dcgan):
    a, b, c = [1, 5, 9], [2, 3], [4]
    out = latent.latent_arithmetic(dcgan, a, b, c, seed=3, num_candidates=16, variants=5, noise_scale=0.25)
    z = np_(dcgan.sample_latents(16, seed=3))
    y = z[a].mean(0) - z[b].mean(0) + z[c].mean(0)

    def gen(x):
        return np_(dcgan.generator(np.asarray(x, np.float32), training=False))

    np.testing.assert_allclose(out["result_images"][0], gen(y[None])[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["a_images"], gen(z[a]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["b_images"], gen(z[b]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["c_images"], gen(z[c]), rtol=1e-4, atol=1e-5)
    means = np.stack([z[a].mean(0), z[b].mean(0), z[c].mean(0)])
    np.testing.assert_allclose(out["mean_images"], gen(means), rtol=1e-4, atol=1e-5)
    # 5 noisy variants around y: uniform noise within +-0.25, reproducible from the seed.
    result_z = np_(out["result_latents"])
    assert out["result_images"].shape == (6, 28, 28, 1) and result_z.shape == (6, 100)
    np.testing.assert_allclose(result_z[0], y, atol=1e-5)
    noise = result_z[1:] - y
    assert np.abs(noise).max() <= 0.25 + 1e-5 and np.abs(noise).max() > 0.2
    np.testing.assert_allclose(out["result_images"][1:], gen(result_z[1:]), rtol=1e-4, atol=1e-5)
    again = latent.latent_arithmetic(dcgan, a, b, c, seed=3, num_candidates=16, variants=5)
    np.testing.assert_array_equal(again["result_images"], out["result_images"])


def test_latent_arithmetic_on_list_latents_averages_every_component(cgan):
    a, b, c = [0, 3], [1], [2, 4, 5]
    out = latent.latent_arithmetic(cgan, a, b, c, seed=0, num_candidates=6, variants=2, noise_scale=0.1)
    z, y = (np_(x) for x in cgan.sample_latents(6, seed=0))

    def combine(x):
        return x[a].mean(0) - x[b].mean(0) + x[c].mean(0)

    result_z, result_y = (np_(x) for x in out["result_latents"])
    np.testing.assert_allclose(result_y, np.tile(combine(y), (3, 1)), atol=1e-6)  # labels: no noise
    np.testing.assert_allclose(result_z[0], combine(z), atol=1e-6)
    assert 0 < np.abs(result_z[1:] - combine(z)).max() <= 0.1 + 1e-6
    expected = np_(cgan.generator([combine(z)[None], combine(y)[None]]))
    np.testing.assert_allclose(out["result_images"][0], expected[0], atol=1e-6)
    assert out["a_images"].shape == (2, 4, 4, 1) and out["mean_images"].shape == (3, 4, 4, 1)


@pytest.mark.parametrize("groups,message", [
    (([1, 64], [2], [3]), r"Group a has indices \[64\] outside 0..63.*num_candidates"),
    (([1], [-1], [3]), r"Group b has indices \[-1\]"),
    (([1], [2], []), "Group c is empty"),
    (([1], [2.5], [3]), "integer candidate indices"),
])
def test_latent_arithmetic_rejects_bad_groups(dcgan, groups, message):
    with pytest.raises(ValueError, match=message):
        latent.latent_arithmetic(dcgan, *groups, num_candidates=64)


# ---- loading -----------------------------------------------------------------------------------


def test_load_gan_from_a_run_dir_or_a_keras_file(dcgan, saved):
    expected = latent.candidate_images(dcgan, seed=1, num_candidates=4)
    for path in (saved / "run", saved / "m.keras"):
        gan = latent.load_gan(path)
        assert isinstance(gan, kgan.DCGAN)
        np.testing.assert_allclose(latent.candidate_images(gan, seed=1, num_candidates=4), expected, atol=1e-6)


def test_load_gan_errors_say_what_to_pass(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*run directory"):
        latent.load_gan(tmp_path / "missing.keras")
    with pytest.raises(ValueError, match="without model.keras"):
        latent.load_gan(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="not a .keras file"):
        latent.load_gan(tmp_path / "notes.txt")
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ValueError, match="not a valid .keras file"):
        latent.load_gan(tmp_path / "corrupt.keras")
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    plain.save(tmp_path / "plain.keras")
    with pytest.raises(ValueError, match="not a kgan GAN"):
        latent.load_gan(tmp_path / "plain.keras")


# ---- the CLI ----------------------------------------------------------------------------------------


def tiles(shape, tile_h, tile_w, padding=2):
    """(rows, cols) of a grid PNG of that shape made of tile_h x tile_w tiles."""
    rows, cols = (shape[0] - padding) / (tile_h + padding), (shape[1] - padding) / (tile_w + padding)
    assert rows == int(rows) and cols == int(cols), shape
    return int(rows), int(cols)


def test_cli_samples_refuses_to_overwrite_then_overwrites(saved, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "samples.png").write_bytes(b"precious")
    args = ["--model", saved / "run", "--mode", "samples", "--output_dir", out, "--num_candidates", "20"]
    refused = run_module("zoo.latent", *args)
    assert refused.returncode != 0
    assert "error:" in refused.stderr and "--overwrite" in refused.stderr and "Traceback" not in refused.stderr
    assert (out / "samples.png").read_bytes() == b"precious"

    result = run_module("zoo.latent", *args, "--overwrite")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(out / "samples.png")]
    png = read_png(out / "samples.png")
    assert tiles(png.shape, 7 + 28, 28) == (3, 8) and png.shape[2] == 1  # 20 candidates, 8 per row


def test_cli_interpolate(saved, tmp_path):
    result = run_module("zoo.latent", "--model", saved / "m.keras", "--mode=interpolate",
                        f"--output_dir={tmp_path}", "--rows=2", "--steps=3", "--method=spherical", "--seed=4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(tmp_path / "interpolation_spherical.png")]
    png = read_png(tmp_path / "interpolation_spherical.png")
    assert tiles(png.shape, 28, 28) == (2, 3)


def test_cli_arithmetic(saved, tmp_path):
    result = run_module("zoo.latent", "--model", saved / "m.keras", "--mode=arithmetic", "--output_dir", tmp_path,
                        "--a", "1,5,9", "--b", "2,3", "--c", "4", "--variants=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == [str(tmp_path / "arithmetic_groups.png"), str(tmp_path / "arithmetic_result.png")]
    groups = read_png(tmp_path / "arithmetic_groups.png")
    assert tiles(groups.shape, 28, 28) == (3, 4)  # rows a, b, c: up to 3 samples + the mean image
    assert tiles(read_png(tmp_path / "arithmetic_result.png").shape, 28, 28) == (2, 2)  # y + 3 variants
    # The groups grid holds exactly the library's images (same seed and candidates).
    expected = latent.latent_arithmetic(latent.load_gan(saved / "m.keras"), [1, 5, 9], [2, 3], [4], variants=3)
    mean_c = kgan.images.to_uint8(expected["mean_images"][2])
    np.testing.assert_array_equal(groups[2 + 2 * 30:2 + 2 * 30 + 28, 2 + 3 * 30:2 + 3 * 30 + 28], mean_c)


@pytest.mark.parametrize("args,message", [
    (["--model=MISSING", "--mode=samples"], "does not exist"),
    (["--model=MISSING", "--mode=arithmetic", "--a=1", "--b=2", "--c=64"], r"--c has indices \[64\]"),
    (["--model=MISSING", "--mode=arithmetic", "--a=1", "--b=2"], "needs --c"),
    (["--model=MISSING", "--mode=samples", "--steps=3"], "--steps is not used with --mode=samples"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    args = [arg.replace("MISSING", str(tmp_path / "nope.keras")) for arg in args]
    result = run_module("zoo.latent", *args, f"--output_dir={tmp_path / 'out'}")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(message, errors[0]), result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_latent_tools_work_on_exports(tmp_path):
    """An export dir (plain TF SavedModel) works in place of the Keras model."""
    from kgan import serving

    keras.utils.set_random_seed(0)
    for gan in (kgan.DCGAN(generator_filters=2, discriminator_filters=2, seed=0),
                kgan.ConditionalDCGAN(generator_filters=2, discriminator_filters=2, seed=0)):
        path = serving.export_saved_model(gan, str(tmp_path / "exports"), tflite_variants=())
        exported = latent.load_gan(os.path.dirname(path))  # exports/<name>: its latest version
        assert isinstance(exported, serving.ExportedGAN)
        latents = exported.sample_latents(4, seed=1)
        np.testing.assert_allclose(exported.generator(latents).numpy(),
                                   gan.generator(latents, training=False).numpy(), atol=1e-5)
        if gan.conditional:
            # Mixing one-hot labels cannot go through an int label input: a clear error...
            with pytest.raises(ValueError, match="integer labels"):
                latent.interpolation_grid(exported, rows=2, steps=3, seed=0)
            # ...while z interpolates between two latents of the same label (rows 0 and 10: label 0).
            both = exported.sample_latents(11, seed=0)
            start, end = ([part[i] for part in both] for i in (0, 10))
            images = exported.generator(latent.interpolate(start, end, 3)).numpy()
            assert images.shape == (3, 28, 28, 1)
        else:
            grid = latent.interpolation_grid(exported, rows=2, steps=3, seed=0)
            assert grid.shape == (6, 28, 28, 1) and np.abs(grid).max() <= 1
            result = latent.latent_arithmetic(exported, [0, 1], [2], [3], seed=0, variants=2)
            assert result["result_images"].shape[0] == 3
    out = tmp_path / "png"
    done = run_module("zoo.latent", f"--model={tmp_path / 'exports' / 'dcgan'}", "--mode=interpolate",
                      f"--output_dir={out}", "--rows=2", "--steps=3")
    assert done.returncode == 0, done.stderr[-2000:]
    assert (out / "interpolation_linear.png").is_file()
