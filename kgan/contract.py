"""What a model family is, as data: its generator's named inputs and how they become latents.

Every `kgan.GAN` describes itself with a `Contract` (``gan.contract``): the
family name, the image shape, and the generator's named inputs in the order
of its latents (``z`` first), each a `LatentInput` that says its dtype and
shape, its valid range, how it is drawn, how it is encoded for the networks
(int ids -> one-hot, floats as they are), whether the discriminator is
conditioned on it, and what it means to evaluation (a class label, an
unsupervised code). SavedModel signatures, TF-Lite files, the one reader,
evaluation and the latent tools read the contract instead of asking which
class a model is; a contract written into an export's metadata
(`Contract.metadata`) is read back with `Contract.from_metadata`.

Latents are what the generator takes: one tensor when the contract has one
input, else a list in the inputs' order. Serving inputs are a dict by name
with int32 ids where latents hold one-hots.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from kgan.checks import check_positive_int

ENCODINGS = ("float", "one_hot")
DISTRIBUTIONS = ("normal", "uniform", "categorical")
ROLES = ("noise", "class", "code")
VALUE_RANGE = (-1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class LatentInput:
    """One named input of a generator.

    Attributes:
      name: the serving input's name (``z``, ``label``, ...).
      encoding: "float" (a float32 vector ``[N, size]`` the networks take as is)
        or "one_hot" (int32 ids ``[N]`` in ``[0, size)``, one-hot encoded for the networks).
      size: the vector length ("float") or the number of classes ("one_hot").
      distribution: how it is drawn when not given: "normal" (N(0, 1)),
        "uniform" (U[-1, 1]) or "categorical" (ids uniform over the classes).
      role: "noise" (drawn), "class" (a class label the caller may choose:
        `sample` takes it, evaluation scores label accuracy) or "code" (an
        unsupervised code: evaluation scores its best one-to-one class map).
      conditions_discriminator: the discriminator takes it too, next to the images.
    """

    name: str
    encoding: str
    size: int
    distribution: str
    role: str = "noise"
    conditions_discriminator: bool = False

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"A latent input's name must be an identifier, got {self.name!r}.")
        for field, allowed in (("encoding", ENCODINGS), ("distribution", DISTRIBUTIONS), ("role", ROLES)):
            if getattr(self, field) not in allowed:
                raise ValueError(f"{self.name}: {field} must be one of {allowed}, got {getattr(self, field)!r}.")
        check_positive_int(f"{self.name}: size", self.size)
        if (self.encoding == "one_hot") != (self.distribution == "categorical"):
            raise ValueError(f"{self.name}: one-hot inputs are drawn 'categorical' and only they are; got "
                             f"encoding {self.encoding!r} with distribution {self.distribution!r}.")
        if self.role in ("class", "code") and self.encoding != "one_hot":
            raise ValueError(f"{self.name}: a {self.role!r} input holds class ids (encoding 'one_hot').")

    @property
    def dtype(self):
        """The serving dtype: "int32" for ids, "float32" otherwise."""
        return "int32" if self.encoding == "one_hot" else "float32"

    @property
    def shape(self):
        """The serving shape, ``[None]`` for ids or ``[None, size]``."""
        return [None] if self.encoding == "one_hot" else [None, self.size]

    @property
    def valid_range(self):
        """``(0, size - 1)`` for ids, None for floats (any finite value)."""
        return (0, self.size - 1) if self.encoding == "one_hot" else None

    def encode(self, value):
        """Serving value -> the networks' float32 latent (ids -> one-hot)."""
        if self.encoding == "one_hot":
            return tf.one_hot(tf.cast(value, tf.int32), self.size, dtype=tf.float32)
        return tf.cast(value, tf.float32)

    def decode(self, latent):
        """The networks' latent -> a numpy serving value; refuses one-hots that are not exactly one class."""
        latent = np.asarray(latent, np.float32)
        if self.encoding == "float":
            return latent
        exact = np.round(latent)
        if (latent.ndim != 2 or not np.allclose(latent, exact, atol=1e-5) or exact.min(initial=0.0) < 0
                or not np.all(exact.sum(axis=1) == 1)):
            raise ValueError(f"Exports take integer labels/codes ({self.name} holds class ids): interpolate or "
                             "average only latents of the same label, or use the run's model.keras to mix labels.")
        return latent.argmax(axis=1).astype(np.int32)

    def draw_numpy(self, count, rng, balanced_from=None):
        """``count`` values drawn with a numpy Generator (ids ``start % size, ...`` when ``balanced_from`` is given)."""
        if self.encoding == "one_hot":
            if balanced_from is not None:
                return (np.arange(balanced_from, balanced_from + count) % self.size).astype(np.int32)
            return rng.integers(0, self.size, count).astype(np.int32)
        shape = (count, self.size)
        values = rng.standard_normal(shape) if self.distribution == "normal" else rng.uniform(-1.0, 1.0, shape)
        return values.astype(np.float32)

    def draw(self, count, seed):
        """``count`` values drawn in the graph from a ``[2]`` stateless seed."""
        if self.encoding == "one_hot":
            return tf.random.stateless_uniform([count], seed, 0, self.size, dtype=tf.int32)
        if self.distribution == "normal":
            return tf.random.stateless_normal([count, self.size], seed)
        return tf.random.stateless_uniform([count, self.size], seed, -1.0, 1.0)

    def metadata(self):
        """This input as JSON (the serving spec plus how it is drawn and encoded)."""
        entry = {"dtype": self.dtype, "shape": self.shape}
        if self.valid_range is not None:
            entry["range"] = list(self.valid_range)
        entry.update(encoding=self.encoding, size=self.size, distribution=self.distribution, role=self.role,
                     conditions_discriminator=self.conditions_discriminator)
        return entry


def noise(name, size, distribution="normal"):
    """z: float noise ``[N, size]`` from N(0, 1) ("normal") or U[-1, 1] ("uniform")."""
    return LatentInput(name, "float", size, distribution)


def class_label(name, num_classes, conditions_discriminator=True):
    """A class label the caller chooses (int ids), drawn uniformly in training."""
    return LatentInput(name, "one_hot", num_classes, "categorical", "class", conditions_discriminator)


def categorical_code(name, num_categories):
    """An unsupervised categorical code (int ids), drawn uniformly."""
    return LatentInput(name, "one_hot", num_categories, "categorical", "code")


def continuous_code(name, size):
    """Unsupervised continuous codes ``[N, size]`` ~ U[-1, 1]."""
    return LatentInput(name, "float", size, "uniform", "noise")


def pack(values):
    """A list of latent components -> latents: the single tensor of a one-input model, else the list."""
    values = list(values)
    return values[0] if len(values) == 1 else values


def unpack(latents, count):
    """Latents of a ``count``-input model -> a list of components."""
    return list(latents) if count > 1 else [latents]


def conditions_of(inputs, latents):
    """The latent components of the inputs marked ``conditions_discriminator`` (one, a list, or None)."""
    chosen = [value for spec, value in zip(inputs, unpack(latents, len(inputs))) if spec.conditions_discriminator]
    return pack(chosen) if chosen else None


@dataclasses.dataclass(frozen=True)
class Contract:
    """A model family's description, the one thing serving, evaluation and latent tools read.

    Attributes:
      family: the family's name ("dcgan", "gan", "cgan", "infogan", or a user's).
      image_shape: ``(H, W, C)`` of the images, float32 in [-1, 1].
      inputs: the generator's `LatentInput`s in the order of its latents; the first is z.
      features: whether the discriminator has the DCGAN paper's pooled conv features
        (exports then serve a ``features`` signature).
      extra: family keys written into export metadata (e.g. ``num_classes``).
    """

    family: str
    image_shape: tuple
    inputs: tuple
    features: bool = False
    extra: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "image_shape", tuple(int(d) for d in self.image_shape))
        object.__setattr__(self, "inputs", tuple(self.inputs))
        if not self.inputs or self.inputs[0].role != "noise" or self.inputs[0].encoding != "float":
            raise ValueError("A contract's first input must be the float noise z.")
        names = [spec.name for spec in self.inputs]
        if len(set(names)) != len(names):
            raise ValueError(f"Latent input names must be unique, got {names}.")
        if "images" in names:
            raise ValueError("'images' is the discriminator's input; name the latent input otherwise.")

    # ---- views ------------------------------------------------------------------------

    @property
    def latent_dim(self):
        return self.inputs[0].size

    @property
    def latent_distribution(self):
        return self.inputs[0].distribution

    @property
    def names(self):
        return [spec.name for spec in self.inputs]

    def input(self, name):
        """The `LatentInput` called ``name``."""
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def discriminator_inputs(self):
        """The inputs the discriminator is conditioned on, in order."""
        return [spec for spec in self.inputs if spec.conditions_discriminator]

    @property
    def class_inputs(self):
        """The class labels a caller may choose (`sample` takes them)."""
        return [spec for spec in self.inputs if spec.role == "class"]

    @property
    def code_inputs(self):
        """The unsupervised categorical codes."""
        return [spec for spec in self.inputs if spec.role == "code"]

    # ---- serving inputs <-> latents -------------------------------------------------

    def pack(self, values):
        """A list in the inputs' order -> latents (the single tensor of a one-input model)."""
        return pack(values)

    def unpack(self, latents):
        """Latents -> a list in the inputs' order."""
        return unpack(latents, len(self.inputs))

    def latents(self, inputs):
        """Serving inputs (by name) -> the generator's latents (ids one-hot encoded)."""
        return self.pack(spec.encode(inputs[spec.name]) for spec in self.inputs)

    def serving_inputs(self, latents):
        """The generator's latents -> serving inputs (numpy, by name); refuses mixed one-hots."""
        return {spec.name: spec.decode(value) for spec, value in zip(self.inputs, self.unpack(latents))}

    def discriminator_conditions(self, values):
        """The discriminator's conditions from latents or serving inputs, or None for an unconditional D.

        Args:
          values: latents (the conditions are taken as they are) or a dict of
            serving inputs (encoded first).
        """
        if not isinstance(values, dict):
            return conditions_of(self.inputs, values)
        chosen = [spec.encode(values[spec.name]) for spec in self.discriminator_inputs]
        return pack(chosen) if chosen else None

    # ---- draws ------------------------------------------------------------------------

    def draw_numpy(self, count, rng, balanced_from=None):
        """Serving inputs for ``count`` images drawn with a numpy Generator (dict by name).

        Args:
          count: how many.
          rng: a `numpy.random.Generator`.
          balanced_from: if given, ids are ``balanced_from + i`` modulo the class
            count instead of random (every class equally often over a draw).
        """
        return {spec.name: spec.draw_numpy(count, rng, balanced_from) for spec in self.inputs}

    def sample(self, count, seed, given=None):
        """Serving inputs drawn in the graph, as the ``sample`` signature draws them.

        Input ``i`` comes from the stateless stream ``[seed, i]``, so a seed
        always gives the same values; inputs in ``given`` are used as they are.

        Args:
          count: how many (int or int32 scalar tensor).
          seed: int32 scalar (int or tensor).
          given: optional dict of serving values by name (e.g. chosen labels).

        Returns:
          dict of tensors by name.
        """
        given = given or {}
        seed = tf.convert_to_tensor(seed, tf.int32)
        values = {}
        for index, spec in enumerate(self.inputs):
            if spec.name in given:
                values[spec.name] = given[spec.name]
            else:
                values[spec.name] = spec.draw(count, tf.stack([seed, tf.constant(index, tf.int32)]))
        return values

    # ---- checks -----------------------------------------------------------------------

    def check(self, inputs, names=None):
        """Validates serving inputs given in Python/numpy; returns them as numpy arrays by name.

        Args:
          inputs: dict by name.
          names: which inputs to expect (default: all).

        Raises:
          ValueError / TypeError: missing or unknown names, wrong dtypes or
            shapes, disagreeing batch sizes, non-finite values, ids out of range.
        """
        expected = self.names if names is None else list(names)
        missing, extra = sorted(set(expected) - set(inputs)), sorted(set(inputs) - set(expected))
        if missing or extra:
            problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {extra}"] if extra else [])
            raise ValueError(f"Bad inputs ({'; '.join(problems)}): this {self.family} model takes {expected}.")
        checked, sizes = {}, {}
        for name in expected:
            spec = self.input(name)
            shape_text = "[" + ", ".join("N" if d is None else str(d) for d in spec.shape) + "]"
            value = np.asarray(inputs[name])
            if spec.encoding == "one_hot":
                if value.ndim == 0:
                    value = value[None]
                if not np.issubdtype(value.dtype, np.integer):
                    raise TypeError(f"{name} must hold integer class ids in [0, {spec.size}), got dtype "
                                    f"{value.dtype}.")
                if value.ndim != 1:
                    raise ValueError(f"{name} must have shape {shape_text}, got {list(value.shape)}.")
                bad = value[(value < 0) | (value >= spec.size)]
                if bad.size:
                    raise ValueError(f"{name} must be in [0, {spec.size}); got {sorted(set(bad.tolist()))[:10]}.")
                value = value.astype(np.int32)
            else:
                if value.dtype.kind not in "fiu":
                    raise TypeError(f"{name} must be float values {shape_text}, got dtype {value.dtype}.")
                value = value.astype(np.float32)
                if value.ndim != 2 or value.shape[1] != spec.size:
                    raise ValueError(f"{name} must have shape {shape_text}, got {list(value.shape)}.")
                if not np.isfinite(value).all():
                    raise ValueError(f"{name} must be finite (no NaN/Inf).")
            checked[name], sizes[name] = value, len(value)
        if len(set(sizes.values())) > 1:
            raise ValueError(f"The inputs disagree on the batch size: {sizes}.")
        if sizes and not next(iter(sizes.values())):
            raise ValueError("The inputs hold no row: the batch size must be at least 1.")
        return checked

    # ---- metadata ---------------------------------------------------------------------

    def metadata(self):
        """The contract as a JSON-able dict (what `from_metadata` reads back)."""
        return {"family": self.family, "latent_dim": self.latent_dim,
                "latent_distribution": self.latent_distribution, "image_shape": list(self.image_shape),
                "value_range": list(VALUE_RANGE),
                "inputs": {spec.name: spec.metadata() for spec in self.inputs},
                "features": self.features, "family_keys": sorted(self.extra), **self.extra}

    @classmethod
    def from_metadata(cls, metadata):
        """Reads a contract back from `metadata`'s dict.

        Raises:
          ValueError: naming what is missing or malformed.
        """
        missing = [key for key in ("family", "image_shape", "inputs") if key not in metadata]
        if missing:
            raise ValueError(f"lacks {missing}")
        inputs = metadata["inputs"]
        if not isinstance(inputs, dict) or not inputs:
            raise ValueError("has no generator inputs")
        specs = []
        for name, entry in inputs.items():
            try:
                specs.append(LatentInput(name, entry["encoding"], entry["size"], entry["distribution"],
                                         entry.get("role", "noise"), bool(entry.get("conditions_discriminator"))))
            except (KeyError, TypeError) as error:
                raise ValueError(f"describes input {name!r} incompletely (no {error})") from None
        extra = {key: metadata[key] for key in metadata.get("family_keys", []) if key in metadata}
        return cls(metadata["family"], tuple(metadata["image_shape"]), tuple(specs),
                   bool(metadata.get("features")), extra)
