"""The local DNase accessibility model: a gapped k-mer (deltaSVM-class) linear model that needs no network.

Features are gapped k-mers (k informative bases inside every window of l bases, all C(l, k) placements),
counted on both strands, as in gkm-SVM. The learned weights are folded into one table of 4**l values, one per
l-mer, so that scoring a sequence is a single table look-up per position: score = sum over the l-mer windows
of the sequence (both strands) of the table value; windows that contain a base other than ACGT add nothing.
For a SNV, score(ALT) - score(REF) is therefore exactly the deltaSVM-style sum of weight differences of the
l-mers that overlap the variant. Indels change the number of windows; their delta is still ALT minus REF.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from endobench.lib.genome.sequence import reverse_complement

MAX_FLANK = 49
_SCORE_CHUNK = 20_000
_CODE = np.full(256, 4, dtype=np.uint8)


for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i






def encode_equal_length(seqs: list[str]) -> np.ndarray:
    """(n, L) uint8 array, A=0 C=1 G=2 T=3, anything else 4; all sequences must share one length."""
    if not seqs:
        return np.zeros((0, 0), dtype=np.uint8)
    length = len(seqs[0])
    raw = np.frombuffer("".join(seqs).encode("ascii", "replace"), dtype=np.uint8)
    return _CODE[raw].reshape(len(seqs), length)


def _window_codes(encoded: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer code of every window of `width` bases and whether the window holds only ACGT."""
    n, length = encoded.shape
    n_win = length - width + 1
    codes = np.zeros((n, n_win), dtype=np.int64)
    invalid = np.zeros((n, n_win), dtype=bool)
    for j in range(width):
        col = encoded[:, j:j + n_win]
        codes = codes * 4 + np.minimum(col, 3)
        invalid |= col > 3
    return codes, ~invalid


@dataclass(frozen=True)
class GkmConfig:
    """Gapped k-mer geometry: k informative bases in windows of l bases."""

    l: int = 8
    k: int = 5

    def anchored_masks(self) -> list[tuple[int, ...]]:
        """Every offset pattern of k bases starting at 0 and spanning at most l (one feature block each)."""
        masks = []
        for rest in itertools.combinations(range(1, self.l), self.k - 1):
            masks.append((0, *rest))
        return masks

    @property
    def n_features(self) -> int:
        return len(self.anchored_masks()) * 4 ** self.k


def gkm_features(seqs: list[str], config: GkmConfig) -> sparse.csr_matrix:
    """Counts of gapped k-mers per sequence, each occurrence weighted by the number of l-windows holding it.

    This is the explicit feature map of the linear gkm kernel, so `weights @ features` equals the table score.
    Sequences of different lengths are handled in groups of equal length.
    """
    masks = config.anchored_masks()
    block = 4 ** config.k
    rows_all, cols_all, vals_all = [], [], []
    by_length: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_length.setdefault(len(s), []).append(i)
    for length, idx in by_length.items():
        if length < config.l:
            continue
        enc = encode_equal_length([seqs[i] for i in idx])
        n = len(idx)
        n_windows = length - config.l + 1
        for m_i, mask in enumerate(masks):
            span = mask[-1] + 1
            n_pos = length - span + 1
            pos = np.arange(n_pos)
            # Number of l-windows [q, q+l) inside the sequence that contain [p, p+span).
            mult = np.minimum(pos, n_windows - 1) - np.maximum(0, pos + span - config.l) + 1
            code = np.zeros((n, n_pos), dtype=np.int64)
            bad = np.zeros((n, n_pos), dtype=bool)
            for off in mask:
                col = enc[:, off:off + n_pos]
                code = code * 4 + np.minimum(col, 3)
                bad |= col > 3
            keep = ~bad
            r = np.broadcast_to(np.asarray(idx)[:, None], code.shape)[keep]
            rows_all.append(r)
            cols_all.append(code[keep] + m_i * block)
            vals_all.append(np.broadcast_to(mult[None, :], code.shape)[keep].astype(np.float32))
    if rows_all:
        rows, cols, vals = np.concatenate(rows_all), np.concatenate(cols_all), np.concatenate(vals_all)
    else:
        rows, cols, vals = np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32)
    matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(seqs), config.n_features), dtype=np.float32)
    matrix.sum_duplicates()
    return matrix


def gkm_features_both_strands(seqs: list[str], config: GkmConfig) -> sparse.csr_matrix:
    return gkm_features(seqs, config) + gkm_features([reverse_complement(s) for s in seqs], config)


def lmer_table(weights: np.ndarray, config: GkmConfig) -> np.ndarray:
    """Fold gapped k-mer weights into one strand-symmetric value per l-mer (float32, length 4**l)."""
    l, k = config.l, config.k
    n_lmers = 4 ** l
    digits = np.zeros((n_lmers, l), dtype=np.uint8)
    all_codes = np.arange(n_lmers, dtype=np.int64)
    for j in range(l):
        digits[:, j] = (all_codes >> (2 * (l - 1 - j))) & 3
    index_of = {mask: i for i, mask in enumerate(config.anchored_masks())}
    block = 4 ** k
    table = np.zeros(n_lmers, dtype=np.float64)
    for subset in itertools.combinations(range(l), k):
        anchored = tuple(p - subset[0] for p in subset)
        code = np.zeros(n_lmers, dtype=np.int64)
        for p in subset:
            code = code * 4 + digits[:, p]
        table += weights[index_of[anchored] * block + code]
    rc_digits = 3 - digits[:, ::-1]
    rc_code = np.zeros(n_lmers, dtype=np.int64)
    for j in range(l):
        rc_code = rc_code * 4 + rc_digits[:, j]
    return (table + table[rc_code]).astype(np.float32)


def table_scores(seqs: list[str], table: np.ndarray, l: int) -> np.ndarray:
    """Sum of the l-mer table over every window of each sequence; windows with non-ACGT bases add nothing."""
    out = np.zeros(len(seqs), dtype=np.float64)
    by_length: dict[int, list[int]] = {}
    for i, s in enumerate(seqs):
        by_length.setdefault(len(s), []).append(i)
    for length, idx in by_length.items():
        if length < l:
            continue
        # Chunks bound the int64 window-code arrays to a few tens of MB whatever the batch size.
        for begin in range(0, len(idx), _SCORE_CHUNK):
            chunk = idx[begin:begin + _SCORE_CHUNK]
            codes, valid = _window_codes(encode_equal_length([seqs[i] for i in chunk]), l)
            values = np.where(valid, table[codes], 0.0)
            out[np.asarray(chunk)] = values.sum(axis=1, dtype=np.float64)
    return out


class LocalDnaseModel:
    """A strand-symmetric l-mer table plus the flank the pipeline reads around each REF allele."""

    def __init__(self, table: np.ndarray, config: GkmConfig, flank: int, name: str = "gkm_dnase",
                 training: dict | None = None) -> None:
        table = np.asarray(table, dtype=np.float32)
        if table.shape != (4 ** config.l,):
            raise ValueError(f"table has shape {table.shape}, expected ({4 ** config.l},) for l={config.l}")
        if not 0 <= flank <= MAX_FLANK or 2 * flank + 1 < config.l:
            raise ValueError(f"flank must be in [{config.l // 2}, {MAX_FLANK}] for l={config.l}, got {flank}")
        self.table = table
        self.config = config
        self.flank = int(flank)
        self.name = name
        self.training = dict(training or {})

    @property
    def input_length(self) -> int:
        """Shortest sequence the model scores: the REF window of a SNV."""
        return 2 * self.flank + 1

    def score_sequences(self, seqs: list[str]) -> np.ndarray:
        """One accessibility score per sequence (higher = more accessible); any length, any case."""
        return table_scores([s.upper() for s in seqs], self.table, self.config.l)

    def score_pairs(self, refs: list[str], alts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if len(refs) != len(alts):
            raise ValueError(f"{len(refs):,} REF sequences but {len(alts):,} ALT sequences")
        both = self.score_sequences(list(refs) + list(alts))
        return both[:len(refs)], both[len(refs):]

    def _config_json(self) -> str:
        return json.dumps(
            {"name": self.name, "l": self.config.l, "k": self.config.k,
             "flank": self.flank, "training": self.training},
            sort_keys=True,
        )

    def fingerprint(self) -> str:
        """sha256 of the weights and the configuration: equal fingerprints give equal scores."""
        digest = hashlib.sha256()
        digest.update(self._config_json().encode())
        digest.update(np.ascontiguousarray(self.table, dtype="<f4").tobytes())
        return digest.hexdigest()
