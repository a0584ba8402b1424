# Sourced by the ensure_*.sh scripts: `apt_get` runs apt-get as root (directly, or through passwordless sudo), or
# fails with the message given, saying how to install by hand.
apt_get_or_explain() {
  local missing="$1"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$missing" >&2; exit 1
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
      echo "$missing" >&2; exit 1
    fi
  fi
}

apt_get() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get "$@"
}
