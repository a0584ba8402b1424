"""AlphaGenome's real track catalogue: the tracks a readout in a biosample is read from, GTEx tissues and their
expression tracks, and the stand-in serving the whole catalogue through the SDK's own `output_metadata()`."""

import grpc
import pandas as pd
import pytest
from alphagenome.models import dna_client

from endobench.lib.scoring.tracks import CATALOGUE_FILE, TrackCatalogue, UnknownTracks
from endobench.lib.truth_sets.catalog import GTEX_EQTL_TISSUES
from endobench_tests.paths import SAMPLE_DIR
from endobench_tests.stand_ins.alphagenome_server import AlphaGenomeStandIn

BUNDLED = SAMPLE_DIR / CATALOGUE_FILE


@pytest.fixture(scope="module")
def catalogue() -> TrackCatalogue:
    return TrackCatalogue.from_file(BUNDLED)


def test_each_gtex_tissue_has_one_expression_track_with_its_biosample(catalogue):
    """54 GTEx tissues, each an RNA_SEQ track named after its CURIE and tissue; every GTEx eQTL tissue is among
    them."""
    tracks = catalogue.gtex_tracks()
    assert len(tracks) == 54
    assert set(GTEX_EQTL_TISSUES) <= set(tracks)
    assert tracks["Whole_Blood"].name == "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq"
    assert tracks["Cells_EBV-transformed_lymphocytes"].ontology_curie == "EFO:0000572"
    assert tracks["Liver"].ontology_curie == "UBERON:0001114"
    assert all(t.output_type == "RNA_SEQ" and t.name == f"{t.ontology_curie} gtex {tissue} polyA plus RNA-seq"
               for tissue, t in tracks.items())


def test_accessibility_is_the_dnase_track_of_the_biosample_and_nothing_is_made_up(catalogue):
    """GM12878 and K562 have their DNase tracks; Whole Blood and the GTEx LCL CURIE have none, so no name comes
    back (never `UBERON:0013756 DNase-seq`)."""
    assert catalogue.track_for("accessibility", "EFO:0002784").name == "EFO:0002784 DNase-seq"
    assert catalogue.track_for("accessibility", "EFO:0002067").name == "EFO:0002067 DNase-seq"
    assert catalogue.track_for("accessibility", "UBERON:0013756") is None
    assert catalogue.track_for("accessibility", "EFO:0000572") is None


def test_expression_is_the_gtex_track_of_the_biosample_or_tissue(catalogue):
    """By CURIE or by GTEx tissue name; a cell line with ENCODE RNA-seq but no GTEx track has no default."""
    assert catalogue.track_for("expression", "UBERON:0002106").name == "UBERON:0002106 gtex Spleen polyA plus RNA-seq"
    assert catalogue.track_for("expression", "Brain_Cortex").name == \
        "UBERON:0001870 gtex Brain_Cortex polyA plus RNA-seq"
    assert catalogue.track_for("expression", "EFO:0002784") is None


def test_an_unknown_name_is_refused_with_the_closest_real_names(catalogue):
    with pytest.raises(UnknownTracks) as refused:
        catalogue.check_named({"tracks['expression|UBERON:0013756']": (
            "expression", "UBERON:0013756", "UBERON:0013756 gtex Whole Blood polyA plus RNA-seq")})
    assert "closest real names: 'UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq'" in str(refused.value)
    with pytest.raises(UnknownTracks, match="is not a DNASE track"):
        catalogue.check_named({"t": ("accessibility", "UBERON:0013756",
                                     "UBERON:0013756 gtex Whole_Blood polyA plus RNA-seq")})
    catalogue.check_named({"t": ("accessibility", "EFO:0002784", "EFO:0002784 DNase-seq")})


def test_a_name_by_cell_line_suggests_that_cell_lines_track(catalogue):
    """`GM12878 DNase-seq` is not a track name (names start with the CURIE): GM12878's own DNase track comes first."""
    assert catalogue.closest("accessibility", "GM12878 DNase-seq")[0] == "EFO:0002784 DNase-seq"


def test_the_stand_in_serves_the_real_catalogue_through_the_sdk():
    """`DnaClient.output_metadata()` against the stand-in returns every one of the 5,563 tracks of the bundled
    catalogue, field for field."""
    with AlphaGenomeStandIn() as server:
        channel = grpc.insecure_channel(server.address)
        served = dna_client.DnaClient(channel=channel).output_metadata().concatenate()
        channel.close()
    bundled = pd.read_csv(BUNDLED, sep="\t")
    served["output_type"] = served["output_type"].astype(str)
    assert len(served) == len(bundled) == 5_563
    served, bundled = served.reset_index(drop=True), bundled[served.columns]
    for column in served.columns.drop("nonzero_mean"):
        pd.testing.assert_series_equal(served[column].astype(str), bundled[column].astype(str), check_names=False)
    pd.testing.assert_series_equal(served["nonzero_mean"].astype(float), bundled["nonzero_mean"], rtol=1e-6,
                                   check_names=False)
