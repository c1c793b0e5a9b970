"""Drawing evaluation samples from any model the one reader opens.

Sampling protocol (`Sampler.sample`): batches of `BATCH_SIZE`; batch i's serving
inputs are drawn from ``numpy.random.default_rng(batch_seed(seed, i))`` by the
model's contract (z by its distribution, continuous codes U[-1, 1]) with every
class label and categorical code balanced (sample ``j`` gets id ``j % K``), and
turned into images by the model's ``generate``. So a run directory, its
``.keras`` file and its export give the same samples for a seed (up to the
float32 rebuild of a mixed-precision model).
"""

import numpy as np

from kgan.checks import check_count
from kgan.serving import reader

BATCH_SIZE = 500


def batch_seed(seed, index):
    """A 31-bit seed for batch ``index`` of a draw with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0] % (2 ** 31 - 1))


def batches(num_images, batch_size=BATCH_SIZE):
    """``(index, start, stop)`` of each batch of a draw of ``num_images``."""
    for index, start in enumerate(range(0, num_images, batch_size)):
        yield index, start, min(start + batch_size, num_images)


def draw_inputs(contract, start, stop, seed):
    """The serving inputs of samples ``start..stop-1`` of a draw (see the module doc)."""
    return contract.draw_numpy(stop - start, np.random.default_rng(seed), balanced_from=start)


class Sampler:
    """Draws images, with the ids that made them, from a model.

    Args:
      model: a `kgan.GAN`, a `kgan.serving.LoadedGAN` or a path `kgan.load` opens.

    Attributes:
      model: the `LoadedGAN`.
      contract: its contract.
      description: where the model came from.
    """

    def __init__(self, model):
        self.model = reader.load(model)
        self.contract = self.model.contract
        self.description = self.model.description

    @property
    def image_shape(self):
        return self.contract.image_shape

    @property
    def family(self):
        return self.contract.family

    def sample(self, num_images, seed=0):
        """Draws ``num_images`` samples.

        Args:
          num_images: how many (positive int).
          seed: int; the same seed gives the same samples.

        Returns:
          dict: ``"images"`` float32 ``[N, H, W, C]`` in [-1, 1], and the int32
          ids ``[N]`` of every class-label and categorical-code input, by name.
        """
        num_images = check_count("num_images", num_images)
        ids = [spec.name for spec in self.contract.class_inputs + self.contract.code_inputs]
        parts = []
        for index, start, stop in batches(num_images):
            inputs = draw_inputs(self.contract, start, stop, batch_seed(seed, index))
            parts.append({"images": self.model.generate(**inputs), **{name: inputs[name] for name in ids}})
        return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


def open_sampler(source):
    """A `Sampler` for a GAN, a `Sampler`, a run directory / ``.keras`` file or an export directory."""
    return source if isinstance(source, Sampler) else Sampler(source)
