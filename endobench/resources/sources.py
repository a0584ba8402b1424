"""Where each input comes from, with its genome build: one interface, two implementations.

`SampleDataSources` serves the bundled real sample (offline, the default); `FullDataSources` downloads the real
public files (resumable, checked against their publisher's checksums, atomic). Assets ask a `DataSources` for files
and never learn which profile serves them; the wiring picks one with ENDOBENCH_PROFILE.
"""

from __future__ import annotations

import contextlib
import difflib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import dagster as dg

from endobench.lib.genome.builds import HG18, HG19, HG38, normalize_build
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.io.checksums import PINNED_MD5, ChecksumMismatch, md5_from_listing, verify
from endobench.lib.io.downloads import DownloadError, download, extract_tar_member, gunzip_file
from endobench.lib.io.encode_metadata import PEAKS, EncodeExpectation, check_encode_metadata, md5_from_encode_metadata
from endobench.lib.io.errors import InputError
from endobench.lib.scoring.tracks import CATALOGUE_FILE, Track, TrackCatalogue
from endobench.lib.truth_sets.catalog import (
    ANNOTATIONS,
    DSQTL_DEGNER,
    DSQTL_STRONG,
    GM12878,
    GTEX_EQTL_TISSUES,
    K562_DHS_PEAKS,
    TruthSetSpec,
    finemapped_truth_set,
    gtex_truth_set,
    tissue_key,
)
from endobench.lib.truth_sets.generic import GenericQtlColumns
from endobench.lib.truth_sets.gtex import EFFECTS, EGENES, SIGNIF_PAIRS, SLOPE

SAMPLE = "sample"
FULL = "full"
ALL_TISSUES = "all"  # every GTEx eQTL tissue


@dataclass(frozen=True)
class SourceFile:
    path: Path
    build: str
    verified: str = ""  # how a download was checked against its publisher's checksum (empty for bundled files)


GENERIC = "generic"
FINEMAPPED = "finemapped"


@dataclass(frozen=True)
class QtlTableSource:
    """A QTL truth set beside GTEx, read by header name: a generic caQTL/dsQTL table or a fine-mapped eQTL table."""

    truth_set: str  # the source key the truth-set specs refer to
    path: Path
    build: str | None
    columns: GenericQtlColumns | None
    kind: str = GENERIC
    tissue: str | None = None  # fine-mapped tables: the tissue to keep
    # A published selection of the table's rows by id (the column `selection_id_column` of `selection`).
    selection: Path | None = None
    selection_id_column: str = ""


@dataclass(frozen=True)
class GtexRelease:
    """Where one GTEx release keeps its single-tissue eQTL tables: an archive, and a member per file kind.

    `archive` is relative to `DataSources.gtex_base_url`; member templates take `{tissue}` (e.g. `Whole_Blood`).
    """

    archive: str
    members: dict[str, str]
    build: str


# From the GTEx portal's open-access bucket (gs://adult-gtex, served at storage.googleapis.com/adult-gtex).
# v10 ships its significant pairs as parquet written by tensorQTL (column names mapped by `gtex.TENSORQTL_NAMES`).
GTEX_RELEASES: dict[str, GtexRelease] = {
    "v8": GtexRelease(
        "v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar",
        {
            SIGNIF_PAIRS: "GTEx_Analysis_v8_eQTL/{tissue}.v8.signif_variant_gene_pairs.txt.gz",
            EGENES: "GTEx_Analysis_v8_eQTL/{tissue}.v8.egenes.txt.gz",
        },
        HG38,
    ),
    "v10": GtexRelease(
        "v10/single-tissue-cis-qtl/GTEx_Analysis_v10_eQTL.tar",
        {
            SIGNIF_PAIRS: "GTEx_Analysis_v10_eQTL_updated/{tissue}.v10.eQTLs.signif_pairs.parquet",
            EGENES: "GTEx_Analysis_v10_eQTL_updated/{tissue}.v10.eGenes.txt.gz",
        },
        HG38,
    ),
}

# UCSC liftOver chains, relative to `DataSources.ucsc_base_url` (hgdownload goldenPath).
UCSC_CHAINS: dict[tuple[str, str], str] = {
    (HG19, HG38): "hg19/liftOver/hg19ToHg38.over.chain.gz",
    (HG18, HG38): "hg18/liftOver/hg18ToHg38.over.chain.gz",
    (HG18, HG19): "hg18/liftOver/hg18ToHg19.over.chain.gz",
}
UCSC_HG38_FASTA = "hg38/bigZips/hg38.fa.gz"
# K562 DNase peaks on GRCh38 from ENCODE: experiment ENCSR000EOT (the experiment whose alignments ENCFF860XAE
# the sample's chr22 peaks were called from), narrowPeak file ENCFF185XRG, as the ENCODE-rE2G pipeline uses it.
# The default: native GRCh38 coordinates, nothing lost to liftover.
ENCODE_HG38_K562_DNASE = "ENCFF185XRG"
# The K562 DNase peaks the seed used: UCSC/ENCODE "Open Chromatin" (Duke) calls, on hg19, lifted to hg38 here.
UCSC_HG19_K562_DNASE = "hg19/encodeDCC/wgEncodeOpenChromDnase/wgEncodeOpenChromDnaseK562PkV2.narrowPeak.gz"
# ENCODE unified GRCh38 exclusion list (the file `abc_GRCh38_unified_blacklist.bed.gz` of the sample is a copy).
ENCODE_HG38_BLACKLIST = "ENCFF356LFX"


DEGNER_COLUMNS = GenericQtlColumns(
    chrom="chr_hg38", pos="pos_hg38", ref="Ref", alt="Alt", effect="Beta", se="Std. Error", p="Pr(>|t|)",
    variant_id="ID", strand="strand_hg38", build=None,
)


class DataSources(dg.ConfigurableResource):
    """The inputs of a run, each with its genome build, and the truth sets made of them.

    The settings here are shared by both profiles: which GTEx tissues and annotations make the truth sets, an
    optional fine-mapped table, and an optional own reference. The files come from an implementation.
    """

    sample_dir: str = "data/sample"
    # GTEx tissues as the archive names them (or "all": every GTEx eQTL tissue); each becomes a truth set under
    # every annotation below, measured in the tissue's biosample and scored on its own AlphaGenome track.
    gtex_tissues: list[str] = ["Whole_Blood", "Cells_EBV-transformed_lymphocytes"]
    # The GTEx effect the eQTL truth sets are measured in: `slope` (normalised expression per ALT allele) or
    # `log2_aFC` (log2 allelic fold change, eGenes tables only: the scale of a log-fold-change scorer).
    gtex_effect: str = SLOPE
    # Accessibility annotations eQTLs must fall in: K562 DNase peaks, LCL DNase-sensitive sites (dsQTL positions).
    annotations: list[str] = [K562_DHS_PEAKS.key, "lcl_dsqtl_sites"]
    # A fine-mapped eQTL table (SuSiE layout: variant_id, gene_id, tissue, pip, beta_posterior) as another truth set.
    finemapped_eqtls: str = ""
    finemapped_tissue: str = "Whole_Blood"
    # Your own reference instead of the profile's: an indexed FASTA (plain or bgzip) and the build it is on.
    reference_fasta: str = ""
    reference_build: str = HG38

    def _sample(self, name: str) -> Path:
        return Path(self.sample_dir) / name

    def truth_sets(self) -> list[TruthSetSpec]:
        """Every truth set of a run: each GTEx tissue under each annotation, the dsQTLs (all, and the field's strong
        ones), a fine-mapped table if set."""
        unknown = [a for a in self.annotations if a not in ANNOTATIONS]
        if unknown:
            raise dg.Failure(f"unknown annotation(s) {unknown}: use any of {sorted(ANNOTATIONS)}", allow_retries=False)
        annotations = [ANNOTATIONS[a] for a in self.annotations]
        if self.gtex_effect not in EFFECTS:
            raise dg.Failure(f"unknown GTEx effect {self.gtex_effect!r}: use one of {list(EFFECTS)}", allow_retries=False)
        tracks = self.gtex_tracks()
        specs = [gtex_truth_set(t, tracks[t].ontology_curie, a, self.gtex_effect)
                 for t in self.configured_tissues() for a in annotations]
        specs += [DSQTL_DEGNER, DSQTL_STRONG]
        if self.finemapped_eqtls:
            tissue = self._known_tissues([self.finemapped_tissue], "finemapped_tissue")[0]
            specs += [finemapped_truth_set(tissue, tracks[tissue].ontology_curie, a) for a in annotations]
        return specs

    def gtex_tracks(self) -> dict[str, Track]:
        """Each GTEx tissue with its AlphaGenome expression track (and so its biosample CURIE), from the track
        catalogue bundled in the sample, so that truth sets are built offline from AlphaGenome's own mapping."""
        return TrackCatalogue.from_file(self._sample(CATALOGUE_FILE)).gtex_tracks()

    def configured_tissues(self) -> list[str]:
        """The GTEx tissues of a run, `all` spelled out; a name that is not a GTEx eQTL tissue with an AlphaGenome
        track is refused here, before anything is downloaded, with the closest names."""
        if [t.lower() for t in self.gtex_tissues] == [ALL_TISSUES]:
            return [t for t in GTEX_EQTL_TISSUES if t in self.gtex_tracks()]
        return self._known_tissues(self.gtex_tissues, "gtex_tissues (ENDOBENCH_GTEX_TISSUES)")

    def _known_tissues(self, tissues: list[str], setting: str) -> list[str]:
        tracks = self.gtex_tracks()
        known = [t for t in GTEX_EQTL_TISSUES if t in tracks]
        problems = []
        for tissue in tissues:
            if tissue in known:
                continue
            if tissue in tracks:
                problems.append(f"{tissue!r} has an AlphaGenome track but no GTEx eQTL table (fewer than 70 samples)")
            else:
                close = difflib.get_close_matches(tissue, known, n=3, cutoff=0.4)
                problems.append(f"{tissue!r} is not a GTEx eQTL tissue" +
                                (f" (closest: {', '.join(close)})" if close else ""))
        if problems:
            raise dg.Failure(f"{setting}: {'; '.join(problems)}. Use GTEx tissue names as the eQTL archive spells "
                             f"them ({len(known)} tissues, e.g. Whole_Blood, Liver, Brain_Cortex), or '{ALL_TISSUES}'",
                             allow_retries=False)
        return list(dict.fromkeys(tissues))

    def gtex_sources(self) -> list[tuple[str, str]]:
        """(truth-set source key, GTEx tissue) of each configured tissue."""
        return [(tissue_key(t), t) for t in self.configured_tissues()]

    def fold_regions(self) -> Path:
        """AlphaGenome's fold regions (the file the SDK downloads at run time), bundled so nothing is fetched."""
        return self._sample("borzoi_sequences_human.hg38.bed.gz")

    def expressed_genes(self) -> dict[str, Path]:
        """Per biosample CURIE, a GTEx v8 eGenes table whose genes count as expressed there (every gene GTEx tested
        in the tissue: above 0.1 TPM and 6 reads in at least 20% of its samples). Bundled, so both profiles use
        them; GM12878 is an LCL, as GTEx's EBV-transformed lymphocytes are. K562 has none."""
        lcl = self._sample("gtex_v8_Cells_EBV-transformed_lymphocytes.v8.egenes.txt.gz")
        tracks = self.gtex_tracks()
        return {tracks["Whole_Blood"].ontology_curie: self._sample("gtex_v8_Whole_Blood.v8.egenes.txt.gz"),
                tracks["Cells_EBV-transformed_lymphocytes"].ontology_curie: lcl, GM12878.curie: lcl}

    def qtl_tables(self) -> list[QtlTableSource]:
        # The bundled Degner table is the complete published set (5,671 dsQTLs), lifted to hg38: both profiles use it.
        degner = self._sample("maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz")
        tables = [QtlTableSource(DSQTL_DEGNER.source, degner, HG38, DEGNER_COLUMNS),
                  # The field's strong dsQTLs: the deltaSVM paper's 574, by their Degner ids (bundled, both profiles).
                  QtlTableSource(DSQTL_STRONG.source, degner, HG38, DEGNER_COLUMNS,
                                 selection=self._sample("lee2015_dsqtl_positives.hg18.tsv.gz"),
                                 selection_id_column="degner_id")]
        if self.finemapped_eqtls:
            tables.append(QtlTableSource(
                f"finemapped_{self.finemapped_tissue.lower()}", Path(self.finemapped_eqtls), None, None,
                kind=FINEMAPPED, tissue=self.finemapped_tissue,
            ))
        return tables

    def reference_file(self) -> SourceFile:
        """Where the reference is (or will be, once `fetched_reference()` has fetched it) and its build; no download."""
        if self.reference_fasta:
            return SourceFile(Path(self.reference_fasta), normalize_build(self.reference_build))
        return self._profile_reference()

    def fetched_reference(self) -> SourceFile:
        """`reference_file()`, fetched first when the profile has not done so yet."""
        return self.reference_file()

    def reference_genome(self) -> ReferenceGenome:
        """The reference, fetched first if need be, opened with the one reference reader (what the windows, the
        motif scan, the predictions and `score-variants` read); a damaged file is an `InputError` naming it."""
        source = self.fetched_reference()
        return ReferenceGenome(source.path, source.build)

    def _profile_reference(self) -> SourceFile:
        raise NotImplementedError

    def gtex_eqtls(self, release: str, tissue: str) -> SourceFile:
        """The eQTL table of one GTEx tissue in one release."""
        raise NotImplementedError

    def peaks(self) -> SourceFile:
        """K562 DNase peaks (narrowPeak)."""
        raise NotImplementedError

    def blacklist(self) -> SourceFile:
        """The ENCODE exclusion list of the peaks' build."""
        raise NotImplementedError

    def chain(self, from_build: str, to_build: str) -> Path | None:
        """A UCSC liftOver chain between two builds, or None when the profile has none."""
        raise NotImplementedError


class SampleDataSources(DataSources):
    """The bundled real sample (`data/sample/`, provenance in its SOURCES.md): offline, the default."""

    def gtex_sources(self) -> list[tuple[str, str]]:
        """As every profile's, and a tissue the sample does not bundle is refused here, before any work."""
        sources = super().gtex_sources()
        self._refuse_unbundled([t for _, t in sources if not self._egenes(t).exists()])
        return sources

    def _egenes(self, tissue: str) -> Path:
        return self._sample(f"gtex_v8_{tissue}.v8.egenes.txt.gz")

    def _refuse_unbundled(self, tissues: list[str]) -> None:
        if tissues:
            bundled = sorted(p.name.split(".")[0].removeprefix("gtex_v8_") for p in
                             Path(self.sample_dir).glob("gtex_v8_*.v8.egenes.txt.gz"))
            raise dg.Failure(f"the sample profile bundles the GTEx v8 eGenes of {', '.join(bundled)} only, not "
                             f"{', '.join(tissues)}; use the full profile (ENDOBENCH_PROFILE=full), which downloads "
                             "each configured tissue's table, or set ENDOBENCH_GTEX_TISSUES to bundled ones",
                             allow_retries=False)

    def gtex_eqtls(self, release: str, tissue: str) -> SourceFile:
        if release != "v8":
            raise dg.Failure(f"the sample profile bundles GTEx release v8 only, not {release!r}; use the full profile "
                             "(ENDOBENCH_PROFILE=full) for other releases", allow_retries=False)
        self._refuse_unbundled([] if self._egenes(tissue).exists() else [tissue])
        return SourceFile(self._egenes(tissue), HG38)

    def peaks(self) -> SourceFile:
        return SourceFile(self._sample("abc_K562_DNase_ENCFF860XAE_chr22_macs2_peaks.hg38.narrowPeak.gz"), HG38)

    def blacklist(self) -> SourceFile:
        return SourceFile(self._sample("abc_GRCh38_unified_blacklist.bed.gz"), HG38)

    def _profile_reference(self) -> SourceFile:
        return SourceFile(self._sample("hg38_sample_segments.fa"), HG38)

    def chain(self, from_build: str, to_build: str) -> Path | None:
        names = {(HG19, HG38): "ucsc_hg19ToHg38.over.chain.gz", (HG18, HG38): "ucsc_hg18ToHg38.over.chain.gz",
                 (HG18, HG19): "ucsc_hg18ToHg19.over.chain.gz"}
        name = names.get((from_build, to_build))
        return self._sample(name) if name else None


class FullDataSources(DataSources):
    """The real public files, downloaded on first use into `download_dir` and reused afterwards.

    Every download is resumable and atomic, and checked against its publisher's checksum where the publisher
    gives one (UCSC's md5sum.txt, ENCODE's file metadata; GTEx publishes none, so its MD5 is only recorded). Base
    URLs are settings so that tests can point them at a loopback server.
    """

    download_dir: str = "data/full"
    gtex_file_kind: str = SIGNIF_PAIRS
    gtex_base_url: str = "https://storage.googleapis.com/adult-gtex/bulk-qtl"
    keep_gtex_archive: bool = True
    ucsc_base_url: str = "https://hgdownload.soe.ucsc.edu/goldenPath"
    encode_base_url: str = "https://www.encodeproject.org/files"
    # K562 DNase peaks: an ENCODE GRCh38 narrowPeak accession (default), or "" for the seed's UCSC hg19 file.
    peaks_encode_accession: str = ENCODE_HG38_K562_DNASE
    blacklist_encode_accession: str = ENCODE_HG38_BLACKLIST
    download_retries: int = 5
    download_read_timeout_s: float = 120.0
    # Checksums known in advance, by the file's path at its publisher; a download must match them too.
    pinned_md5: dict[str, str] = PINNED_MD5

    def _download(self, url: str, relative: str) -> Path:
        try:
            return download(url, Path(self.download_dir) / relative, retries=self.download_retries,
                            timeout=(10.0, self.download_read_timeout_s))
        except DownloadError as exc:
            raise dg.Failure(str(exc), allow_retries=exc.retryable) from exc

    def _fetch(self, url: str, relative: str, key: str, published=None) -> SourceFile:
        """Download `url` to `relative` under download_dir; a new download is checked (`published()` gives the
        publisher's MD5, or None when it gives none) before anyone reads it. `key` names the file in the ledger."""
        fresh = not (Path(self.download_dir) / relative).exists()
        path = self._download(url, relative)
        if not fresh:
            return SourceFile(path, "")
        try:
            how = verify(path, key, published() if published is not None else None, Path(self.download_dir),
                         pinned=self.pinned_md5.get(key))
        except ChecksumMismatch as exc:
            path.unlink(missing_ok=True)
            raise dg.Failure(str(exc), allow_retries=True) from exc
        return SourceFile(path, "", how)

    def _ucsc_url(self, relative: str) -> str:
        return f"{self.ucsc_base_url.rstrip('/')}/{relative}"

    def _encode_metadata_url(self, accession: str) -> str:
        return f"{self.encode_base_url.rstrip('/')}/{accession}/?format=json"

    def _gtex_archive_url(self, spec: GtexRelease) -> str:
        return f"{self.gtex_base_url.rstrip('/')}/{spec.archive}"

    def pending_downloads(self, release: str) -> list[str]:
        """The first URL of each input of `release` not yet on disk, in the order a run fetches them (peaks,
        exclusion list, GTEx, reference): what the `full` profile still has to reach."""
        pending = []
        for accession in filter(None, (self.peaks_encode_accession, self.blacklist_encode_accession)):
            if not (Path(self.download_dir) / "encode" / f"{accession}.bed.gz").exists():
                pending.append(self._encode_metadata_url(accession))
        if not self.peaks_encode_accession and not (Path(self.download_dir) / "ucsc" /
                                                    PurePosixPath(UCSC_HG19_K562_DNASE).name).exists():
            pending.append(self._ucsc_url(UCSC_HG19_K562_DNASE))
        spec = GTEX_RELEASES.get(release)
        member = spec.members.get(self.gtex_file_kind) if spec is not None else None
        if member is not None and not all(
                (Path(self.download_dir) / "gtex" / release / PurePosixPath(member.format(tissue=t)).name).exists()
                for t in self.configured_tissues()):
            pending.append(self._gtex_archive_url(spec))
        if not self.reference_fasta and not self.reference_file().path.exists():
            pending.append(self._ucsc_url(UCSC_HG38_FASTA))
        return pending

    def _ucsc(self, relative: str, dest: str) -> SourceFile:
        """A UCSC goldenPath file, checked against the md5sum.txt of its folder."""
        base = self.ucsc_base_url.rstrip("/")
        folder, name = str(PurePosixPath(relative).parent), PurePosixPath(relative).name

        def published() -> str | None:
            try:
                listing = self._download(f"{base}/{folder}/md5sum.txt", f"ucsc/checksums/{folder}/md5sum.txt")
            except dg.Failure:
                return None  # this folder publishes no md5sum.txt
            with bad_listing_fails():
                return md5_from_listing(listing, name)

        return self._fetch(self._ucsc_url(relative), dest, relative, published)

    def _encode(self, accession: str, expected: EncodeExpectation) -> SourceFile:
        """An ENCODE file by accession: its metadata checked against `expected` before anything else (a wrong
        accession or a revoked file fails naming both values, and the file is not downloaded), then the file,
        checked against the metadata's md5sum."""
        base = self.encode_base_url.rstrip("/")
        path = self._download(self._encode_metadata_url(accession), f"encode/{accession}.json")
        with bad_listing_fails():
            metadata = check_encode_metadata(path, accession, expected)
        return self._fetch(f"{base}/{accession}/@@download/{accession}.bed.gz", f"encode/{accession}.bed.gz",
                           f"{accession}.bed.gz", lambda: md5_from_encode_metadata(metadata))

    def gtex_eqtls(self, release: str, tissue: str) -> SourceFile:
        spec = GTEX_RELEASES.get(release)
        if spec is None:
            raise dg.Failure(
                f"GTEx release {release!r} has no archive layout in GTEX_RELEASES (known: {sorted(GTEX_RELEASES)}); "
                "add its archive path and member templates there", allow_retries=False)
        template = spec.members.get(self.gtex_file_kind)
        if template is None:
            raise dg.Failure(
                f"GTEx {release} has no {self.gtex_file_kind!r} table endobench can read (it has "
                f"{sorted(spec.members)}); set gtex_file_kind to one of those", allow_retries=False)
        member = template.format(tissue=tissue)
        dest = Path(self.download_dir) / "gtex" / release / PurePosixPath(member).name
        if dest.exists():
            return SourceFile(dest, spec.build)
        archive: Path | str = self._gtex_archive_url(spec)
        if self.keep_gtex_archive:
            archive = self._fetch(str(archive), f"gtex/{release}/{PurePosixPath(spec.archive).name}",
                                  f"gtex/{spec.archive}").path
        try:
            extract_tar_member(archive, member, dest, retries=self.download_retries,
                               timeout=(10.0, self.download_read_timeout_s))
        except DownloadError as exc:
            raise dg.Failure(str(exc), allow_retries=exc.retryable) from exc
        return SourceFile(dest, spec.build)

    def peaks(self) -> SourceFile:
        if self.peaks_encode_accession:
            biosample = K562_DHS_PEAKS.biosample
            fetched = self._encode(self.peaks_encode_accession, EncodeExpectation(
                HG38, assay="DNase-seq", biosample_id=biosample.curie, biosample_name=biosample.name,
                output_type=PEAKS))
            return SourceFile(fetched.path, HG38, fetched.verified)
        fetched = self._ucsc(UCSC_HG19_K562_DNASE, f"ucsc/{PurePosixPath(UCSC_HG19_K562_DNASE).name}")
        return SourceFile(fetched.path, HG19, fetched.verified)

    def blacklist(self) -> SourceFile:
        # A reference file: no assay or biosample, but it must be on the peaks' build and still released.
        fetched = self._encode(self.blacklist_encode_accession, EncodeExpectation(HG38))
        return SourceFile(fetched.path, HG38, fetched.verified)

    def _profile_reference(self) -> SourceFile:
        return SourceFile(Path(self.download_dir) / "ucsc" / "hg38.fa", HG38)

    def fetched_reference(self) -> SourceFile:
        location = self.reference_file()
        if not self.reference_fasta and not location.path.exists():
            gz = self._ucsc(UCSC_HG38_FASTA, "ucsc/hg38.fa.gz").path
            try:
                gunzip_file(gz, location.path)
            except DownloadError as exc:
                gz.unlink(missing_ok=True)
                raise dg.Failure(str(exc), allow_retries=True) from exc
        return location

    def chain(self, from_build: str, to_build: str) -> Path | None:
        relative = UCSC_CHAINS.get((from_build, to_build))
        if relative is None:
            return None
        return self._ucsc(relative, f"ucsc/{PurePosixPath(relative).name}").path


@contextlib.contextmanager
def bad_listing_fails():
    """A publisher's checksum listing that cannot be read stops the run with its message (not retried)."""
    try:
        yield
    except InputError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc


def data_sources(profile: str, **settings) -> DataSources:
    """The implementation of a profile name (`sample` or `full`); anything else is refused naming ENDOBENCH_PROFILE."""
    kinds = {SAMPLE: SampleDataSources, FULL: FullDataSources}
    if profile not in kinds:
        raise ValueError(f"unknown data profile {profile!r}: set ENDOBENCH_PROFILE to {SAMPLE!r} or {FULL!r}")
    return kinds[profile](**settings)
