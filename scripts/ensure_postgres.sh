#!/usr/bin/env bash
# `make deploy-test` runs a throwaway PostgreSQL server: install the Debian package with apt-get when the server
# binaries are missing and we may, else say how. No cluster is created or started here: the test starts its own.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1; then
  exit 0
fi
source "$(dirname "$0")/apt.sh"
apt_get_or_explain "PostgreSQL is missing: install its server (apt-get install postgresql, brew install postgresql@15 or conda install -c conda-forge postgresql) and rerun"
echo "PostgreSQL is missing: installing it with apt-get (without creating or starting its default cluster)" >&2
apt_get update -qq
# Debian's server package creates and starts a `main` cluster on port 5432 unless postgresql-common says not to
# (as the official postgres image does it).
apt_get install -y -qq postgresql-common >/dev/null
$SUDO sed -ri 's/^#?\s*(create_main_cluster) .*$/\1 = false/' /etc/postgresql-common/createcluster.conf
apt_get install -y -qq postgresql >/dev/null
