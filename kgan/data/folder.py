"""Folders of the user's own images: scan once, decode once, serve as uint8 batches.

`scan_image_folder` lists the image files below a folder (their class is the
immediate sub-folder when every image sits in one) and checks each file's header.
`FolderImages` decodes them (center-cropped to a square, resized, RGB or
grayscale) the first time a batch needs them, in worker threads while the model
trains, and saves the decoded array as a cache file once every image is
decoded; later epochs and later runs read that array. Nothing is written into
the image folder itself.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import os
import threading
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from kgan.checks import fsync_dir, write_json_atomic

__all__ = ["IMAGE_EXTENSIONS", "MAX_PIXELS", "FolderScan", "scan_image_folder", "decode_image", "FolderImages"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
MAX_PIXELS = 100_000_000  # larger images are refused (Pillow's decompression-bomb guard starts near 89M)
CACHE_VERSION = 1
_LISTED_BAD_FILES = 5


@dataclasses.dataclass(frozen=True)
class FolderScan:
    """The image files below a folder, in kgan's canonical order.

    Attributes:
      root: the folder (absolute).
      files: relative paths, ordered by a hash of the path (a stable, class-mixed
        order, so ``train[-N:]`` slices take images of every class).
      labels: int class ids per file, or None when the folder has no class sub-folders.
      class_names: sorted sub-folder names (class id = index), or None.
      bad: ``(relative path, reason)`` of every image file that failed its check.
      ignored: files without an image extension (not read).
      unlabelled_reason: why ``labels`` is None (for error messages).
    """

    root: str
    files: tuple
    labels: tuple
    class_names: tuple
    bad: tuple
    ignored: int
    unlabelled_reason: str = ""

    @property
    def num_classes(self):
        return len(self.class_names) if self.class_names else None

    def content_hash(self):
        """A hash of the listed files' paths, sizes and modification times: changes when the images do."""
        digest = hashlib.sha1()
        for rel in self.files:
            stat = os.stat(os.path.join(self.root, rel))
            digest.update(f"{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode("utf-8"))
        return digest.hexdigest()

    def describe_bad(self):
        shown = "; ".join(f"{path}: {reason}" for path, reason in self.bad[:_LISTED_BAD_FILES])
        more = f" (and {len(self.bad) - _LISTED_BAD_FILES} more)" if len(self.bad) > _LISTED_BAD_FILES else ""
        return f"{len(self.bad)} bad image file{'s' if len(self.bad) != 1 else ''} in {self.root}: {shown}{more}"


def _check_file(path):
    """None if ``path`` looks like a readable image, else the reason it is not (reads headers, not pixels)."""
    try:
        if os.path.getsize(path) == 0:
            return "empty file (0 bytes)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    return f"too large ({width}x{height} pixels; at most {MAX_PIXELS // 1_000_000} megapixels)"
                if image.format == "JPEG":
                    with open(path, "rb") as f:
                        f.seek(max(0, os.path.getsize(path) - 4096))
                        if b"\xff\xd9" not in f.read():
                            return "truncated JPEG (no end-of-image marker)"
                else:
                    image.verify()  # chunk CRCs and structure of PNG/GIF/BMP/WebP
    except UnidentifiedImageError:
        return "not an image Pillow can read"
    except Image.DecompressionBombError as error:
        return f"too large ({error})"
    except (OSError, SyntaxError, ValueError) as error:  # Pillow raises SyntaxError on some broken headers
        return f"unreadable ({' '.join(str(error).split())[:120]})"
    return None


def scan_image_folder(path, skip_bad_images=True, num_threads=None):
    """Lists and checks the image files below ``path``.

    Args:
      path: a folder; files with an extension in `IMAGE_EXTENSIONS` (any case) below it are images.
      skip_bad_images: True: bad files are listed in ``bad`` and left out; False: they are an error.
      num_threads: header-check threads (default: the CPU count).

    Returns:
      A `FolderScan`.

    Raises:
      FileNotFoundError: ``path`` is not a folder.
      ValueError: no images, a single image, or bad files with ``skip_bad_images=False``.
    """
    root = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Image folder {root} does not exist (or is not a folder): pass --image_dir a folder "
                                "that holds image files (jpg, jpeg, png, bmp, gif, webp), or class sub-folders of them.")
    found, ignored = [], 0
    for folder, subfolders, names in os.walk(root, followlinks=True):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            if name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.relpath(os.path.join(folder, name), root))
            else:
                ignored += 1
    if not found:
        raise ValueError(f"No image files ({', '.join(IMAGE_EXTENSIONS)}) found below {root} ({ignored} other files): "
                         "put the images in it, or in one sub-folder per class.")
    with concurrent.futures.ThreadPoolExecutor(num_threads or os.cpu_count() or 1) as pool:
        reasons = list(pool.map(lambda rel: _check_file(os.path.join(root, rel)), found))
    bad = tuple((rel, reason) for rel, reason in zip(found, reasons) if reason)
    good = [rel for rel, reason in zip(found, reasons) if not reason]
    scan = _labelled(root, good, bad, ignored)
    if bad and not skip_bad_images:
        raise ValueError(f"{scan.describe_bad()}. Remove or fix them, or pass --skip_bad_images to leave them out.")
    if len(good) < 2:
        raise ValueError(f"{root} holds {len(good)} readable image{'s' if len(good) != 1 else ''}"
                         f"{' (' + scan.describe_bad() + ')' if bad else ''}; a GAN needs many images (thousands "
                         "for good samples).")
    return scan


def _labelled(root, good, bad, ignored):
    top_level = [rel for rel in good if os.sep not in rel]
    classes = sorted({rel.split(os.sep)[0] for rel in good if os.sep in rel})
    ordered = sorted(good, key=lambda rel: hashlib.sha1(rel.encode("utf-8")).hexdigest())
    if top_level or not classes:
        reason = (f"{len(top_level)} images lie directly in {root}, not in class sub-folders" if classes else
                  f"{root} has no class sub-folders")
        return FolderScan(root, tuple(ordered), None, None, bad, ignored, reason)
    class_ids = {name: i for i, name in enumerate(classes)}
    labels = tuple(class_ids[rel.split(os.sep)[0]] for rel in ordered)
    return FolderScan(root, tuple(ordered), labels, tuple(classes), bad, ignored)


def _to_mode(image, channels):
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit (or 32-bit int) grayscale: keep the top 8 bits
        values = np.asarray(image, np.int64)
        peak = 65535 if values.max(initial=0) > 255 or image.mode != "I" else 255
        image = Image.fromarray(np.clip(values * 255 // peak, 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        values = np.nan_to_num(np.asarray(image, np.float64))
        image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return image.convert("L" if channels == 1 else "RGB")


def decode_image(path, size, channels):
    """One image file as uint8 ``[size, size, channels]``: EXIF-rotated, center-cropped to a square, resized.

    Transparent pixels are composited onto white; 16-bit images keep their top 8 bits; CMYK,
    palette and grayscale images are converted.

    Args:
      path: an image file.
      size: output height and width.
      channels: 1 (grayscale) or 3 (RGB).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as image:
            if image.format == "JPEG":
                image.draft(image.mode, (size, size))  # decode at a reduced scale that still covers size x size
            image = ImageOps.exif_transpose(image)
            image = _to_mode(image, channels)
    width, height = image.size
    side = min(width, height)
    box = ((width - side) // 2, (height - side) // 2, (width - side) // 2 + side, (height - side) // 2 + side)
    if (side, side) != (size, size) or (width, height) != (side, side):
        image = image.crop(box)  # crop first: resizing with box= would blend in pixels outside it
        if side != size:
            image = image.resize((size, size), Image.Resampling.BILINEAR)
    array = np.asarray(image, np.uint8)
    return array.reshape(size, size, channels)


class FolderImages:
    """The decoded images of a `FolderScan` at one size, filled lazily and cached on disk.

    Args:
      scan: the `FolderScan`.
      image_size: output height and width.
      channels: 1 or 3.
      cache_dir: parent folder of the decoded caches.
      num_threads: decoding threads (default: the CPU count).
    """

    def __init__(self, scan, image_size, channels, cache_dir, num_threads=None):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 (grayscale) or 3 (RGB), got {channels!r}.")
        self.scan = scan
        self.shape = (len(scan.files), image_size, image_size, channels)
        identity = {"version": CACHE_VERSION, "root": scan.root, "shape": self.shape[1:], "files": scan.content_hash()}
        key = hashlib.sha1(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]
        self.cache_path = os.path.join(os.path.abspath(os.path.expanduser(cache_dir)),
                                       f"{os.path.basename(scan.root) or 'root'}-{key}")
        self._lock = threading.Lock()
        self._threads = num_threads or os.cpu_count() or 1
        self.images = self._read_cache()
        self._done = np.full(len(scan.files), self.images is not None)
        if self.images is None:
            self.images = np.zeros(self.shape, np.uint8)

    @property
    def complete(self):
        """Whether every image is decoded (and so the cache is written)."""
        return bool(self._done.all())

    def _read_cache(self):
        path = os.path.join(self.cache_path, "images.npy")
        try:
            images = np.load(path, mmap_mode="r")
        except (OSError, ValueError):
            return None  # absent or damaged: decode again (the rewrite replaces it atomically)
        return images if images.shape == self.shape and images.dtype == np.uint8 else None

    def batch(self, indices):
        """uint8 images ``[len(indices), S, S, C]``, decoding the ones not decoded yet."""
        indices = np.asarray(indices, np.int64)
        missing = [int(i) for i in np.unique(indices) if not self._done[i]]
        if missing:
            with concurrent.futures.ThreadPoolExecutor(min(self._threads, len(missing))) as pool:
                for index, image in zip(missing, pool.map(self._decode, missing)):
                    self.images[index] = image
                    self._done[index] = True
            if self.complete:
                self._write_cache()
        return np.asarray(self.images[indices])

    def _decode(self, index):
        rel = self.scan.files[index]
        try:
            return decode_image(os.path.join(self.scan.root, rel), self.shape[1], self.shape[3])
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise ValueError(f"Image {os.path.join(self.scan.root, rel)} passed its header check but cannot be "
                             f"decoded ({' '.join(str(error).split())[:120]}): remove or re-save it and rerun.") from None

    def _write_cache(self):
        with self._lock:
            if os.path.exists(os.path.join(self.cache_path, "images.npy")):
                return
            try:
                os.makedirs(self.cache_path, exist_ok=True)
                partial = os.path.join(self.cache_path, f"images.{os.getpid()}.{threading.get_ident()}.partial.npy")
                with open(partial, "wb") as f:
                    np.save(f, np.ascontiguousarray(self.images))
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(partial, os.path.join(self.cache_path, "images.npy"))
                fsync_dir(self.cache_path)
                write_json_atomic(os.path.join(self.cache_path, "info.json"), {
                    "root": self.scan.root, "shape": list(self.shape), "class_names": self.scan.class_names,
                    "bad_files": [list(entry) for entry in self.scan.bad]})
            except OSError as error:  # a full or read-only disk costs the cache, not the run
                warnings.warn(f"Could not write the decoded-image cache {self.cache_path} ({error}); "
                              "the images will be decoded again by the next run.")
