#!/usr/bin/env bash
# `make certs`: a private CA and certificates for mutual TLS between `make serve` on the GPU box
# and `make robot` on the robot PC, one folder per machine so the CA key goes nowhere:
#   DIR/server/  ca.pem server.pem server.key  stays on the GPU box (make serve TLS_DIR=DIR/server)
#   DIR/robot/   ca.pem client.pem client.key  copied to the robot PC (make robot TLS_DIR=<copy>)
#   DIR/ca/      ca.pem ca.key                 copied nowhere: it signs new certificates
# Which folder serve/robot accept is checked in scripts/deploy/tls_layout.py.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/deploy/certs.sh DIR [SERVER_NAME...]
  DIR          gets server/, robot/ and ca/ (refuses to overwrite any of them)
  SERVER_NAME  names or IPs the client will dial (default: localhost 127.0.0.1)
USAGE
}

die() { echo "certs: error: $*" >&2; exit 1; }

san() {
  local n out=""
  for n in "$@"; do
    if [[ "${n}" =~ ^[0-9.]+$ || "${n}" == *:* ]]; then out+="IP:${n},"; else out+="DNS:${n},"; fi
  done
  echo "${out%,}"
}

sign() {  # sign <dir> <folder/name> <CN> <extensions>
  local dir="$1" name="$2" cn="$3" ext="$4"
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=${cn}" \
    -keyout "${dir}/${name}.key" -out "${dir}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${dir}/${name}.csr" -CA "${dir}/ca/ca.pem" -CAkey "${dir}/ca/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile <(printf '%s\n' "${ext}") \
    -out "${dir}/${name}.pem" 2>/dev/null
  rm -f "${dir}/${name}.csr"
}

STAGE=""
cleanup() { [[ -z "${STAGE}" ]] || rm -rf "${STAGE}"; }

main() {
  [[ $# -ge 1 && "$1" != "-h" && "$1" != "--help" ]] || { usage; [[ $# -ge 1 ]]; exit; }
  command -v openssl >/dev/null || die "openssl not found (apt install openssl)"
  local dir="${1%/}" sub; shift
  [[ $# -gt 0 ]] || set -- localhost 127.0.0.1
  for sub in ca server robot ca.pem; do
    [[ ! -e "${dir}/${sub}" ]] || die "${dir}/${sub} exists: choose another TLS_DIR (nothing is replaced)"
  done
  [[ -d "${dir}" ]] || { mkdir -p "${dir}" && chmod 700 "${dir}"; }
  trap cleanup EXIT
  STAGE="$(mktemp -d "${dir}/.certs-tmp-XXXXXX")"
  mkdir -m 700 "${STAGE}/ca" "${STAGE}/server" "${STAGE}/robot"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 825 -subj "/CN=lerobot-ops deploy CA" \
    -keyout "${STAGE}/ca/ca.key" -out "${STAGE}/ca/ca.pem" 2>/dev/null
  sign "${STAGE}" server/server "$1" "subjectAltName=$(san "$@")
extendedKeyUsage=serverAuth"
  sign "${STAGE}" robot/client robot-client "extendedKeyUsage=clientAuth"
  cp "${STAGE}/ca/ca.pem" "${STAGE}/server/" && cp "${STAGE}/ca/ca.pem" "${STAGE}/robot/"
  chmod 600 "${STAGE}"/*/*.key
  mv "${STAGE}/ca" "${STAGE}/server" "${STAGE}/robot" "${dir}/"
  cat <<DONE
certs: wrote mutual-TLS certificates for $* into ${dir}:
  ${dir}/server  stays on the GPU box:  make serve ALLOW_REMOTE=1 HOST=... TLS_DIR=${dir}/server
  ${dir}/robot   copy this folder (only this one) to the robot PC; there:  make robot TLS_DIR=<the copy>
  ${dir}/ca      the CA's private key: copy it nowhere (it signs new certificates)
DONE
}

main "$@"
