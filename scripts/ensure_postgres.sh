#!/usr/bin/env bash
# `make deploy-test` runs a throwaway PostgreSQL server: install the Debian package with apt-get when the server
# binaries are missing and we may, else say how. No cluster is created or started here: the test starts its own.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1; then
  exit 0
fi
if command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "PostgreSQL is missing: install it (sudo apt-get install postgresql) and rerun" >&2; exit 1
    fi
  fi
  echo "PostgreSQL is missing: installing it with apt-get (without creating or starting its default cluster)" >&2
  $SUDO apt-get update -qq
  # Debian's server package creates and starts a `main` cluster on port 5432 unless postgresql-common says not to
  # (as the official postgres image does it).
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql-common >/dev/null
  $SUDO sed -ri 's/^#?\s*(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL is missing: install its server (apt-get install postgresql, brew install postgresql@15," \
     "or conda install -c conda-forge postgresql) and rerun" >&2
exit 1
