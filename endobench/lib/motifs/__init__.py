"""Transcription-factor motifs gained and lost by a variant: the JASPAR library, the allele scan, the calls."""
