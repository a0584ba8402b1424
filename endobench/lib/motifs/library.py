"""The motif library: JASPAR CORE vertebrate profiles from the SQLite release pyjaspar ships (no download).

Each profile's counts become a log-odds matrix (bits) with Biopython, using JASPAR's own pseudocount rule
(`Bio.motifs.jaspar.calculate_pseudocounts`: the square root of the number of sites, spread over the bases) and a
uniform background, as in the MEME-format files JASPAR publishes. Scores are kept as integers in units of
1/SCALE bit, so a hit's p-value is exact for the quantised matrix: the probability that a random background
sequence of the motif's length scores at least as high, from the score distribution built column by column
(FIMO's method; FIMO's default resolution is about the same, 1,000 bins over a motif's range).

"Non-redundant" is JASPAR's meaning: the latest version of every profile (`all_versions=False`), 879 profiles
for vertebrates in JASPAR 2024.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import numpy as np

JASPAR_RELEASE = "JASPAR2024"
COLLECTION = "CORE"
TAX_GROUP = "vertebrates"
BASES = "ACGT"
SCALE = 40  # integer score units per bit: 0.025-bit resolution
BACKGROUND = 0.25  # uniform, per base


@dataclass(frozen=True, eq=False)
class MotifLibrary:
    """Motifs as integer log-odds matrices with exact tail p-values, grouped by length for scanning.

    `weights[k]` is motif k's (length, 4) matrix in 1/SCALE bits (columns A, C, G, T); `tail[offset[k] + s -
    min_score[k]]` is P(score >= s) of motif k under the background, for every integer score s it can reach.
    """

    release: str
    ids: np.ndarray
    names: np.ndarray
    lengths: np.ndarray
    weights: tuple[np.ndarray, ...]
    min_score: np.ndarray
    tail_offset: np.ndarray
    tail: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def max_length(self) -> int:
        return int(self.lengths.max())

    def describe(self) -> str:
        """`JASPAR2024 CORE vertebrates, 879 profiles`: what a configuration id and a report name."""
        return f"{self.release} {COLLECTION} {TAX_GROUP}, {len(self):,} profiles"

    def p_values(self, motif: np.ndarray, score: np.ndarray) -> np.ndarray:
        """P(score >= `score`) of motifs `motif` (indices) for integer scores of the same shape."""
        motif = np.asarray(motif)
        index = np.asarray(score, dtype=np.int64) - self.min_score[motif]
        size = np.diff(np.r_[self.tail_offset, len(self.tail)])[motif]
        return self.tail[self.tail_offset[motif] + np.clip(index, 0, size - 1)]

    @functools.cached_property
    def length_groups(self) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """Per motif length m: (m, the motifs' indices, their (4 * m, 2 * motifs) float32 weights, forward
        matrices then reverse complements, each flattened base-major as `scan` lays out its windows)."""
        groups = []
        for m in np.unique(self.lengths):
            members = np.flatnonzero(self.lengths == m)
            forward = np.stack([self.weights[i] for i in members])  # (motifs, m, 4)
            backward = forward[:, ::-1, ::-1]  # reverse complement: positions reversed, A<->T and C<->G
            stacked = np.concatenate([forward, backward]).transpose(0, 2, 1)  # (2 motifs, 4, m)
            groups.append((int(m), members, stacked.reshape(len(stacked), -1).T.astype(np.float32)))
        return groups

    def subset(self, keep: np.ndarray) -> MotifLibrary:
        """The motifs where `keep` is True, in the same order."""
        rows = np.flatnonzero(keep)
        return _assemble(self.release, self.ids[rows], self.names[rows], [self.weights[k] for k in rows])


def tail_probabilities(weights: np.ndarray) -> tuple[int, np.ndarray]:
    """(lowest score, P(score >= lowest + i) for every i) of an integer matrix under the uniform background.

    The distribution of the sum over columns is built one column at a time: each base shifts the distribution
    so far by its integer score with probability BACKGROUND.
    """
    density = np.ones(1)
    lowest = 0
    for column in weights:
        low = int(column.min())
        grown = np.zeros(len(density) + int(column.max()) - low)
        for value in column:
            shift = int(value) - low
            grown[shift:shift + len(density)] += BACKGROUND * density
        density, lowest = grown, lowest + low
    return lowest, np.cumsum(density[::-1])[::-1]


def integer_log_odds(counts: dict[str, list[float]]) -> np.ndarray:
    """A JASPAR count matrix as (length, 4) log-odds in 1/SCALE bits, with JASPAR's pseudocounts."""
    from Bio import motifs
    from Bio.motifs import jaspar

    motif = motifs.Motif(alphabet=BASES, counts={b: list(counts[b]) for b in BASES})
    motif.background = dict.fromkeys(BASES, BACKGROUND)
    motif.pseudocounts = jaspar.calculate_pseudocounts(motif)
    pssm = motif.pssm
    return np.rint(np.array([pssm[b] for b in BASES], dtype=float).T * SCALE).astype(np.int32)


def gene_symbols(tf_name: str) -> list[str]:
    """The genes a JASPAR profile name stands for: `RXRA::VDR` -> [RXRA, VDR]; `Ahr::Arnt` -> [AHR, ARNT];
    `FOSL2::JUN(var.2)` -> [FOSL2, JUN]. A fusion such as `EWSR1-FLI1` is kept whole (no gene has that name)."""
    return [re.sub(r"\(var\.\d+\)$", "", part).strip().upper() for part in tf_name.split("::")]


@functools.lru_cache(maxsize=2)
def load_jaspar(release: str = JASPAR_RELEASE) -> MotifLibrary:
    """The latest version of every CORE vertebrate profile of `release`, read from pyjaspar's bundled SQLite."""
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    if getattr(db, "conn", None) is None:
        raise ValueError(f"pyjaspar has no JASPAR release {release!r}; it ships {db.get_releases()}")
    found = db.fetch_motifs(collection=COLLECTION, tax_group=[TAX_GROUP], all_versions=False)
    found = sorted(found, key=lambda m: m.matrix_id)
    return _assemble(release, np.array([m.matrix_id for m in found], dtype=object),
                     np.array([m.name for m in found], dtype=object),
                     [integer_log_odds(m.counts) for m in found])


def _assemble(release: str, ids: np.ndarray, names: np.ndarray, weights: list[np.ndarray]) -> MotifLibrary:
    tables = [tail_probabilities(w) for w in weights]
    sizes = np.array([len(t) for _, t in tables], dtype=np.int64)
    return MotifLibrary(
        release=release, ids=ids, names=names, lengths=np.array([len(w) for w in weights], dtype=np.int64),
        weights=tuple(weights), min_score=np.array([low for low, _ in tables], dtype=np.int64),
        tail_offset=np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64),
        tail=np.concatenate([t for _, t in tables]) if tables else np.zeros(0),
    )
