"""The local DNase accessibility model: a gapped k-mer (deltaSVM-class) linear model that needs no network.

Features are gapped k-mers (k informative bases inside every window of l bases, all C(l, k) placements),
counted on both strands, as in gkm-SVM. The learned weights are folded into one table of 4**l values, one per
l-mer, so that scoring a sequence is a single table look-up per position: score = sum over the l-mer windows
of the sequence (both strands) of the table value; windows that contain a base other than ACGT add nothing.
For a SNV, score(ALT) - score(REF) is therefore exactly the deltaSVM-style sum of weight differences of the
l-mers that overlap the variant. Indels change the number of windows; their delta is still ALT minus REF.

Training (`train_local_model`) uses only the Degner dsQTLs whose hg38 chromosome is a training chromosome,
through their two real 100-bp allele contexts, with two objectives:
- paired allelic: features(high allele context) - features(low allele context) labelled 1 and the negated
  difference labelled 0 (L2 logistic regression, no intercept, pairs weighted by |t|);
- accessible versus background: the smoothed log-ratio of gapped k-mer counts in the contexts (both alleles)
  against two first-order Markov sequences drawn from each context itself (matched GC and dinucleotides),
  added with a small weight.
The chr22/chr2 segments and the chr22 K562 peaks are not used: they belong to held-out chromosomes in the
default split, and the odd-chromosome contexts alone reach the target.

Selection by 4-fold cross-validation grouped by chromosome within the odd chromosomes (pooled sign auROC of
the allelic delta): l=6,k=4 0.558; l=8,k=5 0.591; l=10,k=6 0.598; l=8,k=6 0.594, with |t| weights 0.601, with
the background term (weight 0.1) 0.603 (kept); the background objective alone 0.55.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse, stats

from endobench.lib.atomic import atomic_path
from endobench.lib.errors import InputError
from endobench.lib.fasta import read_fasta

ODD_CHROMOSOMES = [f"chr{i}" for i in range(1, 23, 2)]
EVEN_CHROMOSOMES = [f"chr{i}" for i in range(2, 23, 2)]

CONTEXT_VARIANT_INDEX = 49
MAX_FLANK = 49
FORMAT_VERSION = 1
_SCORE_CHUNK = 20_000

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate("ACGT"):
    _CODE[ord(_b)] = _i
    _CODE[ord(_b.lower())] = _i
_REVCOMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def revcomp(seq: str) -> str:
    return seq.translate(_REVCOMP)[::-1]


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
    return gkm_features(seqs, config) + gkm_features([revcomp(s) for s in seqs], config)


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
            {"format_version": FORMAT_VERSION, "name": self.name, "l": self.config.l, "k": self.config.k,
             "flank": self.flank, "training": self.training},
            sort_keys=True,
        )

    def fingerprint(self) -> str:
        """sha256 of the weights and the configuration: equal fingerprints give equal scores."""
        digest = hashlib.sha256()
        digest.update(self._config_json().encode())
        digest.update(np.ascontiguousarray(self.table, dtype="<f4").tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, table=self.table.astype("<f4"), config=np.array(self._config_json()))
        return path

    @classmethod
    def load(cls, path: Path) -> LocalDnaseModel:
        path = Path(path)
        retrain = "Materialize the local_model asset again (or train_local_model) to rewrite it"
        if not path.exists():
            raise InputError(path, "the local model file does not exist", retrain)
        try:
            with np.load(path, allow_pickle=False) as data:
                table = data["table"]
                config = json.loads(str(data["config"]))
            if config.get("format_version") != FORMAT_VERSION:
                raise InputError(path, f"model format {config.get('format_version')} is not {FORMAT_VERSION}", retrain)
            return cls(table, GkmConfig(config["l"], config["k"]), config["flank"], config["name"],
                       config.get("training"))
        except InputError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise InputError(path, f"the local model file is unreadable or incomplete ({exc})", retrain) from exc


@dataclass
class TrainingInputs:
    """The dsQTLs with their hg38 placement and both 100-bp allele contexts, and the sample reference.

    `dsqtls` has one row per dsQTL with a context: id, chrom, pos (1-based hg38), strand, ref, alt (as in the
    table, on the table's strand), beta (effect of alt), abs_t. `high` / `low` map id to the 100-bp context of
    the high / low accessibility allele (variant at index 49). Beta > 0 means alt is the high allele.
    """

    dsqtls: pd.DataFrame
    high: dict[str, str]
    low: dict[str, str]
    reference_fasta: Path
    excluded: dict[str, int] = field(default_factory=dict)

    @classmethod
    def sample(cls, sample_dir: Path) -> TrainingInputs:
        d = Path(sample_dir)
        table_path = d / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"
        high_path = d / "maggie_Degner2012_dsQTL_high_allele_100bp.hg18ctx.fa.gz"
        low_path = d / "maggie_Degner2012_dsQTL_low_allele_100bp.hg18ctx.fa.gz"
        reference = d / "hg38_sample_segments.fa"
        for path in (table_path, high_path, low_path, reference):
            if not path.exists():
                raise InputError(path, "a bundled sample file is missing", "Restore data/sample/ from the repository")
        table = pd.read_csv(table_path, sep="\t", dtype=str, keep_default_na=False)
        needed = {"ID", "chr_hg38", "pos_hg38", "strand_hg38", "Ref", "Alt", "Beta", "t value"}
        missing = needed - set(table.columns)
        if missing:
            raise InputError(table_path, f"columns {sorted(missing)} are missing", "Use the lifted Degner table")
        high, low = read_fasta(high_path), read_fasta(low_path)
        excluded: dict[str, int] = {}
        rows = []
        for line, row in enumerate(table.itertuples(index=False), start=2):
            if not row.chr_hg38 or not row.pos_hg38 or "_" in row.chr_hg38:
                excluded["not_lifted_to_primary_hg38"] = excluded.get("not_lifted_to_primary_hg38", 0) + 1
                continue
            if row.ID not in high or row.ID not in low:
                excluded["no_context_sequence"] = excluded.get("no_context_sequence", 0) + 1
                continue
            h, lo = high[row.ID], low[row.ID]
            if len(h) != 100 or len(lo) != 100 or {h[CONTEXT_VARIANT_INDEX], lo[CONTEXT_VARIANT_INDEX]} != {row.Ref.upper(), row.Alt.upper()}:
                raise InputError(high_path, "the high/low contexts do not carry the table's alleles at index 49",
                                 "Check that the context FASTAs and the dsQTL table come from the same release",
                                 variant=row.ID)
            beta = float(row.Beta)
            rows.append((row.ID, row.chr_hg38, int(row.pos_hg38), row.strand_hg38, row.Ref.upper(),
                         row.Alt.upper(), beta, abs(float(row[table.columns.get_loc("t value")]))))
        frame = pd.DataFrame(rows, columns=["id", "chrom", "pos", "strand", "ref", "alt", "beta", "abs_t"])
        return cls(frame, high, low, reference, excluded)


@dataclass(frozen=True)
class TrainingSettings:
    """The variant kept by `cross_validate` within the odd chromosomes (numbers in the module docstring)."""

    l: int = 8
    k: int = 6
    flank: int = MAX_FLANK
    paired_c: float = 3e-5
    accessibility_weight: float = 0.1
    pseudocount: float = 5.0
    seed: int = 0


def markov_background(seq: str, rng: np.random.Generator) -> str:
    """A random sequence from the first-order Markov chain of `seq` itself (matched GC and dinucleotides)."""
    enc = encode_equal_length([seq])[0]
    counts = np.full((4, 4), 0.1)
    ok = (enc[:-1] < 4) & (enc[1:] < 4)
    np.add.at(counts, (enc[:-1][ok], enc[1:][ok]), 1.0)
    cumulative = (counts / counts.sum(axis=1, keepdims=True)).cumsum(axis=1)
    draws = rng.random(len(seq))
    state = int(enc[0]) if enc[0] < 4 else 0
    out = [state]
    for u in draws[1:]:
        state = min(3, int(np.searchsorted(cumulative[state], u)))
        out.append(state)
    return "".join("ACGT"[c] for c in out)


def _fit_weights(high: list[str], low: list[str], abs_t: np.ndarray, settings: TrainingSettings) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    config = GkmConfig(settings.l, settings.k)
    x_high = gkm_features_both_strands(high, config)
    x_low = gkm_features_both_strands(low, config)
    diff = (x_high - x_low).tocsr()
    # Paired objective: high minus low is class 1, its negation class 0; no intercept keeps it antisymmetric.
    # Stronger dsQTLs (larger |t|) have a surer sign, so they weigh more.
    weight = abs_t / abs_t.mean()
    model = LogisticRegression(C=settings.paired_c, fit_intercept=False, max_iter=3000)
    model.fit(sparse.vstack([diff, -diff]), np.r_[np.ones(len(high)), np.zeros(len(high))],
              sample_weight=np.r_[weight, weight])
    paired = model.coef_[0]
    if settings.accessibility_weight == 0:
        return paired
    # Accessible (both allele contexts) versus two matched Markov backgrounds per context: a smoothed
    # log-ratio of gapped k-mer counts, deltaSVM's "what is enriched in DHS" in closed form.
    rng = np.random.default_rng(settings.seed)
    background = [markov_background(s, rng) for s in high] + [markov_background(s, rng) for s in low]
    positive = np.asarray(x_high.sum(axis=0)).ravel() + np.asarray(x_low.sum(axis=0)).ravel()
    negative = np.asarray(gkm_features_both_strands(background, config).sum(axis=0)).ravel()
    enrichment = np.log((positive + settings.pseudocount) / (negative + settings.pseudocount))
    # Put both terms on the scale of their typical allelic delta on the training pairs before mixing.
    paired_scale = np.abs(diff @ paired).mean() or 1.0
    enrichment_scale = np.abs(diff @ enrichment).mean() or 1.0
    return paired / paired_scale + settings.accessibility_weight * enrichment / enrichment_scale


def _training_pairs(inputs: TrainingInputs, chroms: list[str]) -> tuple[list[str], list[str], np.ndarray]:
    chosen = inputs.dsqtls[inputs.dsqtls["chrom"].isin(chroms)]
    high = [inputs.high[i] for i in chosen["id"]]
    low = [inputs.low[i] for i in chosen["id"]]
    return high, low, chosen["abs_t"].to_numpy(dtype=float)


def train_local_model(
    inputs: TrainingInputs, train_chroms: list[str], settings: TrainingSettings = TrainingSettings()
) -> tuple[LocalDnaseModel, dict]:
    """Fit the gapped k-mer model on the dsQTL contexts of `train_chroms` only; deterministic."""
    train_chroms = list(train_chroms)
    high, low, abs_t = _training_pairs(inputs, train_chroms)
    if len(high) < 50:
        raise InputError(None, f"only {len(high)} dsQTLs lie on the training chromosomes {train_chroms}",
                         "Choose training chromosomes that hold at least 50 dsQTLs")
    config = GkmConfig(settings.l, settings.k)
    weights = _fit_weights(high, low, abs_t, settings)
    table = lmer_table(weights, config)
    training = {
        "train_chromosomes": train_chroms,
        "n_train_dsqtls": len(high),
        "objectives": "paired high-vs-low logistic (|t|-weighted) + DHS-vs-Markov-background k-mer enrichment",
        "settings": {k: v for k, v in vars(settings).items()},
    }
    model = LocalDnaseModel(table, config, settings.flank, name=f"gkm_dnase_l{config.l}k{config.k}", training=training)
    summary = {
        "n_train_dsqtls": len(high),
        "n_background_sequences": 2 * len(high) if settings.accessibility_weight else 0,
        "train_material": "Degner dsQTL 100-bp high/low contexts of the training chromosomes (no chr22/chr2 "
                          "segment or peak material)",
        "gapped_kmer": f"l={config.l}, k={config.k}, {config.n_features:,} features, both strands",
        "paired_c": settings.paired_c,
        "accessibility_weight": settings.accessibility_weight,
        "flank": settings.flank,
    }
    return model, summary


@dataclass
class HeldOutEvaluation:
    n: int
    sign_auroc: float
    sign_auroc_ci: tuple[float, float]
    pearson: float
    pearson_ci: tuple[float, float]
    spearman: float
    spearman_ci: tuple[float, float]
    train_chromosomes: list[str]
    test_chromosomes: list[str]
    n_not_served: int = 0


def _auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney AUROC with average ranks for ties."""
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = stats.rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def variant_windows(inputs: TrainingInputs, chroms: list[str], flank: int) -> tuple[pd.DataFrame, list, list]:
    """REF and ALT windows on the hg38 + strand, checked and harmonised by the pipeline's own `build_windows`.

    A variant whose ALT is the genome base is swapped and its Beta negated (Degner's `Ref` is not always the
    genome base); one matching neither allele, or whose window the reference cannot serve, is not returned.
    The frame keeps the table's own alleles; `beta` is the effect of the harmonised ALT.
    """
    from endobench.lib.reference import ReferenceGenome
    from endobench.lib.windows import OK, build_windows

    reference = ReferenceGenome(inputs.reference_fasta, "hg38")
    chosen = inputs.dsqtls[inputs.dsqtls["chrom"].isin(chroms)].reset_index(drop=True)
    minus = (chosen["strand"] == "-").to_numpy()
    plus_strand = pd.DataFrame({
        "variant_id": np.arange(len(chosen)), "chrom": chosen["chrom"], "pos": chosen["pos"],
        "ref": np.where(minus, chosen["ref"].map(revcomp), chosen["ref"]),
        "alt": np.where(minus, chosen["alt"].map(revcomp), chosen["alt"]),
        "effect": chosen["beta"].to_numpy(dtype=float),
    })
    checked = build_windows(plus_strand, reference, window_length=2 * flank + 1, needs_sequence=True)
    served = (checked["window_status"] == OK).to_numpy()
    with reference.reader() as fetch:
        refs, alts, _ = allele_sequences(checked[served], fetch, flank)
    frame = chosen[served].reset_index(drop=True)
    frame["beta"] = checked.loc[served, "effect"].to_numpy()
    return frame, refs, alts


def allele_sequences(
    variants: pd.DataFrame, fetch: Callable[[str, int, int], str | None], flank: int
) -> tuple[list[str], list[str], np.ndarray]:
    """What the model scores for each variant: its REF span with `flank` bases each side, and the same with ALT
    spliced in (indels change the length). Where `fetch` serves no such span, both are "" and `ok` is False."""
    refs, alts, ok = [], [], np.zeros(len(variants), dtype=bool)
    for i, row in enumerate(variants.itertuples(index=False)):
        seq = fetch(row.chrom, row.pos - 1 - flank, row.pos - 1 + len(row.ref) + flank)
        ok[i] = seq is not None
        refs.append(seq or "")
        alts.append(seq[:flank] + row.alt + seq[flank + len(row.ref):] if seq is not None else "")
    return refs, alts, ok


def evaluate_held_out(
    model: LocalDnaseModel, inputs: TrainingInputs, test_chroms: list[str], *, n_boot: int = 1000, seed: int = 0
) -> HeldOutEvaluation:
    """delta = score(ALT window) - score(REF window) on hg38 + strand versus the table's Beta, with 95% CIs."""
    test_chroms = list(test_chroms)
    frame, refs, alts = variant_windows(inputs, test_chroms, model.flank)
    n_not_served = int(inputs.dsqtls["chrom"].isin(test_chroms).sum()) - len(frame)
    if len(frame) < 10:
        raise InputError(inputs.reference_fasta, f"only {len(frame)} dsQTLs on {test_chroms} can be scored",
                         "Choose test chromosomes that hold dsQTLs covered by the reference")
    s_ref, s_alt = model.score_pairs(refs, alts)
    delta = s_alt - s_ref
    beta = frame["beta"].to_numpy(dtype=float)
    labels = beta > 0

    def metrics(idx: np.ndarray) -> tuple[float, float, float]:
        d, b = delta[idx], beta[idx]
        return (_auroc(labels[idx], d), float(np.corrcoef(d, b)[0, 1]),
                float(np.corrcoef(stats.rankdata(d), stats.rankdata(b))[0, 1]))

    full = metrics(np.arange(len(delta)))
    rng = np.random.default_rng(seed)
    boots = np.array([metrics(rng.integers(0, len(delta), len(delta))) for _ in range(n_boot)])
    low, high = np.nanpercentile(boots, [2.5, 97.5], axis=0)
    return HeldOutEvaluation(
        n=len(delta),
        sign_auroc=full[0], sign_auroc_ci=(float(low[0]), float(high[0])),
        pearson=full[1], pearson_ci=(float(low[1]), float(high[1])),
        spearman=full[2], spearman_ci=(float(low[2]), float(high[2])),
        train_chromosomes=list(model.training.get("train_chromosomes", [])),
        test_chromosomes=test_chroms,
        n_not_served=n_not_served,
    )


def cross_validate(
    inputs: TrainingInputs, train_chroms: list[str], settings: TrainingSettings = TrainingSettings(), n_folds: int = 4
) -> dict:
    """Pooled and per-fold sign auROC of the allelic delta, folds grouped by chromosome within `train_chroms`.

    Fold i holds out train_chroms[i::n_folds]. Scored on the 100-bp contexts: delta = score(alt) - score(ref)
    with alt the high allele when Beta > 0, the same delta the hg38 windows give (the model is strand-symmetric
    and the base the 99-bp window drops is farther than l from the variant).
    """
    train_chroms = list(train_chroms)
    config = GkmConfig(settings.l, settings.k)
    deltas, labels, per_fold = [], [], []
    for i in range(n_folds):
        held = train_chroms[i::n_folds]
        fit = [c for c in train_chroms if c not in held]
        high, low, abs_t = _training_pairs(inputs, fit)
        table = lmer_table(_fit_weights(high, low, abs_t, settings), config)
        test = inputs.dsqtls[inputs.dsqtls["chrom"].isin(held)]
        s_high = table_scores([inputs.high[j] for j in test["id"]], table, config.l)
        s_low = table_scores([inputs.low[j] for j in test["id"]], table, config.l)
        positive = test["beta"].to_numpy() > 0
        delta = np.where(positive, s_high - s_low, s_low - s_high)
        per_fold.append({"held_out": held, "n": len(test), "sign_auroc": _auroc(positive, delta)})
        deltas.append(delta)
        labels.append(positive)
    return {"sign_auroc": _auroc(np.concatenate(labels), np.concatenate(deltas)), "folds": per_fold}
