"""The bundled sample reference is rebuilt exactly by its script and never disagrees with itself."""

from collections import defaultdict

from endobench.lib.genome.sample_reference import SampleReferenceInputs, build_sample_reference, dsqtl_contexts


def test_rebuilding_reproduces_the_committed_fasta_byte_for_byte(sample_dir, tmp_path):
    out = tmp_path / "segments.fa"
    excluded = build_sample_reference(SampleReferenceInputs.from_dir(sample_dir), out)
    assert out.read_bytes() == (sample_dir / "hg38_sample_segments.fa").read_bytes()
    assert dict(excluded) == {"not_lifted_to_primary_hg38": 12, "no_context_sequence": 3,
                              "ref_taken_from_overlapping_context": 23, "ref_taken_from_gtex_variant_id": 61}


def test_overlapping_dsqtl_contexts_agree_on_every_base(sample_dir):
    """Where two contexts overlap, the base at each position is the same in both (the genome's)."""
    placed, _ = dsqtl_contexts(SampleReferenceInputs.from_dir(sample_dir))
    bases = defaultdict(set)
    for name, seq in placed:
        chrom, span = name.split(":")
        start = int(span.split("-")[0])
        for i, base in enumerate(seq):
            bases[(chrom, start + i)].add(base)
    assert len(placed) == 5_656
    assert [k for k, v in bases.items() if len(v) > 1] == []


def test_a_variant_whose_table_ref_is_not_the_genome_base_is_corrected(sample_reference):
    """Degner lists chr11:45,102,203 as Ref A / Alt G; the neighbouring dsQTL's context shows G there."""
    assert sample_reference.fetch("chr11", 45102202, 45102203) == "G"


def test_a_gtex_variant_id_shows_the_genome_base_where_degner_ref_is_not(sample_reference):
    """Degner lists chr1:98,661,649 (hg38) with Ref G / Alt A; GTEx's lead eQTL chr1_98661649_A_G_b38 carries the
    hg38 reference base A there, one of the two context alleles: the reference holds A (it held G before)."""
    assert sample_reference.fetch("chr1", 98661648, 98661649) == "A"
