"""The `full` profile at GTEx scale, through Dagster, with the real download code against a loopback server.

    .venv/bin/python bench/ingest.py --workdir /tmp/ingest_full            # generates the inputs (3 GB), then
    .venv/bin/python bench/full_scale.py --workdir /tmp/ingest_full        # runs every job on them

`bench/ingest.py` times the library calls; this runs the jobs a user runs (`shared_inputs_job`,
`release_inputs_job`, `predictions_job` for every chromosome, `report_job`) on the same generated inputs:
- a loopback HTTP server (127.0.0.1) lays the files out as the GTEx bucket and ENCODE do: the 2.4 M-row Whole
  Blood table inside `GTEx_Analysis_v8_eQTL.tar`, the 100 K peaks as an ENCODE `@@download`, the real hg38
  blacklist; the `full` profile downloads them with its resumable, checked downloads and extracts the one member;
- the reference is the generated full-size genome (`reference_fasta`), as a user's own hg38 FASTA would be;
- the local model scores every windowed variant.
Printed: each run's wall time, each step's duration from Dagster's own step stats, the funnel, and the peak RSS of
this process (Dagster's in-process executor runs every step here).
"""

from __future__ import annotations

import argparse
import hashlib
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
from endobench.demo import stages  # noqa: E402
from endobench.lib.genome.reference import byte_of, read_layout
from endobench.resources.sources import DataSources, FullDataSources  # noqa: E402
from endobench.resources.storage import Storage  # noqa: E402
from endobench_tests.stand_ins.http_server import FixtureServer, tar_archive  # noqa: E402

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
        f"/files/{PEAKS_ACCESSION}/": json.dumps({"md5sum": hashlib.md5(peaks).hexdigest()}).encode(),
        "/files/ENCFF356LFX/@@download/ENCFF356LFX.bed.gz": BLACKLIST.read_bytes(),
        "/files/ENCFF356LFX/": json.dumps({"md5sum": hashlib.md5(BLACKLIST.read_bytes()).hexdigest()}).encode(),
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
        asset_seconds: dict[str, float] = {}
        for stage in stages("v8"):
            job_name = stage[0][0]
            job = defs.resolve_job_def(job_name)
            started = time.perf_counter()
            steps: dict[str, float] = {}
            for _, key in stage:
                result = job.execute_in_process(instance=instance, partition_key=key, raise_on_error=False)
                if not result.success:
                    failure = next((e for e in result.all_events if e.is_failure), None)
                    raise SystemExit(f"{job_name} ({key}) failed: {failure.message if failure else '?'}")
                for stat in instance.get_run_step_stats(result.run_id):
                    steps[stat.step_key] = steps.get(stat.step_key, 0.0) + (stat.end_time - stat.start_time)
            shown = ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
            print(f"{job_name:<20} {time.perf_counter() - started:6.1f} s  ({shown})", flush=True)
            asset_seconds.update(steps)
        print(f"all jobs             {time.perf_counter() - total:6.1f} s, peak RSS {peak_rss_mb():,.0f} MB")
        print("ingest assets        " + ", ".join(f"{a} {asset_seconds.get(a, float('nan')):.1f} s" for a in
                                              ("raw_gtex_eqtls", "dhs_filtered_variants", "sequence_windows")))
        funnel = json.loads((Path(storage.root) / "benchmark_report" / "v8" / "metrics.json").read_text())
        for name, truth_set in funnel["truth_sets"].items():
            print(f"{name}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                         for k, v in truth_set.get("funnel", {}).items()))


if __name__ == "__main__":
    main()
