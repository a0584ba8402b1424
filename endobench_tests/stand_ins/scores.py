"""The stand-in's scores: a deterministic function of what determines a score (variant, track, gene, model version,
interval width), shared by its live `ScoreVariant` and its Atlas, so that the two give the same number for the same
SNV, track and configuration, as the real Atlas holds the scores the live model would compute."""

from __future__ import annotations

import functools
import hashlib
import math
import struct
from collections.abc import Sequence

import numpy as np


def unit_hash(*parts: object) -> float:
    """A number in [-1, 1) determined only by `parts`."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return struct.unpack("<Q", digest)[0] / 2**63 - 1.0


@functools.lru_cache(maxsize=None)
def _track_offset(name: str) -> float:
    return unit_hash("track", name) + 1.0


def scores(variant: str, tracks: Sequence[str], genes: Sequence[str], model_version: str, width: int) -> np.ndarray:
    """Raw scores [gene, track]: a hash of the variant, gene, model version and width, shifted by one of the track
    (so that every track of a response has its own score, computed without a hash per value)."""
    base = np.array([unit_hash(variant, gene, model_version or "ALL_FOLDS", width) for gene in genes])
    offsets = np.array([_track_offset(name) for name in tracks])
    return 3.0 * (np.mod(base[:, None] + 1.0 + offsets[None, :], 2.0) - 1.0)


def expected_score(variant: str, track: str, gene: str, model_version: str, width: int) -> float:
    """The raw score the stand-in returns for a track (by name), for tests that check values end to end."""
    return float(scores(variant, [track], [gene], model_version, width)[0, 0])


def expected_quantile(raw):
    return 2.0 / math.pi * np.arctan(raw)


def expected_avi(variant: str) -> float:
    """The stand-in Atlas's AlphaGenome Variant Impact score of an SNV: unsigned, in [0, 1)."""
    return (unit_hash("avi", variant) + 1.0) / 2.0
