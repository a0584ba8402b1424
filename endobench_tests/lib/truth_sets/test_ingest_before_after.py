"""The Arrow ingest of issue 17 keeps, excludes, annotates and windows exactly the rows the code before it did.

`fixtures/ingest/before.json` holds what main computed before the change (commit 29816b7), recorded with this
module as it was in commit 16e5d9a (frames, as the code then took them):

    .venv/bin/python -m endobench_tests.lib.truth_sets.test_ingest_before_after record

on two inputs, through the library calls the assets make (now with the tables handed over as the assets hand
them over: `Storage` parquet files read back by `load_sources`):
- the bundled sample: both GTEx tissues (egenes), the Degner dsQTLs, the K562 peaks minus the blacklist, the LCL
  dsQTL sites, every truth set the sample profile makes, and 2,048-bp windows on the sample reference;
- a table made by `bench/ingest.py`'s generator (20,000 pairs on chr21, 2,000 peaks, its genome) with a line
  for every exclusion reason appended, read by the Arrow reader and, with a blank line inside, by the text reader.
For each: rows read, exclusions by reason and a digest of the kept rows (values and dtypes, in order); each truth
set's funnel and rows; every window with its checks. `bench/ingest.py`'s 2.4 M rows gave the same counts and
digests before and after too (recorded by hand: the run takes a minute).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

from endobench_tests.paths import FIXTURES, REPO, SAMPLE_DIR

BEFORE = FIXTURES / "ingest" / "before.json"
WINDOW = 2_048
# One line per exclusion reason of `validated_qtl_table`, after the generated rows (gene ENSG00000000001.5 is generated).
FAULTS = [
    "chr21_5000000_A_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\tnan\t0.1\t1e-4\t1e-8\t1e-7",       # invalid_effect
    "chr21_5000001_A_<DEL>_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",   # symbolic_allele
    "chr21_5000002_A_C,T_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",     # multiallelic
    "chr21_5000003_R_A_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",       # ambiguous
    "chr21_5000004_A_X_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",       # invalid_allele
    "chr21_5000005_G_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",       # ref_equals_alt
    "chrUn_KI270742v1_100_A_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",  # unknown
    "chrNA_100_A_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",           # unplaced
    "chr21_0_A_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",             # position 0
    "chr21_46709983_AC_A_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",     # off the end
    "21_5000006_a_g_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",          # kept: chr, ACGT
    "chrY_5000007_A_G_b38\tENSG00000000001.5\t1\t5\t5\t0.1\t1e-8\t0.2\t0.1\t1e-4\t1e-8\t1e-7",        # not predicted
]


def digest(frame: pd.DataFrame) -> str:
    """Values (floats to 17 digits) and dtypes of every row, in order."""
    text = frame.reset_index(drop=True).to_csv(index=False, float_format="%.17g", na_rep="NA")
    return hashlib.sha256((str(list(frame.dtypes.astype(str))) + text).encode()).hexdigest()[:20]


def canonical(value):
    """JSON-safe and comparable: NaN as a string, numpy numbers as Python numbers, keys sorted by json."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def reader_outcome(parsed) -> dict:
    return {"rows_read": parsed.rows_read, "excluded": dict(sorted(parsed.excluded.items())),
            "kept": len(parsed.frame), "digest": digest(parsed.frame)}


def pipeline_outcome(gtex: dict, qtl: dict, specs, annotations: dict, reference_path: Path, outputs: Path) -> dict:
    """What `dhs_filtered_variants` and `sequence_windows` compute from the parsed source tables, handed over as
    the source assets hand them over (`Storage` parquet files, read back by `load_sources`)."""
    import pyarrow as pa

    from endobench.defs.assets.variants import load_sources
    from endobench.lib.genome.reference import ReferenceGenome
    from endobench.lib.truth_sets.annotate import annotate_truth_sets
    from endobench.lib.truth_sets.catalog import K562_DHS_PEAKS
    from endobench.lib.truth_sets.schema import QTL_SCHEMA, drop_unpredicted_chromosomes
    from endobench.lib.truth_sets.windowing import window_statistics, window_truth_sets
    from endobench.resources.storage import Storage

    storage = Storage(root=str(outputs))
    for asset, partition, parsed in (("raw_gtex_eqtls", "v8", gtex), ("raw_qtl_tables", None, qtl)):
        table = pa.concat_tables([p.table for p in parsed.values()]) if parsed else QTL_SCHEMA.empty_table()
        storage.write_table(table, asset, partition)
    table, _ = load_sources(storage, "v8")
    stats = {key: {"excluded": {}} for key in [*gtex, *qtl]}
    table = drop_unpredicted_chromosomes(table, stats)
    annotated = annotate_truth_sets(table, specs, annotations, default_annotation=K562_DHS_PEAKS.key)
    windows = window_truth_sets(annotated.frame, ReferenceGenome(reference_path, "hg38"), window_length=WINDOW,
                                needs_sequence=True)
    return {"unpredicted": stats, "funnel": annotated.funnel, "annotated": len(annotated.frame),
            "annotated_digest": digest(annotated.frame), "windows": len(windows), "windows_digest": digest(windows),
            "window_statistics": window_statistics(windows)}


def sample_outcome(outputs: Path) -> dict:
    from endobench.lib.genome.peaks import filter_peaks, read_peaks
    from endobench.lib.truth_sets.annotate import sites_as_peaks
    from endobench.lib.truth_sets.catalog import DSQTL_DEGNER, DSQTL_STRONG, K562_DHS_PEAKS, LCL_DSQTL_SITES
    from endobench.lib.truth_sets.generic import read_generic_qtls
    from endobench.lib.truth_sets.gtex import read_gtex_eqtls
    from endobench.resources.sources import SampleDataSources

    sources = SampleDataSources(sample_dir=str(SAMPLE_DIR))
    gtex = {key: read_gtex_eqtls(sources.gtex_eqtls("v8", tissue).path, truth_set=key)
            for key, tissue in sources.gtex_sources()}
    # The truth sets of the recording (the strong dsQTLs came later, as a selection of the same table's rows).
    qtl = {table.truth_set: read_generic_qtls(table.path, truth_set=table.truth_set, build=table.build,
                                              columns=table.columns) for table in sources.qtl_tables()
           if table.selection is None}
    specs = [spec for spec in sources.truth_sets() if spec.name != DSQTL_STRONG.name]
    peaks = filter_peaks(read_peaks(sources.peaks().path, "hg38"), max_width=5_000, min_qvalue=2.0,
                         blacklist=read_peaks(sources.blacklist().path, "hg38"))
    dsqtls = qtl[DSQTL_DEGNER.source].frame
    annotations = {K562_DHS_PEAKS.key: peaks, LCL_DSQTL_SITES.key: sites_as_peaks(dsqtls, "hg38")}
    return {"reader": {key: reader_outcome(parsed) for key, parsed in {**gtex, **qtl}.items()},
            **pipeline_outcome(gtex, qtl, specs, annotations, sources.reference_file().path, outputs)}


def generated_inputs(workdir: Path) -> dict[str, Path]:
    """The generator's files plus the fault lines (a second gzip member), and the same with a blank line inside."""
    sys.path.insert(0, str(REPO))
    from bench.ingest import generate

    generate(workdir, rows=20_000, peaks=2_000, chroms=["chr21"])
    table = workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz"
    lines = gzip.decompress(table.read_bytes()).decode().splitlines(keepends=True)
    faulty = workdir / "faulty.txt.gz"
    conflicting = lines[7].split("\t")
    conflicting[7] = str(float(conflicting[7]) + 0.5)  # slope
    body = "\n".join(FAULTS) + "\n" + lines[5] + "\t".join(conflicting)  # a duplicate_row, a conflicting_duplicate
    faulty.write_bytes(table.read_bytes() + gzip.compress(body.encode()))
    blank = workdir / "faulty_blank_line.txt.gz"
    blank.write_bytes(gzip.compress("".join(lines[:100] + ["\n"] + lines[100:]).encode() + body.encode()))
    return {"fast": faulty, "text": blank, "peaks": workdir / "K562.narrowPeak.gz", "genome": workdir / "genome.fa"}


def generated_outcome(workdir: Path) -> dict:
    from endobench.lib.genome.peaks import filter_peaks, read_peaks
    from endobench.lib.truth_sets.catalog import K562_DHS_PEAKS, gtex_truth_set
    from endobench.lib.truth_sets.gtex import read_gtex_eqtls

    files = generated_inputs(workdir)
    fast = read_gtex_eqtls(files["fast"], truth_set="gtex_wb")
    text = read_gtex_eqtls(files["text"], truth_set="gtex_wb")
    peaks = filter_peaks(read_peaks(files["peaks"], "hg38"), max_width=5_000, min_qvalue=2.0,
                         blacklist=read_peaks(SAMPLE_DIR / "abc_GRCh38_unified_blacklist.bed.gz", "hg38"))
    return {"reader": {"fast": reader_outcome(fast), "text": reader_outcome(text)},
            **pipeline_outcome({"gtex_wb": fast}, {}, [gtex_truth_set("Whole_Blood", "UBERON:0013756", K562_DHS_PEAKS)],
                               {K562_DHS_PEAKS.key: peaks}, files["genome"], workdir / "outputs")}


@pytest.fixture(scope="module")
def before() -> dict:
    return json.loads(BEFORE.read_text())


def test_the_sample_is_read_annotated_and_windowed_as_before(before, tmp_path):
    """Both GTEx tissues, the dsQTLs, six truth sets and their windows: counts, funnels and rows as before."""
    assert canonical(sample_outcome(tmp_path)) == before["sample"]


def test_generated_rows_with_every_fault_are_counted_and_kept_as_before(before, tmp_path):
    """20,000 generated pairs plus one line per exclusion reason, through the Arrow and the text reader."""
    now = canonical(generated_outcome(tmp_path))
    assert now == before["generated"]
    excluded = now["reader"]["fast"]["excluded"]
    assert {"invalid_effect", "symbolic_allele", "multiallelic", "ambiguous_allele", "invalid_allele",
            "ref_equals_alt", "unknown_chromosome", "unplaced", "invalid_position", "off_chromosome_end",
            "duplicate_row", "conflicting_duplicate"} <= set(excluded)


def record() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as workdir:
        outcome = {"sample": canonical(sample_outcome(Path(workdir) / "sample")),
                   "generated": canonical(generated_outcome(Path(workdir)))}
    BEFORE.parent.mkdir(parents=True, exist_ok=True)
    BEFORE.write_text(json.dumps(outcome, indent=1, sort_keys=True) + "\n")
    print(f"wrote {BEFORE}")


if __name__ == "__main__":
    if sys.argv[1:] == ["record"]:
        record()
