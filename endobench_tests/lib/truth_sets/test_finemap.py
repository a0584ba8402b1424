"""Fine-mapped eQTL tables: effect is beta_posterior, significance is PIP, other tissues are counted out."""

import pytest

from endobench.lib.io.errors import InputError
from endobench.lib.truth_sets.finemap import read_finemapped_eqtls

# Real GTEx v8 Whole Blood lead variants and genes (from the bundled egenes table); PIPs and posterior
# betas are illustrative values in the SuSiE output layout.
TABLE = """\
variant_id\tgene_id\ttissue\tpip\tbeta_posterior
chr22_32261410_C_T_b38\tENSG00000128253.13\tWhole_Blood\t0.97\t-0.39
chr22_32156952_A_G_b38\tENSG00000228839.5\tWhole_Blood\t0.12\t-0.02
chr22_32283059_C_G_b38\tENSG00000100105.17\tLung\t0.95\t-0.30
"""


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "susie.tsv"
    path.write_text(TABLE)
    return path


def test_effect_is_the_posterior_beta_and_significance_the_pip(table):
    parsed = read_finemapped_eqtls(table, truth_set="finemapped_wb", tissue="Whole_Blood")
    frame = parsed.frame.set_index("gene_id")
    assert frame.loc["ENSG00000128253.13", "effect"] == pytest.approx(-0.39)
    assert frame["is_significant"].to_dict() == {"ENSG00000128253.13": True, "ENSG00000228839.5": False}
    assert set(frame["build"]) == {"hg38"}


def test_rows_of_other_tissues_are_counted(table):
    parsed = read_finemapped_eqtls(table, truth_set="finemapped_wb", tissue="Whole_Blood")
    assert parsed.rows_read == 3
    assert dict(parsed.excluded) == {"other_tissue": 1}


def test_alias_column_names_are_accepted(tmp_path):
    path = tmp_path / "eqtl_catalogue.tsv"
    path.write_text(TABLE.replace("gene_id", "molecular_trait_id").replace("beta_posterior", "posterior_mean"))
    assert len(read_finemapped_eqtls(path, truth_set="fm").frame) == 3


def test_a_table_without_pip_is_an_error_naming_the_field(tmp_path):
    path = tmp_path / "no_pip.tsv"
    path.write_text(TABLE.replace("\tpip", "\tprob"))
    with pytest.raises(InputError, match=r"no_pip\.tsv, line 1: no column for pip"):
        read_finemapped_eqtls(path, truth_set="fm")


def test_an_unknown_tissue_lists_the_tissues_present(table):
    with pytest.raises(InputError, match=r"no row is of tissue 'Blood' \(found \['Lung', 'Whole_Blood'\]\)"):
        read_finemapped_eqtls(table, truth_set="fm", tissue="Blood")
