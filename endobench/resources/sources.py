"""Where each input comes from, with its genome build: the bundled `sample` profile, or the real `full` downloads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from endobench.lib.builds import HG18, HG19, HG38
from endobench.lib.qtl import GenericQtlColumns

SAMPLE = "sample"
FULL = "full"


@dataclass(frozen=True)
class SourceFile:
    path: Path
    build: str


@dataclass(frozen=True)
class QtlTableSource:
    """A generic QTL truth set (caQTL/dsQTL): read by header name, scored against an accessibility readout."""

    truth_set: str
    path: Path
    build: str
    columns: GenericQtlColumns
    require_peak: bool  # dsQTLs are DNase sites by construction; eQTLs must fall in a peak of the readout cell type


DEGNER_COLUMNS = GenericQtlColumns(
    chrom="chr_hg38", pos="pos_hg38", ref="Ref", alt="Alt", effect="Beta", se="Std. Error", p="Pr(>|t|)",
    variant_id="ID", strand="strand_hg38", build=None,
)


class DataSources(dg.ConfigurableResource):
    """The inputs of one profile. `sample` is the offline default; `full` downloads the real public files."""

    profile: str = SAMPLE
    sample_dir: str = "data/sample"
    download_dir: str = "data/full"
    gtex_tissue: str = "Whole_Blood"
    gtex_truth_set: str = "gtex_wb"

    def _sample(self, name: str) -> Path:
        return Path(self.sample_dir) / name

    def gtex_eqtls(self, release: str) -> SourceFile:
        if self.profile == SAMPLE:
            if release != "v8":
                raise dg.Failure(
                    f"the sample profile bundles GTEx release v8 only, not {release!r}; "
                    "use the full profile (ENDOBENCH_PROFILE=full) for other releases",
                    allow_retries=False,
                )
            return SourceFile(self._sample(f"gtex_v8_{self.gtex_tissue}.v8.egenes.txt.gz"), HG38)
        raise dg.Failure(f"profile {self.profile!r} has no GTEx source", allow_retries=False)

    def peaks(self) -> SourceFile:
        return SourceFile(self._sample("abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz"), HG38)

    def blacklist(self) -> SourceFile:
        return SourceFile(self._sample("abc_GRCh38_unified_blacklist.bed.gz"), HG38)

    def reference(self) -> SourceFile:
        return SourceFile(self._sample("hg38_sample_segments.fa"), HG38)

    def qtl_tables(self) -> list[QtlTableSource]:
        return [
            QtlTableSource(
                "dsqtl_degner2012", self._sample("maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz"), HG38,
                DEGNER_COLUMNS, require_peak=False,
            )
        ]

    def chain(self, from_build: str, to_build: str) -> Path | None:
        names = {(HG19, HG38): "ucsc_hg19ToHg38.over.chain.gz", (HG18, HG38): "ucsc_hg18ToHg38.over.chain.gz",
                 (HG18, HG19): "ucsc_hg18ToHg19.over.chain.gz"}
        name = names.get((from_build, to_build))
        return self._sample(name) if name else None
