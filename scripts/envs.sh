#!/usr/bin/env bash
# Build, check or re-lock the toolkit's isolated environments (envs/<name>/.venv) with uv.
# An environment is rebuilt only when its uv.lock (or LEROBOT_SRC) changes: a stamp file in the
# venv records what it was built from, so calling this before every target costs nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly ENVS=(tools act smolvla compat04 legacy)

usage() {
  cat <<EOF
Usage: scripts/envs.sh build <name>...   build (or reuse) envs/<name>/.venv from its uv.lock
       scripts/envs.sh lock [<name>...]  re-resolve envs/<name>/uv.lock (needs the index)
       scripts/envs.sh python             print the Python 3.12 interpreter that will be used
Names: ${ENVS[*]}
Knobs: PYTHON=/path/to/python3.12   use this interpreter
       LEROBOT_SRC=/path/to/lerobot  install LeRobot editable from a local checkout instead
EOF
}

die() { echo "envs: error: $*" >&2; exit 1; }

is_py312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; }

# Python 3.12 from PYTHON, PATH, pyenv or uv; never the system Python's packages (uv makes a venv).
find_python() {
  local c
  if [[ -n "${PYTHON:-}" ]]; then
    is_py312 "${PYTHON}" || die "PYTHON=${PYTHON} is not a working Python 3.12"
    echo "${PYTHON}"; return
  fi
  for c in "$(command -v python3.12 || true)" "$(pyenv root 2>/dev/null || echo "${HOME}/.pyenv")"/versions/3.12*/bin/python3.12 \
      /usr/bin/python3.12 /usr/local/bin/python3.12 "$("${UV}" python find 3.12 2>/dev/null || true)"; do
    [[ -n "${c}" && -x "${c}" ]] && is_py312 "${c}" && { echo "${c}"; return; }
  done
  echo "envs: no Python 3.12 found; asking 'uv python install 3.12'" >&2
  if "${UV}" python install --quiet 3.12 >&2; then
    c="$("${UV}" python find 3.12 2>/dev/null || true)"
    [[ -n "${c}" ]] && is_py312 "${c}" && { echo "${c}"; return; }
  fi
  die "no Python 3.12 found (LeRobot 0.6.1 needs it). Install one: 'pyenv install 3.12' or \
'apt install python3.12 python3.12-venv' or 'uv python install 3.12', or point PYTHON=/path/to/python3.12"
}

# uv from PATH, else the toolkit's own copy (envs/.uv, from PyPI, no root, system Python untouched).
UV_HOME="${ROOT}/envs/.uv"
need_uv() {
  command -v uv >/dev/null && { UV=uv; return; }
  UV="${UV_HOME}/bin/uv"
  [[ -x "${UV}" ]] && return
  local sys_py; sys_py="$(command -v python3 || true)"
  [[ -n "${sys_py}" ]] || die "neither uv nor python3 found: install one ('apt install python3-venv')"
  echo "envs: uv not on PATH; installing it from PyPI into envs/.uv (once)" >&2
  rm -rf "${UV_HOME}.part"
  "${sys_py}" -m venv "${UV_HOME}.part" \
    || die "cannot make a venv with ${sys_py}: install python3-venv, or uv ('pip install --user uv')"
  "${UV_HOME}.part/bin/python" -m pip install --quiet --disable-pip-version-check uv \
    || die "pip could not install uv from the package index into envs/.uv; install uv yourself"
  mv "${UV_HOME}.part" "${UV_HOME}"
}

check_name() {
  local n guess=""
  [[ " ${ENVS[*]} " == *" $1 "* ]] && return 0
  for n in "${ENVS[@]}"; do [[ "${n}" == "${1:0:3}"* ]] && guess="; did you mean '${n}'?"; done
  die "unknown environment '$1' (have: ${ENVS[*]})${guess}"
}

build_one() {
  local name="$1" dir="${ROOT}/envs/$1" py stamp want extras
  check_name "${name}"
  # The fast path needs neither uv nor an interpreter search: cron calls this every night.
  want="$(sha256sum "${dir}/uv.lock" | cut -d" " -f1) src=${LEROBOT_SRC:-} pyc=1"
  stamp="${dir}/.venv/.built-from"
  if [[ -f "${stamp}" && "$(head -n1 "${stamp}")" == "${want}" ]]; then
    return 0
  fi
  need_uv
  py="$(find_python)"
  echo "envs: building '${name}' from envs/${name}/uv.lock with ${py}" >&2
  UV_PYTHON="${py}" "${UV}" sync --quiet --frozen --all-groups --compile-bytecode --project "${dir}"
  if [[ -n "${LEROBOT_SRC:-}" && "${name}" != tools ]]; then
    [[ -f "${LEROBOT_SRC}/pyproject.toml" ]] || die "LEROBOT_SRC=${LEROBOT_SRC} has no pyproject.toml"
    extras="$(grep -o 'lerobot\[[^]]*\]' "${dir}/pyproject.toml" | head -n1 | sed 's/^lerobot//')"
    echo "envs: installing LeRobot editable from ${LEROBOT_SRC}${extras}" >&2
    "${UV}" pip install --quiet --python "${dir}/.venv/bin/python" -e "${LEROBOT_SRC}${extras}"
  fi
  printf '%s\npython=%s\n' "${want}" "${py}" >"${stamp}"
}

main() {
  local cmd="${1:-}"; shift || true
  case "${cmd}" in
    build) [[ $# -gt 0 ]] || set -- "${ENVS[@]}"; for n in "$@"; do build_one "${n}"; done ;;
    lock)
      need_uv; [[ $# -gt 0 ]] || set -- "${ENVS[@]}"
      for n in "$@"; do check_name "${n}"; echo "envs: locking ${n}" >&2
        UV_PYTHON="$(find_python)" "${UV}" lock --project "${ROOT}/envs/${n}"; done ;;
    python) need_uv; find_python ;;
    -h|--help|help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
