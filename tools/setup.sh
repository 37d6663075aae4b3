#!/usr/bin/env bash
# Installs everything Sökhund needs on a fresh Debian machine: Debian packages (tor, chromium, privoxy,
# redis, a JDK and Maven for the local Elasticsearch) when missing, then a virtualenv in .venv with the project and its dev tools. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# gcc + libsqlite3-dev: indexer/fts_rank.c (bm25 with given document frequencies) is compiled on first use
DEB_PACKAGES=(tor chromium privoxy redis-server openjdk-17-jdk-headless maven unzip gcc libsqlite3-dev)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The Debian services must not run system-wide: Sökhund starts its own tor/privoxy/redis on loopback.
  for svc in tor privoxy redis-server; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || $SUDO service "$svc" stop >/dev/null 2>&1 || true
  done
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.sokhund-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages into .venv"
  .venv/bin/pip install -q --upgrade pip >/dev/null
  .venv/bin/pip install -q -e ".[dev]"
  touch "$stamp"
fi
# Local Elasticsearch (sokhund es up, tests): Elasticsearch refuses to run as root, so its JVM runs as this user.
if [ "$(id -u)" -eq 0 ] && ! id sokhund-es >/dev/null 2>&1; then
  useradd --system --no-create-home --user-group --shell /usr/sbin/nologin sokhund-es
fi
.venv/bin/python -c "from indexer.localcluster import ensure_distribution as e; print('setup: elasticsearch', e())"
echo "setup: ready (tor $(tor --version 2>/dev/null | head -1 | awk '{print $3}'), $(chromium --version 2>/dev/null | head -1))"
