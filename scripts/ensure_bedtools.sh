#!/usr/bin/env bash
# pybedtools drives the bedtools binary: install it with apt-get when missing and we may, else say how.
set -euo pipefail
if command -v bedtools >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "bedtools is missing: install it (sudo apt-get install bedtools) and rerun" >&2; exit 1
    fi
  fi
  echo "bedtools is missing: installing it with apt-get" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq bedtools >/dev/null
  exit 0
fi
echo "bedtools is missing: install it (apt-get install bedtools, brew install bedtools or conda install -c bioconda bedtools) and rerun" >&2
exit 1
