#!/bin/bash
# countersign-healthcheck [PATH] [PORT]
#
# Exits 0 when GET http://127.0.0.1:PORT/PATH answers 200, 1 otherwise. For container
# health checks in images that have bash but no curl or wget.
#   PATH  default /readyz (the service's readiness; the gateway's is /healthz)
#   PORT  default: the port of COUNTERSIGN_LISTEN, else 8420
#   COUNTERSIGN_HEALTHCHECK_HOST  the address to ask, default 127.0.0.1
set -euo pipefail

path=${1:-/readyz}
listen=${COUNTERSIGN_LISTEN:-127.0.0.1:8420}
port=${2:-${listen##*:}}
host=${COUNTERSIGN_HEALTHCHECK_HOST:-127.0.0.1}

if ! exec 3<>"/dev/tcp/${host}/${port}"; then
  echo "no answer on ${host}:${port}" >&2
  exit 1
fi
printf 'GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: countersign-healthcheck\r\nConnection: close\r\n\r\n' \
  "$path" "$host" >&3
status=""
IFS= read -r -t 4 status <&3 || true
exec 3<&- 3>&-
status=${status%$'\r'}
case "$status" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) echo "GET ${path}: ${status:-no response}" >&2; exit 1 ;;
esac
