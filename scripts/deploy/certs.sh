#!/usr/bin/env bash
# `make certs`: a private CA, a server certificate and a client certificate for mutual TLS
# between `make serve ALLOW_REMOTE=1 TLS_DIR=...` and `make robot TLS_DIR=...`.
# The server requires a client certificate signed by this CA; the client checks the server's.
# Copy the directory to the robot PC as is (ca.pem, client.pem, client.key are what it uses).
set -euo pipefail

usage() {
  cat <<USAGE
Usage: scripts/deploy/certs.sh DIR [SERVER_NAME...]
  DIR          where ca.pem/key, server.pem/key, client.pem/key are written (refuses to overwrite)
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

sign() {  # sign <name> <CN> <extensions>
  local dir="$1" name="$2" cn="$3" ext="$4"
  openssl req -new -newkey rsa:2048 -nodes -subj "/CN=${cn}" \
    -keyout "${dir}/${name}.key" -out "${dir}/${name}.csr" 2>/dev/null
  openssl x509 -req -in "${dir}/${name}.csr" -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" \
    -CAcreateserial -days 825 -sha256 -extfile <(printf '%s\n' "${ext}") \
    -out "${dir}/${name}.pem" 2>/dev/null
  rm -f "${dir}/${name}.csr"
}

main() {
  [[ $# -ge 1 && "$1" != "-h" && "$1" != "--help" ]] || { usage; [[ $# -ge 1 ]]; exit; }
  command -v openssl >/dev/null || die "openssl not found (apt install openssl)"
  local dir="$1"; shift
  [[ $# -gt 0 ]] || set -- localhost 127.0.0.1
  [[ ! -e "${dir}/ca.pem" ]] || die "${dir}/ca.pem exists: remove ${dir} to make new certificates"
  mkdir -p "${dir}" && chmod 700 "${dir}"
  openssl req -x509 -new -newkey rsa:2048 -nodes -days 825 -subj "/CN=lerobot-ops deploy CA" \
    -keyout "${dir}/ca.key" -out "${dir}/ca.pem" 2>/dev/null
  sign "${dir}" server "$1" "subjectAltName=$(san "$@")
extendedKeyUsage=serverAuth"
  sign "${dir}" client robot-client "extendedKeyUsage=clientAuth"
  chmod 600 "${dir}"/*.key
  echo "certs: wrote ${dir}/{ca,server,client}.{pem,key} for $*"
}

main "$@"
