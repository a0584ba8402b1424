"""`endobench score-variants --predictor motif`: the motif baseline through the command, with every predictor's
output columns, REF checked and swapped rows harmonised as for any predictor."""

import pandas as pd
import pytest

from endobench.cli import main
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.test_score_variants import OUTPUT_COLUMNS


@pytest.fixture
def env(tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    (data / "sample").symlink_to(SAMPLE_DIR)
    monkeypatch.setenv("ENDOBENCH_DATA_DIR", str(data))
    return monkeypatch


def test_the_motif_predictor_scores_a_variant_list(env, tmp_path):
    # The CTCF core mutation of the bundled chr22 segment as given and with its alleles swapped, a dsQTL position
    # with no site, one outside the bundled reference, each on GM12878.
    table = pd.DataFrame({"chrom": ["chr22", "chr22", "chr17", "chr22"],
                          "pos": [32_207_076, 32_207_076, 81_126_207, 40_000_000],
                          "ref": ["C", "A", "A", "A"], "alt": ["A", "C", "G", "G"],
                          "biosample": ["EFO:0002784"] * 4})
    table.to_csv(tmp_path / "variants.tsv", sep="\t", index=False)
    out = tmp_path / "out.parquet"
    assert main(["score-variants", "--variants", str(tmp_path / "variants.tsv"), "--predictor", "motif",
                 "--out", str(out)]) == 0
    result = pd.read_parquet(out)
    assert list(result.columns) == OUTPUT_COLUMNS
    access = result[result["readout"] == "accessibility"].reset_index(drop=True)
    assert access["status"].tolist() == ["scored", "scored", "scored", "excluded"]
    assert access.loc[0, "score"] <= -6  # ALT breaks the CTCF site
    assert access.loc[1, "score"] == pytest.approx(-access.loc[0, "score"])  # the same variant, its ALT as REF
    assert access.loc[2, "score"] == 0.0  # no site made or broken
    assert access.loc[3, "reason"] == "no_reference_sequence"
    assert "JASPAR2024 CORE vertebrates" in access.loc[0, "track"] and "GM12878" in access.loc[0, "track"]
