"""The local model cross-fitted by chromosome parity: every variant is scored by a model that never saw its chromosome.

Two gapped k-mer models are trained on the bundled dsQTL contexts: one on the odd autosomes, one on the even ones.
A variant on an odd autosome is scored by the model trained on the even ones, and the reverse, so every autosomal
variant is held out and the benchmark uses all of them (not only the half a single split would leave).

A chromosome neither model trained on (chrX, chrY, chrM, unplaced contigs) is held out of both: it is scored by
their mean, which (the models being linear in one l-mer table each) is the model whose table is the mean of the
two tables. The same mean scores sequences that come without a chromosome (`score-pairs`' FASTA pairs): no half
of the genome is preferred, and such a pair is held out of both models unless it comes from the bundled dsQTLs'
own contexts, which one of them trained on.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from endobench.lib.io.atomic import atomic_path
from endobench.lib.io.errors import InputError
from endobench.lib.model.gkm import GkmConfig, LocalDnaseModel

FORMAT_VERSION = 2
ODD, EVEN, BOTH = "odd", "even", "both"
FOLD_CHROMOSOMES = {ODD: [f"chr{i}" for i in range(1, 23, 2)], EVEN: [f"chr{i}" for i in range(2, 23, 2)]}
# What each fold's rows are labelled with (the `scored_by` column and the track names).
SCORED_BY = {ODD: "model trained on the odd autosomes", EVEN: "model trained on the even autosomes",
             BOTH: "mean of both models (neither trained on this chromosome)"}
SCHEME = ("chromosomes, cross-fitted: one model trained on the odd autosomes scores the even ones, one trained on the "
          "even autosomes scores the odd ones, and their mean scores chromosomes neither trained on; every variant is "
          "held out")


def scoring_fold(chroms: Sequence[str] | np.ndarray) -> np.ndarray:
    """For each chromosome, the fold whose model never trained on it: `even` for odd autosomes, `odd` for even
    ones, `both` (the mean of the two) for any other chromosome."""
    chroms = np.asarray(chroms, dtype=object)
    fold = np.full(len(chroms), BOTH, dtype=object)
    fold[np.isin(chroms, FOLD_CHROMOSOMES[ODD])] = EVEN
    fold[np.isin(chroms, FOLD_CHROMOSOMES[EVEN])] = ODD
    return fold


class CrossFittedModel:
    """The two fold models, each a `LocalDnaseModel` trained on its fold's chromosomes, sharing geometry and flank."""

    def __init__(self, models: dict[str, LocalDnaseModel]) -> None:
        if set(models) != {ODD, EVEN}:
            raise ValueError(f"a cross-fitted model needs the folds {ODD!r} and {EVEN!r}, got {sorted(models)}")
        geometry = {(m.config, m.flank) for m in models.values()}
        if len(geometry) != 1:
            raise ValueError(f"the fold models differ in gapped k-mer geometry or flank: {sorted(map(str, geometry))}")
        self.models = dict(models)
        odd = models[ODD]
        self.models[BOTH] = LocalDnaseModel((models[ODD].table + models[EVEN].table) / 2, odd.config, odd.flank,
                                            name=odd.name, training={"mean_of": [ODD, EVEN]})
        self.config: GkmConfig = odd.config
        self.flank: int = odd.flank
        self.name: str = odd.name

    @property
    def input_length(self) -> int:
        """Shortest sequence the model scores: the REF window of a SNV."""
        return 2 * self.flank + 1

    def train_chromosomes(self, fold: str) -> list[str]:
        return list(self.models[fold].training.get("train_chromosomes", []))

    def score_pairs(self, refs: list[str], alts: list[str], chroms: Sequence[str] | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
        """REF and ALT scores, each pair by the model that never saw its chromosome (`scoring_fold`); without
        chromosomes (FASTA pairs), by the mean of the two models."""
        folds = scoring_fold(chroms) if chroms is not None else np.full(len(refs), BOTH, dtype=object)
        if len(folds) != len(refs):
            raise ValueError(f"{len(refs):,} pairs but {len(folds):,} chromosomes")
        s_ref, s_alt = np.full(len(refs), np.nan), np.full(len(refs), np.nan)
        for fold in np.unique(folds):
            rows = np.flatnonzero(folds == fold)
            s_ref[rows], s_alt[rows] = self.models[fold].score_pairs([refs[i] for i in rows], [alts[i] for i in rows])
        return s_ref, s_alt

    def _config_json(self) -> str:
        return json.dumps({"format_version": FORMAT_VERSION, "name": self.name, "l": self.config.l,
                           "k": self.config.k, "flank": self.flank,
                           "training": {fold: self.models[fold].training for fold in (ODD, EVEN)}}, sort_keys=True)

    def fingerprint(self) -> str:
        """sha256 of both folds' weights and the configuration: equal fingerprints give equal scores."""
        digest = hashlib.sha256()
        digest.update(self._config_json().encode())
        for fold in (ODD, EVEN):
            digest.update(np.ascontiguousarray(self.models[fold].table, dtype="<f4").tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, **{f"table_{fold}": self.models[fold].table.astype("<f4")
                                           for fold in (ODD, EVEN)}, config=np.array(self._config_json()))
        return path

    @classmethod
    def load(cls, path: Path) -> CrossFittedModel:
        path = Path(path)
        retrain = "Materialize the local_model asset again (or train_cross_fitted) to rewrite it"
        if not path.exists():
            raise InputError(path, "the local model file does not exist", retrain)
        try:
            with np.load(path, allow_pickle=False) as data:
                config = json.loads(str(data["config"]))
                if config.get("format_version") != FORMAT_VERSION:
                    raise InputError(path, f"model format {config.get('format_version')} is not {FORMAT_VERSION} "
                                     "(a single model from before cross-fitting)", retrain)
                geometry = GkmConfig(config["l"], config["k"])
                return cls({fold: LocalDnaseModel(data[f"table_{fold}"], geometry, config["flank"], config["name"],
                                                  config["training"][fold]) for fold in (ODD, EVEN)})
        except InputError:
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
            raise InputError(path, f"the local model file is unreadable or incomplete ({exc})", retrain) from exc
