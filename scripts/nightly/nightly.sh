#!/usr/bin/env bash
# Cron entry point for the nightly v2.1 -> v3.0 conversion. Holds a flock so two nights (or a
# night and a manual run) never convert the same inbox at once, and logs to a dated file in
# OUTBOX/.nightly-logs (scripts/nightly/run.py decides what to convert and prunes old logs).
# cron has no direnv: this runs through make, which reads the same .env as .envrc.
set -euo pipefail

usage() {
  cat <<EOF2
Usage: scripts/nightly/nightly.sh INBOX OUTBOX [scripts.nightly.run options, e.g. --dry-run]
  Converts every v2.x dataset in INBOX whose content has no verified <name>_v30 in OUTBOX.
  Exits 0 and does nothing when another run holds the lock (OUTBOX/.nightly.lock).
  Install it in your crontab with: make cron-install INBOX=... OUTBOX=...
EOF2
}

main() {
  [[ $# -ge 2 && "${1}" != "-h" && "${1}" != "--help" ]] || { usage >&2; exit 2; }
  local inbox="$1" outbox="$2" root log_dir log
  shift 2
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  [[ -d "${outbox}" ]] || { echo "nightly: error: OUTBOX=${outbox} is not a directory (not mounted?)" >&2; exit 2; }
  log_dir="${outbox}/.nightly-logs"
  mkdir -p "${log_dir}"
  log="${log_dir}/nightly-$(date +%Y%m%d-%H%M%S).log"
  exec 9>"${outbox}/.nightly.lock"
  if ! flock -n 9; then
    echo "nightly: another conversion holds ${outbox}/.nightly.lock; nothing to do" | tee -a "${log}"
    exit 0
  fi
  cd "${root}"
  : >>"${log}"  # exists before the run prunes old logs (tee may open it after, under load)
  PYTHONPATH="${root}" envs/tools/.venv/bin/python -m scripts.nightly.run \
    --inbox "${inbox}" --outbox "${outbox}" --log-dir "${log_dir}" "$@" 2>&1 | tee -a "${log}"
}

main "$@"
