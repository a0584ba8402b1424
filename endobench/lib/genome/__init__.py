"""Genome coordinates and sequence: builds, the reference reader, liftover, peaks, intervals and variant windows."""
