"""DNA strings: the one complement and reverse complement every module uses."""

from __future__ import annotations

_COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def complement(seq: str) -> str:
    """The complementary bases in the same order (`ACG` -> `TGC`)."""
    return seq.translate(_COMPLEMENT)


def reverse_complement(seq: str) -> str:
    """The other strand read 5' to 3' (`ACG` -> `CGT`): what an allele on the minus strand is on the plus strand."""
    return seq.translate(_COMPLEMENT)[::-1]
