"""Genome builds and chromosome names: every table carries its build, and names are normalised to `chr1`..`chrM`."""

from __future__ import annotations

import numpy as np
import pandas as pd

HG38 = "hg38"
HG19 = "hg19"
HG18 = "hg18"

_BUILD_ALIASES = {
    "hg38": HG38, "grch38": HG38, "b38": HG38, "grch38.p13": HG38, "grch38.p14": HG38,
    "hg19": HG19, "grch37": HG19, "b37": HG19,
    "hg18": HG18, "ncbi36": HG18, "b36": HG18,
}

# Sequence lengths from the tSize/qSize fields of the UCSC hg19ToHg38 chain headers (data/sample), primary assembly.
CHROM_SIZES: dict[str, dict[str, int]] = {
    HG38: {
        "chr1": 248956422, "chr2": 242193529, "chr3": 198295559, "chr4": 190214555, "chr5": 181538259,
        "chr6": 170805979, "chr7": 159345973, "chr8": 145138636, "chr9": 138394717, "chr10": 133797422,
        "chr11": 135086622, "chr12": 133275309, "chr13": 114364328, "chr14": 107043718, "chr15": 101991189,
        "chr16": 90338345, "chr17": 83257441, "chr18": 80373285, "chr19": 58617616, "chr20": 64444167,
        "chr21": 46709983, "chr22": 50818468, "chrX": 156040895, "chrY": 57227415, "chrM": 16569,
    },
    HG19: {
        "chr1": 249250621, "chr2": 243199373, "chr3": 198022430, "chr4": 191154276, "chr5": 180915260,
        "chr6": 171115067, "chr7": 159138663, "chr8": 146364022, "chr9": 141213431, "chr10": 135534747,
        "chr11": 135006516, "chr12": 133851895, "chr13": 115169878, "chr14": 107349540, "chr15": 102531392,
        "chr16": 90354753, "chr17": 81195210, "chr18": 78077248, "chr19": 59128983, "chr20": 63025520,
        "chr21": 48129895, "chr22": 51304566, "chrX": 155270560, "chrY": 59373566, "chrM": 16571,
    },
}

# The chromosomes predictions are partitioned by (chrY and chrM carry no GTEx v8 cis-eQTLs of use here).
PARTITION_CHROMOSOMES: tuple[str, ...] = tuple(f"chr{i}" for i in range(1, 23)) + ("chrX",)


def normalize_build(build: str) -> str:
    """Map `GRCh38`, `b38`, `hg38`... to one spelling; raise on anything unknown."""
    key = str(build).strip().lower()
    if key not in _BUILD_ALIASES:
        raise ValueError(
            f"unknown genome build {build!r}: use one of hg38/GRCh38, hg19/GRCh37 or hg18/NCBI36"
        )
    return _BUILD_ALIASES[key]


def normalize_chrom(names: pd.Series) -> pd.Series:
    """`1` -> `chr1`, `MT`/`M`/`chrMT` -> `chrM`, `x` -> `chrX`; vectorised."""
    text = names.astype("string").str.strip()
    bare = text.str.replace(r"^chr", "", regex=True, case=False)
    upper = bare.str.upper()
    bare = bare.where(~upper.isin(["X", "Y"]), upper)
    bare = bare.where(~upper.isin(["M", "MT"]), "M")
    return ("chr" + bare).astype(object)


def known_chromosome(chrom: pd.Series, build: str) -> np.ndarray:
    return chrom.isin(list(CHROM_SIZES[build])).to_numpy()


def chrom_length(chrom: pd.Series, build: str) -> np.ndarray:
    """Length of each chromosome, 0 where the chromosome is not part of the primary assembly."""
    return chrom.map(CHROM_SIZES[build]).fillna(0).astype("int64").to_numpy()


def input_builds(truth_sets: pd.DataFrame, annotations: dict[str, str], reference_build: str) -> dict[str, str]:
    """The build of every input by name (`truth_set:<name>`, `annotation:<key>`, `reference`); a truth set whose
    rows name several builds shows them all. The one place inputs are compared: equal values or a mismatch."""
    builds = {f"truth_set:{t}": b for t, b in
              truth_sets.groupby("truth_set")["build"].agg(lambda s: ",".join(sorted(set(s)))).items()}
    builds.update({f"annotation:{key}": build for key, build in annotations.items()})
    builds["reference"] = reference_build
    return builds


def build_mismatches(builds: dict[str, str]) -> list[str]:
    """The inputs whose build is not the reference's (empty when all agree), as `name (build)`."""
    reference = builds["reference"]
    return [f"{name} ({build})" for name, build in builds.items() if build != reference]
