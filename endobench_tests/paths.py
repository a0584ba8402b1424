"""Where the repository keeps what tests read: the bundled sample, small fixtures and the bad-input corpus."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIR = REPO / "data" / "sample"
FIXTURES = REPO / "endobench_tests" / "fixtures"
CORPUS = REPO / "endobench_tests" / "corpus"
