"""Folders of images: the scan, every odd file mode, bad files, the lazily filled cache and the resumable stream."""

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from kgan import data
from kgan.data import folder, pipeline


def save(path, array_or_image, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = array_or_image if isinstance(array_or_image, Image.Image) else Image.fromarray(array_or_image)
    image.save(path, **kwargs)


def make_class_folder(root, per_class=12, size=(40, 30), classes=("cats", "dogs", "owls")):
    """Random RGB images in class sub-folders, PNG and JPEG with mixed-case extensions."""
    rng = np.random.default_rng(0)
    for c, name in enumerate(classes):
        for i in range(per_class):
            array = rng.integers(0, 256, (size[1], size[0] + i, 3), dtype=np.uint8)
            array[..., c] = 255  # the class shows in one colour channel
            save(os.path.join(root, name, f"{i:03d}.{('png', 'JPG', 'jpeg')[i % 3]}"), array)
    return root


def make_odd_folder(root):
    """One image of every awkward kind, the broken files, and a non-image file."""
    rng = np.random.default_rng(1)
    save(f"{root}/gray.png", rng.integers(0, 256, (30, 30), dtype=np.uint8))
    save(f"{root}/rgba.png", Image.new("RGBA", (20, 20), (255, 0, 0, 0)))  # fully transparent: white
    palette = Image.new("P", (20, 20), 1)
    palette.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    save(f"{root}/palette.gif", palette)
    save(f"{root}/sixteen.png", Image.fromarray(np.full((20, 20), 65535, np.uint16)))
    save(f"{root}/cmyk.jpg", Image.new("CMYK", (20, 20), (0, 255, 255, 0)))  # red
    save(f"{root}/photo.WEBP", Image.new("RGB", (20, 20), (0, 255, 0)))
    save(f"{root}/paint.bmp", Image.new("RGB", (20, 20), (0, 0, 255)))
    open(f"{root}/empty.png", "wb").close()
    with open(f"{root}/text.jpg", "w") as f:
        f.write("not an image")
    good = open(f"{root}/gray.png", "rb").read()
    with open(f"{root}/cut.png", "wb") as f:
        f.write(good[: len(good) // 2])
    save(f"{root}/whole.jpg", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), quality=90)
    jpeg = open(f"{root}/whole.jpg", "rb").read()
    with open(f"{root}/cut.jpg", "wb") as f:
        f.write(jpeg[: len(jpeg) // 2])
    with open(f"{root}/notes.txt", "w") as f:
        f.write("ignored")
    return root


def test_scan_labels_order_and_bad_files(tmp_path):
    root = make_class_folder(str(tmp_path / "animals"))
    make_odd_folder(os.path.join(root, "owls"))
    scan = data.scan_image_folder(root)
    assert scan.class_names == ("cats", "dogs", "owls")
    assert len(scan.files) == 36 + 8  # 7 odd images + whole.jpg
    assert [scan.class_names[label] for label in scan.labels] == [rel.split(os.sep)[0] for rel in scan.files]
    assert scan.files != tuple(sorted(scan.files))  # hashed order: slices of it mix the classes
    assert set(scan.labels[-12:]) == {0, 1, 2}
    reasons = dict(scan.bad)
    assert set(reasons) == {os.path.join("owls", n) for n in ("empty.png", "text.jpg", "cut.png", "cut.jpg")}
    assert "0 bytes" in reasons[os.path.join("owls", "empty.png")]
    assert "not an image" in reasons[os.path.join("owls", "text.jpg")]
    assert "truncated" in reasons[os.path.join("owls", "cut.jpg")]
    assert scan.ignored == 1
    assert "4 bad image files" in scan.describe_bad()
    assert data.dataset_spec(root, image_size=32) == {
        "image_shape": (32, 32, 3), "num_classes": 3, "class_names": ["cats", "dogs", "owls"],
        "num_examples": {"train": 44}}


def test_bad_files_are_an_error_without_skipping(tmp_path):
    root = make_odd_folder(str(tmp_path / "odd"))
    with pytest.raises(ValueError, match=r"4 bad image files .*empty.png.*--skip_bad_images"):
        data.scan_image_folder(root, skip_bad_images=False)
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="bad image files"):
        data.load_image_folder(root, batch_size=2, skip_bad_images=False, cache_dir=str(cache))
    assert not cache.exists()  # nothing written on refusal


def test_too_large_images_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(folder, "MAX_PIXELS", 1000)
    root = make_class_folder(str(tmp_path / "big"), per_class=2, size=(40, 30))
    save(str(tmp_path / "big" / "cats" / "small.png"), np.zeros((20, 20, 3), np.uint8))
    save(str(tmp_path / "big" / "dogs" / "small.png"), np.zeros((20, 20, 3), np.uint8))
    scan = data.scan_image_folder(root)
    assert all("too large" in reason for _, reason in scan.bad) and len(scan.bad) == 6
    assert len(scan.files) == 2
    os.remove(str(tmp_path / "big" / "dogs" / "small.png"))
    with pytest.raises(ValueError, match="holds 1 readable image .*too large"):
        data.scan_image_folder(root + "/")


@pytest.mark.parametrize("make,message", [
    (lambda p: os.makedirs(p), "No image files"),
    (lambda p: save(os.path.join(p, "only.png"), np.zeros((8, 8, 3), np.uint8)), "holds 1 readable image"),
])
def test_empty_and_single_image_folders(tmp_path, make, message):
    root = str(tmp_path / "f")
    make(root)
    before = sorted(os.listdir(root))
    with pytest.raises(ValueError, match=message):
        data.load_image_folder(root, batch_size=1, cache_dir=str(tmp_path / "cache"))
    assert sorted(os.listdir(root)) == before and not (tmp_path / "cache").exists()


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_image_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        data.load_images(str(tmp_path / "nope"))


def test_decode_every_mode(tmp_path):
    root = make_odd_folder(str(tmp_path / "odd"))
    for name in ("gray.png", "rgba.png", "palette.gif", "sixteen.png", "cmyk.jpg", "photo.WEBP", "paint.bmp"):
        for channels in (1, 3):
            image = folder.decode_image(os.path.join(root, name), 16, channels)
            assert image.shape == (16, 16, channels) and image.dtype == np.uint8, name
    rgb = {name: folder.decode_image(os.path.join(root, name), 16, 3)[8, 8].tolist()
           for name in ("rgba.png", "palette.gif", "sixteen.png", "cmyk.jpg", "photo.WEBP", "paint.bmp")}
    assert rgb["rgba.png"] == [255, 255, 255]  # transparent -> white
    assert rgb["palette.gif"] == [0, 0, 255]
    assert rgb["sixteen.png"] == [255, 255, 255]  # 16-bit full scale -> 255, not clipped garbage
    assert rgb["cmyk.jpg"][0] > 200 and max(rgb["cmyk.jpg"][1:]) < 60
    assert rgb["photo.WEBP"][1] > 200 and rgb["paint.bmp"] == [0, 0, 255]


def test_center_crop_and_resize(tmp_path):
    array = np.zeros((20, 60, 3), np.uint8)
    array[:, :20] = (255, 0, 0)  # left third red, middle black, right third green
    array[:, 40:] = (0, 255, 0)
    save(str(tmp_path / "wide.png"), array)
    image = folder.decode_image(str(tmp_path / "wide.png"), 10, 3)
    assert image.max() == 0  # only the middle square is kept
    same = folder.decode_image(str(tmp_path / "wide.png"), 20, 3)
    np.testing.assert_array_equal(same, array[:, 20:40])  # no resize when the square is already the size


def test_folder_stream_resumes_exactly_and_caches(tmp_path, monkeypatch):
    root = make_class_folder(str(tmp_path / "animals"), per_class=8)
    cache = str(tmp_path / "cache")

    def batches(start, count):
        ds = data.load_image_folder(root, batch_size=6, image_size=16, with_labels=True, seed=5,
                                    start_batch=start, cache_dir=cache)
        return [(x.numpy(), y.numpy()) for x, y in ds.take(count)]

    whole = batches(0, 10)  # 4 batches per pass: two and a half passes
    assert os.listdir(cache) and "images.npy" in os.listdir(os.path.join(cache, os.listdir(cache)[0]))
    for x, y in whole:
        assert x.shape == (6, 16, 16, 3) and x.dtype == np.float32 and -1 <= x.min() and x.max() <= 1
    first_pass = np.concatenate([y for _, y in whole[:4]])
    assert sorted(first_pass.tolist()) == sorted([0, 1, 2] * 8)  # a pass sees every image once
    # A new process (here: cleared memo) reads the cache: no decoding at all.
    pipeline._DECODED.clear()
    pipeline._SCANS.clear()
    monkeypatch.setattr(folder, "decode_image", lambda *a: (_ for _ in ()).throw(AssertionError("decoded")))
    resumed = batches(7, 3)
    for (x0, y0), (x1, y1) in zip(whole[7:], resumed):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    # The colour channel of each image's class is saturated: labels match pixels.
    x, y = whole[0]
    assert all(x[i, ..., y[i]].mean() > 0.9 > x[i].mean() for i in range(6))


def test_cache_is_rebuilt_when_files_change(tmp_path):
    root = make_class_folder(str(tmp_path / "animals"), per_class=4)
    cache = str(tmp_path / "cache")
    scan = data.scan_image_folder(root)
    first = folder.FolderImages(scan, 8, 3, cache)
    first.batch(np.arange(len(scan.files)))
    assert folder.FolderImages(scan, 8, 3, cache).complete
    save(os.path.join(root, "cats", "000.png"), np.zeros((30, 40, 3), np.uint8))
    os.utime(os.path.join(root, "cats", "000.png"), ns=(1, 1))
    changed = folder.FolderImages(data.scan_image_folder(root), 8, 3, cache)
    assert not changed.complete and changed.cache_path != first.cache_path
    # A damaged cache file is decoded again, not trusted.
    with open(os.path.join(first.cache_path, "images.npy"), "wb") as f:
        f.write(b"garbage")
    assert not folder.FolderImages(scan, 8, 3, cache).complete


def test_labels_need_class_folders(tmp_path):
    root = make_class_folder(str(tmp_path / "animals"), per_class=3)
    save(os.path.join(root, "loose.png"), np.zeros((8, 8, 3), np.uint8))
    ds = data.load_image_folder(root, batch_size=2, image_size=8, cache_dir=str(tmp_path / "c"))
    assert next(iter(ds)).shape == (2, 8, 8, 3)
    with pytest.raises(ValueError, match="no class labels .*directly in"):
        data.load_image_folder(root, batch_size=2, with_labels=True, cache_dir=str(tmp_path / "c"))
    with pytest.raises(ValueError, match="one split, 'train'"):
        data.load_image_folder(root, split="test", cache_dir=str(tmp_path / "c"))
    assert data.split_size(root, "train[:50%]") == 5 and data.split_size(root, "train[-3:]") == 3


def test_grayscale_folder_reads_like_tfds_mnist(tmp_path, mnist_data_dir):
    """28x28 grayscale PNGs in class folders give the tfds MNIST images and labels, value for value."""
    builder = tfds.builder("mnist", data_dir=mnist_data_dir)
    examples = list(tfds.as_numpy(builder.as_dataset("train", shuffle_files=False)))
    root = str(tmp_path / "digits")
    for i, example in enumerate(examples):
        save(os.path.join(root, str(example["label"]), f"{i:05d}.png"), example["image"][..., 0])
    ds = data.load_image_folder(root, batch_size=len(examples), image_size=28, channels=1, with_labels=True,
                                shuffle=False, cache_dir=str(tmp_path / "cache"))
    images, labels = next(iter(ds))
    scan = data.scan_image_folder(root)
    order = [int(os.path.basename(rel)[:5]) for rel in scan.files]
    expected = np.stack([examples[i]["image"] for i in order]).astype(np.float32) / 127.5 - 1.0
    np.testing.assert_array_equal(images.numpy(), expected)
    np.testing.assert_array_equal(labels.numpy(), [examples[i]["label"] for i in order])
    tfds_images = next(iter(data.load_images("mnist", batch_size=8, data_dir=mnist_data_dir, shuffle=False)))
    assert tfds_images.dtype == images.dtype and tfds_images.shape[1:] == images.shape[1:]


def test_folder_name_detection(tmp_path):
    assert not data.is_image_folder("mnist") and not data.is_image_folder("lsun/bedroom")
    assert not data.is_image_folder("celeb_a/align:2.0.1")
    assert data.is_image_folder(str(tmp_path)) and data.is_image_folder(tmp_path)
    assert data.is_image_folder("./photos") and data.is_image_folder("~/photos") and data.is_image_folder("a/b/c")
