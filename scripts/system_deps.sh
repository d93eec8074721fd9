#!/usr/bin/env bash
# The Debian packages the test suite needs beside Python: a real PostgreSQL server (the workspace's PostgreSQL
# path, tests/workspace/pg.py) and headless Chromium with its driver (the workspace's page tests).
#
#   scripts/system_deps.sh            install the missing ones (apt-get; sudo when not root); nothing when all are there
#   scripts/system_deps.sh --check    say which are missing; exit 1 if any (installs nothing)
#   scripts/system_deps.sh --dry-run  print the commands it would run, run none
#
# `make test` runs it. apt-get update runs only when a missing package is unknown to apt's lists (a fresh machine
# or container), or when an install from stale lists fails. Nothing is ever removed.
set -euo pipefail

PACKAGES=(${PSYSCREEN_SYSTEM_PACKAGES:-postgresql chromium chromium-driver})
MODE=install
case "${1:-}" in
  --check) MODE=check ;;
  --dry-run) MODE=dry-run ;;
  "") ;;
  *) echo "usage: $0 [--check|--dry-run]" >&2; exit 2 ;;
esac

installed() {  # dpkg knows the package as installed (not merely its config files left behind)
  local status
  status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
  [ "$status" = "install ok installed" ]
}

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${PACKAGES[@]}"; do
    installed "$p" || missing+=("$p")
  done
else
  missing=("${PACKAGES[@]}")
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "system packages missing for the tests: ${missing[*]}"
if [ "$MODE" = check ]; then
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: apt-get not found. This is not a Debian-like system: install ${missing[*]} (PostgreSQL's server" >&2
  echo "       programs initdb and pg_ctl, Chromium and its chromedriver) with the system's own tools." >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1 && { sudo -n true 2>/dev/null || [ -t 0 ]; }; then
  SUDO=(sudo)  # asks for the password on a terminal; without one, only passwordless sudo is used
else
  echo "error: installing ${missing[*]} needs root, and this user is not root and cannot use sudo here." >&2
  echo "       Ask an administrator to run:  apt-get update && apt-get install -y ${missing[*]}" >&2
  echo "       then run make test again." >&2
  exit 1
fi

run() {
  echo "+ ${*}"
  if [ "$MODE" = install ]; then "$@"; fi
}

APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
need_update=0
for p in "${missing[@]}"; do
  # apt-cache knows no installable version (a fresh machine has empty lists): the lists must be fetched first
  policy="$(apt-cache policy "$p" 2>/dev/null || true)"
  if ! grep -q "Candidate: [^(]" <<<"$policy"; then need_update=1; fi
done
if [ "$need_update" -eq 1 ]; then
  run "${APT[@]}" update -q
fi
if ! run "${APT[@]}" install -y -q "${missing[@]}"; then
  if [ "$need_update" -eq 0 ]; then  # stale lists name versions the mirror no longer has: refresh once, retry
    run "${APT[@]}" update -q
    run "${APT[@]}" install -y -q "${missing[@]}"
  else
    exit 1
  fi
fi
if [ "$MODE" = install ]; then
  still=()
  for p in "${missing[@]}"; do installed "$p" || still+=("$p"); done
  if [ ${#still[@]} -gt 0 ]; then
    echo "error: apt-get did not install ${still[*]}" >&2
    exit 1
  fi
fi
