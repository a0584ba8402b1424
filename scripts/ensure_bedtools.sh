#!/usr/bin/env bash
# pybedtools drives the bedtools binary: install it with apt-get when missing and we may, else say how.
set -euo pipefail
if command -v bedtools >/dev/null 2>&1; then
  exit 0
fi
source "$(dirname "$0")/apt.sh"
apt_get_or_explain "bedtools is missing: install it (apt-get install bedtools, brew install bedtools or conda install -c bioconda bedtools) and rerun"
echo "bedtools is missing: installing it with apt-get" >&2
apt_get update -qq
apt_get install -y -qq bedtools >/dev/null
