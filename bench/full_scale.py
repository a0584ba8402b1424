"""The `full` profile at GTEx scale, through Dagster, with the real download code against a loopback server.

    .venv/bin/python bench/ingest.py --workdir /tmp/ingest_full            # generates the inputs (3 GB), then
    .venv/bin/python bench/full_scale.py --workdir /tmp/ingest_full        # runs every job on them

`bench/ingest.py` times the library calls; this materialises the release as the demo and the automation sensor
do (evaluate the automation conditions, run what they request, one run per partition, until nothing is
requested) on the same generated inputs:
- a loopback HTTP server (127.0.0.1) lays the files out as the GTEx bucket and ENCODE do: the 2.4 M-row Whole
  Blood table inside `GTEx_Analysis_v8_eQTL.tar`, the 100 K peaks as an ENCODE `@@download`, the real hg38
  blacklist; the `full` profile downloads them with its resumable, checked downloads and extracts the one member;
- the reference is the generated full-size genome (`reference_fasta`), as a user's own hg38 FASTA would be;
- the local model scores every windowed variant.
Printed: the wall time of the runs of each asset (summed over partitions), each step's duration from Dagster's own
step stats, the funnel, and the peak RSS of this process (Dagster's in-process executor runs every step here).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import dagster as dg  # noqa: E402

from bench.ingest import peak_rss_mb  # noqa: E402
from endobench.definitions import build_definitions  # noqa: E402
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME  # noqa: E402
from endobench.defs.resources import build_predictor  # noqa: E402
from endobench.demo import RunSummary, materialise_until_up_to_date  # noqa: E402
from endobench.lib.genome.reference import byte_of, read_layout
from endobench.resources.sources import DataSources, FullDataSources  # noqa: E402
from endobench.resources.storage import Storage  # noqa: E402
from endobench_tests.stand_ins.http_server import (  # noqa: E402
    EXCLUSION_LIST_METADATA,
    FixtureServer,
    encode_file_metadata,
    tar_archive,
)

GTEX_TAR = "/bulk-qtl/v8/single-tissue-cis-qtl/GTEx_Analysis_v8_eQTL.tar"
PEAKS_ACCESSION = "ENCFF000BNC"  # a made-up accession: the server only has to lay the file out as ENCODE does
BLACKLIST = REPO / "data" / "sample" / "abc_GRCh38_unified_blacklist.bed.gz"


def plant_dsqtl_alleles(genome: Path, sources: DataSources) -> int:
    """Write the Degner dsQTLs' REF alleles into the generated genome at their hg38 positions.

    The full profile always adds the bundled dsQTLs as a truth set, and `reference_allele_agreement` rightly stops a
    run whose reference disagrees with them; the generated genome is random sequence, so it gets their bases here.
    """
    from endobench.lib.truth_sets.generic import read_generic_qtls

    table = sources.qtl_tables()[0]
    frame = read_generic_qtls(table.path, truth_set=table.truth_set, build=table.build, columns=table.columns).frame
    layout = read_layout(genome)
    with open(genome, "r+b") as handle:
        for chrom, pos, ref in zip(frame["chrom"], frame["pos"], frame["ref"]):
            for i, base in enumerate(ref.encode()):
                handle.seek(byte_of(layout[chrom], pos - 1 + i))
                handle.write(bytes([base]))
    os.utime(f"{genome}.fai")  # bases changed in place, no offset moved: the index stays right, and is newer again
    return len(frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", type=Path, required=True, help="where `bench/ingest.py --workdir` generated its files")
    args = parser.parse_args()
    generated = args.workdir / "Whole_Blood.v8.signif_variant_gene_pairs.txt.gz"
    if not generated.exists():
        raise SystemExit(f"{generated} is missing: run bench/ingest.py --workdir {args.workdir} first")

    peaks = (args.workdir / "K562.narrowPeak.gz").read_bytes()
    files = {
        GTEX_TAR: tar_archive({"GTEx_Analysis_v8_eQTL/Whole_Blood.v8.signif_variant_gene_pairs.txt.gz":
                               generated.read_bytes()}),
        # ENCODE serves each file with its metadata, whose md5sum the full profile checks the download against.
        f"/files/{PEAKS_ACCESSION}/@@download/{PEAKS_ACCESSION}.bed.gz": peaks,
        f"/files/{PEAKS_ACCESSION}/": encode_file_metadata(peaks, accession=PEAKS_ACCESSION),
        "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz": BLACKLIST.read_bytes(),
        "/files/ENCFF356LFX/": encode_file_metadata(BLACKLIST.read_bytes(), EXCLUSION_LIST_METADATA),
    }
    with FixtureServer(files) as server, tempfile.TemporaryDirectory(prefix="endobench_full_") as data_dir:
        storage = Storage(root=f"{data_dir}/outputs", cache_dir=f"{data_dir}/cache")
        sources = FullDataSources(
            sample_dir=str(REPO / "data" / "sample"), download_dir=f"{data_dir}/full", gtex_tissues=["Whole_Blood"],
            gtex_base_url=server.url("/bulk-qtl"), encode_base_url=server.url("/files"),
            peaks_encode_accession=PEAKS_ACCESSION, reference_fasta=str(args.workdir / "genome.fa"),
        )
        print(f"planted {plant_dsqtl_alleles(args.workdir / 'genome.fa', sources):,} dsQTL REF alleles in the genome")
        defs = build_definitions({"storage": storage, "sources": sources, "predictor": build_predictor("local", storage)})
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, ["v8"])
        total = time.perf_counter()
        seconds: dict[str, float] = {}
        steps: dict[str, dict[str, float]] = {}

        def record(run: RunSummary) -> None:
            assets = ", ".join(key.to_user_string() for key in run.asset_keys)
            seconds[assets] = seconds.get(assets, 0.0) + run.seconds
            for stat in instance.get_run_step_stats(run.run_id):
                by_step = steps.setdefault(assets, {})
                by_step[stat.step_key] = by_step.get(stat.step_key, 0.0) + (stat.end_time - stat.start_time)

        materialise_until_up_to_date(defs, instance, on_run=record)
        for assets, wall in seconds.items():
            shown = ", ".join(f"{k} {v:.1f} s" for k, v in steps.get(assets, {}).items())
            print(f"{assets:<40} {wall:6.1f} s  ({shown})", flush=True)
        print(f"{'all runs':<40} {time.perf_counter() - total:6.1f} s, peak RSS {peak_rss_mb():,.0f} MB")
        print("ingest assets        " + ", ".join(
            f"{a} {sum(s.get(a, 0.0) for s in steps.values()):.1f} s"
            for a in ("raw_gtex_eqtls", "dhs_filtered_variants", "sequence_windows")))
        funnel = json.loads((Path(storage.root) / "benchmark_report" / "v8" / "metrics.json").read_text())
        for name, truth_set in funnel["truth_sets"].items():
            print(f"{name}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                         for k, v in truth_set.get("funnel", {}).items()))


if __name__ == "__main__":
    main()
