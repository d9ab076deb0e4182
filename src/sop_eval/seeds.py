"""The one seed convention: every random step takes a seed, and ``None`` means :data:`DEFAULT_SEED`.

So a run is reproducible unless the caller asks otherwise: pass a different integer (or a
``numpy.random.Generator``) for other draws. The default is the date the Peterborough bond started,
2010-09-09, written as an integer.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SEED = 20100909


def resolve_seed(seed: int | None) -> int:
    """``seed``, or :data:`DEFAULT_SEED` when it is None."""
    return DEFAULT_SEED if seed is None else int(seed)


def rng(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A generator from ``seed`` (None: :data:`DEFAULT_SEED`); a generator passed in is used as it is."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(resolve_seed(seed))


__all__ = ["DEFAULT_SEED", "resolve_seed", "rng"]
