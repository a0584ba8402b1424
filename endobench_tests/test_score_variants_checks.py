"""`score-variants` checks each row as the graph checks a truth-set row, through the command: REF against the genome
(the local model's reference, or `--reference` for AlphaGenome), swapped alleles harmonised with the score's sign
flipped, REF equal to ALT, N gaps, N-rich windows, indels longer than the window, missing gene ids."""

import shutil

import pandas as pd
import pytest

from endobench.cli import main
from endobench.lib.genome.reference import ReferenceGenome
from endobench_tests.paths import FIXTURES, SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn, sample_eqtl_requests

SAMPLE_REFERENCE = SAMPLE_DIR / "hg38_sample_segments.fa"
CHR2_BGZIP = SAMPLE_DIR / "bfairkun_hg38_chr2_1-2333275.fa.gz"  # bgzip with its .fai and .gzi
LEAD = 32_016_646  # PRR14L's lead variant; the genome has G there
NOT_CHECKED = "REF alleles not checked against a genome"


@pytest.fixture
def env(data_dir, monkeypatch, small_model_file):
    (data_dir / "outputs" / "local_model").mkdir(parents=True)
    shutil.copy(small_model_file, data_dir / "outputs" / "local_model" / "local_dnase_model.npz")
    monkeypatch.setenv("ENDOBENCH_ALPHAGENOME_REQUESTS_PER_MINUTE", "0")
    monkeypatch.setenv("ALPHAGENOME_API_KEY", "checks-key")
    return monkeypatch


def genome_base(chrom: str, pos: int, length: int = 1) -> str:
    return ReferenceGenome(SAMPLE_REFERENCE, "hg38").fetch(chrom, pos - 1, pos - 1 + length)


def score(tmp_path, rows: list[tuple], predictor: str = "local", *extra: str, columns=("chrom", "pos", "ref", "alt")
          ) -> pd.DataFrame:
    pd.DataFrame(rows, columns=list(columns)).to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    out = tmp_path / "scores.parquet"
    assert main(["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor", predictor,
                 "--out", str(out), *extra]) == 0
    return pd.read_parquet(out)


def test_alt_equal_to_the_genome_base_is_swapped_and_its_score_negated(env, tmp_path):
    """chr22:32,016,646 has G: T>G is G>T written the other way round. Both rows are scored on the genome's G>T,
    and the T>G row's score is the effect of its own ALT, so exactly the negative (today it scored 0.0 as T>G)."""
    result = score(tmp_path, [("chr22", LEAD, "G", "T"), ("chr22", LEAD, "T", "G")])
    assert result["status"].tolist() == ["scored", "scored"]
    assert result["harmonisation"].tolist() == ["as_is", "swapped"]
    assert result["variant_id"].tolist() == ["chr22_32016646_G_T_b38"] * 2
    assert result["ref"].tolist() == ["G", "T"]
    assert result.loc[0, "score"] != 0
    assert result.loc[1, "score"] == -result.loc[0, "score"]


def test_a_ref_matching_neither_the_genome_nor_alt_is_ref_mismatch(env, tmp_path):
    result = score(tmp_path, [("chr22", LEAD, "C", "A")])
    assert result[["status", "reason"]].values.tolist() == [["excluded", "ref_mismatch"]]
    assert pd.isna(result.loc[0, "score"])


def test_ref_equal_to_alt_is_never_scored(env, tmp_path):
    result = score(tmp_path, [("chr22", LEAD, "G", "G"), ("chr22", LEAD, "gt", "GT")])
    assert result["reason"].tolist() == ["ref_equals_alt", "ref_equals_alt"]
    assert set(result["status"]) == {"excluded"}


def test_n_gaps_n_rich_windows_and_long_indels_are_excluded_as_the_windows_asset_excludes_them(env, tmp_path):
    """chr2 starts with 10,000 N: a variant there is in an N gap; 20 bp past it the 99-bp window is a third N;
    a 120-bp deletion does not fit the local model's 99-bp window."""
    rich = 10_020
    deletion = genome_base("chr22", LEAD, 120)
    result = score(tmp_path, [("chr2", 5_000, "A", "G"), ("chr2", rich, genome_base("chr2", rich), "A"),
                              ("chr22", LEAD, deletion, deletion[0]), ("chr22", LEAD, "G", "T")])
    assert result["reason"].tolist() == ["in_n_gap", "n_rich", "indel_longer_than_window", ""]
    assert result["status"].tolist() == ["excluded"] * 3 + ["scored"]


def test_zero_based_positions_are_caught_and_said(env, tmp_path, capsys):
    """60 real dsQTLs (the sample reference holds each one's context) written 0-based: each is checked at the base
    before its own, which is REF or ALT only by chance; those that match neither are ref_mismatch, and the command
    says that the list's REFs do not agree with the genome. Written 1-based, all agree and nothing is said."""
    dsqtls = pd.read_csv(SAMPLE_DIR / "maggie_Degner2012_dsQTL.liftover_hg38.tsv.gz", sep="\t")
    dsqtls = dsqtls[(dsqtls["strand_hg38"] == "+") & (dsqtls["chr_hg38"] == "chr1")].head(60)
    rows = list(zip(dsqtls["chr_hg38"], dsqtls["pos_hg38"], dsqtls["Ref"], dsqtls["Alt"]))
    right = score(tmp_path, rows)
    assert (right["status"] == "scored").all()
    assert "REF alleles checked match" not in capsys.readouterr().err
    zero_based = score(tmp_path, [(c, p - 1, r, a) for c, p, r, a in rows])
    assert (zero_based["reason"] == "ref_mismatch").mean() > 0.3
    err = capsys.readouterr().err
    assert "REF alleles checked match" in err and "1-based" in err


def test_alphagenome_without_a_reference_sends_rows_as_given_and_says_so_once(env, tmp_path, capsys):
    """What is sent, read from the live model's requests (the Atlas off: it would answer these SNVs otherwise)."""
    env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
    _, genes = sample_eqtl_requests(2)
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        result = score(tmp_path, [("chr22", LEAD, "T", "G"), ("chr22", LEAD + 1, "A", "C")], "alphagenome")
        asked = set(server.requests_by_variant())
    assert asked == {f"chr22:{LEAD}:T>G", f"chr22:{LEAD + 1}:A>C"}
    assert result["harmonisation"].tolist() == ["unchecked", "unchecked"]
    assert capsys.readouterr().err.count(NOT_CHECKED) == 1


def test_alphagenome_with_a_reference_checks_and_harmonises_before_any_call(env, tmp_path, capsys):
    """With --reference, T>G is asked as the genome's G>T (one call for both spellings), its score negated; a REF
    that is neither allele is never sent (read from the live model's requests: the Atlas off)."""
    env.setenv("ENDOBENCH_ALPHAGENOME_ATLAS", "off")
    _, genes = sample_eqtl_requests(2)
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        result = score(tmp_path, [("chr22", LEAD, "G", "T"), ("chr22", LEAD, "T", "G"), ("chr22", LEAD, "C", "A")],
                       "alphagenome", "--reference", str(SAMPLE_REFERENCE))
        asked = server.requests_by_variant()
    assert asked == {f"chr22:{LEAD}:G>T": 1}
    assert result["status"].tolist() == ["scored", "scored", "excluded"]
    assert result.loc[1, "score"] == -result.loc[0, "score"]
    assert result.loc[2, "reason"] == "ref_mismatch"
    assert NOT_CHECKED not in capsys.readouterr().err


def test_alphagenome_reads_a_bgzip_reference_with_its_index(env, tmp_path):
    base = ReferenceGenome(CHR2_BGZIP, "hg38").fetch("chr2", 20_000, 20_001)
    other = "A" if base != "A" else "C"
    with AlphaGenomeStandIn() as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        result = score(tmp_path, [("chr2", 20_001, other, base), ("chr2", 5_000, "A", "G")], "alphagenome",
                       "--reference", str(CHR2_BGZIP))
    assert result["harmonisation"].tolist() == ["swapped", ""]
    assert result["reason"].tolist() == ["", "in_n_gap"]


def test_an_indel_longer_than_alphagenomes_interval_is_never_sent(env, tmp_path):
    env.setenv("ENDOBENCH_ALPHAGENOME_INTERVAL_LENGTH", "16384")
    with AlphaGenomeStandIn() as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        result = score(tmp_path, [("chr22", LEAD, "G", "G" + "ACGT" * 5_000)], "alphagenome")
        assert server.records == []
    assert result[["status", "reason"]].values.tolist() == [["excluded", "indel_longer_than_window"]]


@pytest.mark.parametrize("missing", ["NA", "NaN", "", "nan", " . "])
def test_na_nan_and_empty_gene_ids_are_missing_as_in_the_readers(env, tmp_path, missing):
    """A row whose gene_id is an NA spelling asks for accessibility only, never for a gene called "NA"."""
    _, genes = sample_eqtl_requests(2)
    with AlphaGenomeStandIn(genes=genes) as server:
        env.setenv("ENDOBENCH_ALPHAGENOME_ADDRESS", server.address)
        result = score(tmp_path, [("chr22", LEAD, "G", "T", missing), ("chr22", LEAD, "G", "T", genes[0].gene_id)],
                       "alphagenome", columns=("chrom", "pos", "ref", "alt", "gene_id"))
    assert result["readout"].tolist() == ["accessibility", "accessibility", "expression"]
    assert result["gene_id"].isna().tolist() == [True, False, False]
