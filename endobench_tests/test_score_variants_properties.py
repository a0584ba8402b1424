"""Property test: `score-variants` gives every row the status and reason the `sequence_windows` asset gives it.

Hypothesis draws variants over the bundled reference (the chr22 and chr2 segments, chr2's telomeric N run, the
edges of the segments and places no segment covers) with alleles made from the genome there: REF as the genome
has it, swapped with ALT, matching neither, equal to ALT, long deletions and insertions. The same rows go through
the command (local model) and through the asset (materialised on a truth-set table holding exactly those rows);
each row must leave both with the same reason ("" / `ok` when usable), the same harmonisation and the same id.
Derandomised, so CI runs the same cases every time.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from endobench.cli import main
from endobench.defs.assets import variants as variant_assets
from endobench.defs.partitions import GTEX_RELEASE_PARTITIONS_NAME, SAMPLE_RELEASE
from endobench.lib.genome.reference import ReferenceGenome
from endobench.lib.truth_sets.schema import variant_ids
from endobench.resources.predictors import LocalPredictor
from endobench.resources.sources import SampleDataSources
from endobench.resources.storage import Storage
from endobench_tests.lib.model.small_model import small_cross_fitted
from endobench_tests.paths import SAMPLE_DIR

pytestmark = pytest.mark.timeout(300)
REFERENCE = ReferenceGenome(SAMPLE_DIR / "hg38_sample_segments.fa", "hg38")
# (chromosome, first, last) 1-based places to draw from: inside the segments, across their edges and N runs,
# and where no segment reaches.
PLACES = [("chr22", 32_000_001, 32_300_000), ("chr22", 31_999_950, 32_000_060), ("chr22", 32_299_950, 32_300_060),
          ("chr2", 1, 12_000), ("chr2", 9_900, 10_200), ("chr2", 9_950, 10_010), ("chr2", 2_333_200, 2_333_400), ("chr22", 20_000_000, 20_001_000)]
KINDS = ["as_is", "swapped", "mismatch", "ref_equals_alt", "deletion", "insertion", "long_deletion"]


@st.composite
def variant(draw) -> tuple[str, int, str, str]:
    chrom, first, last = draw(st.sampled_from(PLACES))
    pos = draw(st.integers(first, last))
    kind = draw(st.sampled_from(KINDS))
    length = {"deletion": draw(st.integers(2, 6)), "long_deletion": draw(st.integers(90, 130))}.get(kind, 1)
    genome = REFERENCE.fetch(chrom, pos - 1, pos - 1 + length) or "A" * length
    base = genome[0]
    other = draw(st.sampled_from([b for b in "ACGT" if b != base]))
    if kind == "as_is":
        return chrom, pos, genome, other
    if kind == "swapped":
        return chrom, pos, other, genome
    if kind == "mismatch":
        third = draw(st.sampled_from([b for b in "ACGT" if b not in (base, other)]))
        return chrom, pos, other, third
    if kind == "ref_equals_alt":
        return chrom, pos, genome, genome
    if kind == "insertion":
        return chrom, pos, base, base + draw(st.text("ACGT", min_size=1, max_size=8))
    return chrom, pos, genome, base  # a deletion, some longer than the local model's 99-bp window


@pytest.fixture(scope="module")
def workdir():
    """A data dir with the sample linked in and a small cross-fitted local model."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        (data / "sample").mkdir(parents=True)
        for source in SAMPLE_DIR.iterdir():
            (data / "sample" / source.name).symlink_to(source)
        small_cross_fitted().save(Storage(root=str(data / "outputs")).local_model_path())
        yield data


def windows_asset(data: Path, rows: pd.DataFrame) -> pd.DataFrame:
    """`sequence_windows` materialised on a truth-set table holding exactly `rows`, read back in row order."""
    storage = Storage(root=str(data / "outputs"), cache_dir=str(data / "cache"))
    table = rows.assign(truth_set="drawn", variant_id=variant_ids(rows, "hg38"), effect=1.0, gene_id=None)
    storage.write_table(table, "dhs_filtered_variants", SAMPLE_RELEASE)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(GTEX_RELEASE_PARTITIONS_NAME, [SAMPLE_RELEASE])
    resources = {"storage": storage, "sources": SampleDataSources(sample_dir=str(data / "sample")),
                 "predictor": LocalPredictor(model_path=str(storage.local_model_path()))}
    assert dg.materialize([variant_assets.sequence_windows], resources=resources, instance=instance,
                          partition_key=SAMPLE_RELEASE).success
    return storage.read_table("sequence_windows", SAMPLE_RELEASE)


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(drawn=st.lists(variant(), min_size=1, max_size=40))
def test_score_variants_gives_each_row_the_status_of_the_windows_asset(workdir, monkeypatch, drawn):
    monkeypatch.setenv("ENDOBENCH_DATA_DIR", str(workdir))
    rows = pd.DataFrame(drawn, columns=["chrom", "pos", "ref", "alt"])
    listed, out = workdir / "drawn.tsv", workdir / "scored.parquet"
    rows.to_csv(listed, sep="\t", index=False)
    assert main(["score-variants", "--variants", str(listed), "--predictor", "local", "--out", str(out)]) == 0
    command = pd.read_parquet(out)
    asset = windows_asset(workdir, rows)
    for reason in sorted(set(asset["window_status"])):
        event(reason)
    assert command["reason"].tolist() == asset["window_status"].replace("ok", "").tolist()
    assert command["harmonisation"].tolist() == asset["harmonisation"].where(asset["window_status"] == "ok",
                                                                              "").tolist()
    usable = (asset["window_status"] == "ok").to_numpy()
    assert command.loc[usable, "variant_id"].tolist() == asset.loc[usable, "variant_id"].tolist()
    assert (command.loc[usable, "status"] == "scored").all()
    shutil.rmtree(workdir / "outputs" / "sequence_windows")
