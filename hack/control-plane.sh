#!/usr/bin/env bash
# Local, envtest-like Kubernetes control plane (etcd + kube-apiserver, no
# controller-manager, no scheduler, no nodes) for the tests and the demo.
#
#   hack/control-plane.sh up       start (builds binaries on first use), wait until ready
#   hack/control-plane.sh down     stop what `up` started, drop the etcd data
#   hack/control-plane.sh env      print `export KUBECONFIG=...`
#   hack/control-plane.sh status   running/stopped, pids, URL (exit 0 running, 3 stopped)
#   hack/control-plane.sh kill-apiserver   SIGKILL kube-apiserver only; etcd and its data stay
#   hack/control-plane.sh start-apiserver  start it again (same port, pki, etcd), wait until ready
#
# Environment:
#   CONTROL_PLANE_PORT        kube-apiserver port on 127.0.0.1 (default 6443; "auto" = any free port)
#   CONTROL_PLANE_ETCD_PORT   etcd client port (default "auto"); peer port is CONTROL_PLANE_ETCD_PEER_PORT (default "auto")
#   CONTROL_PLANE_DIR         state dir: kubeconfig, logs, pids, pki (default <repo>/.control-plane)
#   CONTROL_PLANE_TIMEOUT     seconds to wait for etcd / kube-apiserver readiness (default 120)
#   SD_OPERATOR_CACHE         binary/build cache (default ~/.cache/sd-operator)
#   KUBE_VERSION, ETCD_VERSION  releases to build (see hack/lib.sh)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib.sh
source "$ROOT/hack/lib.sh"

STATE_DIR="${CONTROL_PLANE_DIR:-$ROOT/.control-plane}"
LOG_DIR="$STATE_DIR/logs"
PKI_DIR="$STATE_DIR/pki"
KUBECONFIG_PATH="$STATE_DIR/kubeconfig"
STATE_FILE="$STATE_DIR/state.env"
ETCD_PID="$STATE_DIR/etcd.pid"
APISERVER_PID="$STATE_DIR/kube-apiserver.pid"
TIMEOUT="${CONTROL_PLANE_TIMEOUT:-120}"
SERVICE_CIDR="10.0.0.0/24"
SERVICE_IP="10.0.0.1"

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------- helpers ---

port_in_use() {  # true if something accepts TCP connections on 127.0.0.1:$1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
}

free_port() {  # a port that nothing listens on (best effort; excludes $@)
  # Below the kernel's ephemeral range: a port from inside it can be handed to some other
  # process's outgoing connection between this check and etcd's bind (seen on shared hosts).
  local p i low=20000 span=12000 ephemeral
  ephemeral=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true)
  if [[ "$ephemeral" =~ ^[0-9]+$ ]] && ((ephemeral > low + 1000)); then
    span=$((ephemeral - low))
  fi
  for ((i = 0; i < 200; i++)); do
    p=$((low + RANDOM % span))
    [[ " $* " == *" $p "* ]] && continue
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  die "could not find a free TCP port on 127.0.0.1"
}

pick_port() {  # pick_port VALUE WHAT ENVVAR EXCLUDE... -> port; dies if VALUE is taken
  local want="$1" what="$2" var="$3"; shift 3
  if [[ "$want" == auto || "$want" == 0 ]]; then
    free_port "$@"
    return 0
  fi
  [[ "$want" =~ ^[0-9]+$ ]] || die "$var must be a port number or 'auto', got '$want'"
  if port_in_use "$want"; then
    local owner; owner=$(port_owner "$want")
    die "$what port 127.0.0.1:$want is already in use${owner:+ (by $owner)}; stop that process or choose another port, e.g. $var=auto $0 up"
  fi
  echo "$want"
}

# The command line of each process we start contains a path that is unique
# to this state dir; pid_alive() checks it so a recycled pid is never taken
# for ours (and `down` never signals a process it did not start).
marker_for() {
  case "$1" in
    etcd) echo "${ETCD_DATA_DIR:-/nonexistent}" ;;
    kube-apiserver) echo "$PKI_DIR" ;;
  esac
}

# pid_alive PIDFILE NAME: the pid in PIDFILE is running and is our NAME process.
pid_alive() {
  local pidfile="$1" name="$2" pid cmdline
  [[ -f "$pidfile" ]] || return 1
  pid=$(<"$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ "$cmdline" == *"$name"* && "$cmdline" == *"$(marker_for "$name")"* ]]
}

stop_pid() {  # stop_pid PIDFILE NAME
  local pidfile="$1" name="$2" pid i
  if pid_alive "$pidfile" "$name"; then
    pid=$(<"$pidfile")
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) did not exit after 10s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

load_state() {
  API_PORT="" ETCD_PORT="" ETCD_PEER_PORT="" ETCD_DATA_DIR=""
  if [[ -f "$STATE_FILE" ]]; then
    # shellcheck source=/dev/null
    source "$STATE_FILE"
  fi
}

api_url() { echo "https://127.0.0.1:${API_PORT}"; }

admin_token() { cut -d, -f1 "$PKI_DIR/tokens.csv"; }

apiserver_ready() {  # /readyz answers ok
  [[ -n "${API_PORT:-}" ]] || return 1
  curl -fsS --max-time 5 --cacert "$PKI_DIR/ca.crt" \
    -H "Authorization: Bearer $(admin_token)" "$(api_url)/readyz" >/dev/null 2>&1
}

etcd_healthy() {
  [[ -n "${ETCD_PORT:-}" ]] || return 1
  curl -fsS --max-time 3 "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"'
}

is_running() {
  load_state
  pid_alive "$ETCD_PID" etcd && pid_alive "$APISERVER_PID" kube-apiserver && apiserver_ready
}

# -------------------------------------------------------------------- pki ---

gen_pki() {
  mkdir -p "$PKI_DIR"
  chmod 700 "$PKI_DIR"
  command -v openssl >/dev/null 2>&1 || die "openssl is needed to generate the control-plane certificates and keys"
  if [[ ! -f "$PKI_DIR/ca.crt" || ! -f "$PKI_DIR/ca.key" ]]; then
    log "generating CA"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 \
      -keyout "$PKI_DIR/ca.key" -out "$PKI_DIR/ca.crt" \
      -subj "/CN=sd-operator-control-plane-ca" >/dev/null 2>&1 || die "openssl failed to create the CA"
    rm -f "$PKI_DIR/apiserver.crt"
  fi
  if [[ ! -f "$PKI_DIR/apiserver.crt" || ! -f "$PKI_DIR/apiserver.key" ]]; then
    log "generating kube-apiserver serving certificate"
    cat >"$PKI_DIR/apiserver.ext" <<EOF
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$SERVICE_IP
EOF
    openssl req -newkey rsa:2048 -nodes -sha256 \
      -keyout "$PKI_DIR/apiserver.key" -out "$PKI_DIR/apiserver.csr" \
      -subj "/CN=kube-apiserver" >/dev/null 2>&1 || die "openssl failed to create the serving key"
    openssl x509 -req -in "$PKI_DIR/apiserver.csr" -CA "$PKI_DIR/ca.crt" -CAkey "$PKI_DIR/ca.key" \
      -CAcreateserial -days 3650 -sha256 -extfile "$PKI_DIR/apiserver.ext" \
      -out "$PKI_DIR/apiserver.crt" >/dev/null 2>&1 || die "openssl failed to sign the serving certificate"
  fi
  if [[ ! -f "$PKI_DIR/sa.key" || ! -f "$PKI_DIR/sa.pub" ]]; then
    log "generating service-account signing key"
    openssl genrsa -out "$PKI_DIR/sa.key" 2048 >/dev/null 2>&1 || die "openssl failed to create sa.key"
    openssl rsa -in "$PKI_DIR/sa.key" -pubout -out "$PKI_DIR/sa.pub" >/dev/null 2>&1 || die "openssl failed to write sa.pub"
  fi
  if [[ ! -s "$PKI_DIR/tokens.csv" ]]; then
    # token,user,uid,"groups"
    printf '%s,admin,admin,"system:masters"\n' "$(openssl rand -hex 32)" >"$PKI_DIR/tokens.csv"
  fi
  chmod 600 "$PKI_DIR"/*.key "$PKI_DIR/tokens.csv"
}

write_kubeconfig() {
  local ca tmp
  ca=$(base64 -w0 <"$PKI_DIR/ca.crt")
  tmp="$KUBECONFIG_PATH.tmp"
  (umask 077 && cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sd-operator-control-plane
  cluster:
    server: $(api_url)
    certificate-authority-data: $ca
users:
- name: admin
  user:
    token: $(admin_token)
contexts:
- name: sd-operator-control-plane
  context:
    cluster: sd-operator-control-plane
    user: admin
    namespace: default
current-context: sd-operator-control-plane
EOF
  )
  mv -f "$tmp" "$KUBECONFIG_PATH"
}

# ---------------------------------------------------------------- commands ---

fail_up() {  # fail_up LOGFILE MESSAGE: show the log tail, stop what we started, exit 1
  local logfile="$1" msg="$2"
  printf -- '----- last lines of %s -----\n' "$logfile" >&2
  tail -n 30 "$logfile" >&2 || true
  printf -- '-----\n' >&2
  stop_all
  die "$msg; full log: $logfile"
}

wait_for() {  # wait_for WHAT LOGFILE PIDFILE NAME CHECK-FUNCTION
  local what="$1" logfile="$2" pidfile="$3" name="$4" check="$5" start=$SECONDS
  until "$check"; do
    if ! pid_alive "$pidfile" "$name"; then
      fail_up "$logfile" "$what exited during startup"
    fi
    if ((SECONDS - start >= TIMEOUT)); then
      fail_up "$logfile" "$what not healthy after ${TIMEOUT}s (raise CONTROL_PLANE_TIMEOUT?)"
    fi
    sleep 0.5
  done
}

start_apiserver() {  # start_apiserver BINARY ETCD-URL: kube-apiserver on $API_PORT, in the background
  local bin="$1" etcd_url="$2"
  log "starting kube-apiserver $KUBE_VERSION on $(api_url)"
  setsid "$bin" \
    --etcd-servers "$etcd_url" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$PKI_DIR" \
    --tls-cert-file "$PKI_DIR/apiserver.crt" --tls-private-key-file "$PKI_DIR/apiserver.key" \
    --client-ca-file "$PKI_DIR/ca.crt" \
    --token-auth-file "$PKI_DIR/tokens.csv" \
    --authorization-mode RBAC \
    --service-account-key-file "$PKI_DIR/sa.pub" \
    --service-account-signing-key-file "$PKI_DIR/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --api-audiences https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --disable-admission-plugins ServiceAccount \
    --allow-privileged=true \
    --profiling=false \
    --enable-priority-and-fairness=false \
    </dev/null >>"$LOG_DIR/kube-apiserver.log" 2>&1 9>&- &
  echo $! >"$APISERVER_PID"
}

cmd_up() {
  mkdir -p "$STATE_DIR" "$LOG_DIR"
  # The lock fd (9) is closed in the etcd/kube-apiserver processes (9>&-)
  # so that only a running up/down holds it.
  exec 9>"$STATE_DIR/.lock"
  flock -w 1800 9 || die "another '$0' is still running for $STATE_DIR"

  if is_running; then
    log "control plane already running at $(api_url) (etcd pid $(<"$ETCD_PID"), kube-apiserver pid $(<"$APISERVER_PID"))"
    echo "export KUBECONFIG=$KUBECONFIG_PATH"
    return 0
  fi
  # Anything half-started (or stale pid files) is cleaned up first.
  if [[ -f "$ETCD_PID" || -f "$APISERVER_PID" || -f "$STATE_FILE" ]]; then
    log "found a stale or unhealthy control plane in $STATE_DIR; cleaning up first"
    stop_all
  fi

  command -v curl >/dev/null 2>&1 || die "curl is needed for health checks"
  local t0=$SECONDS etcd_bin apiserver_bin kubectl_bin
  etcd_bin=$(ensure_etcd)
  apiserver_bin=$(ensure_kube_apiserver)
  kubectl_bin=$(ensure_kubectl)

  API_PORT=$(pick_port "${CONTROL_PLANE_PORT:-6443}" kube-apiserver CONTROL_PLANE_PORT)
  ETCD_PORT=$(pick_port "${CONTROL_PLANE_ETCD_PORT:-auto}" "etcd client" CONTROL_PLANE_ETCD_PORT "$API_PORT")
  ETCD_PEER_PORT=$(pick_port "${CONTROL_PLANE_ETCD_PEER_PORT:-auto}" "etcd peer" CONTROL_PLANE_ETCD_PEER_PORT "$API_PORT" "$ETCD_PORT")
  local shm=/dev/shm
  [[ -d "$shm" && -w "$shm" ]] || shm="${TMPDIR:-/tmp}"
  ETCD_DATA_DIR=$(mktemp -d "$shm/sd-operator-etcd.XXXXXX")
  cat >"$STATE_FILE" <<EOF
API_PORT=$API_PORT
ETCD_PORT=$ETCD_PORT
ETCD_PEER_PORT=$ETCD_PEER_PORT
ETCD_DATA_DIR=$ETCD_DATA_DIR
EOF
  gen_pki

  log "starting etcd $ETCD_VERSION on 127.0.0.1:$ETCD_PORT (data: $ETCD_DATA_DIR)"
  local etcd_url="http://127.0.0.1:$ETCD_PORT" peer_url="http://127.0.0.1:$ETCD_PEER_PORT"
  setsid "$etcd_bin" \
    --name sd-operator-cp \
    --data-dir "$ETCD_DATA_DIR" \
    --listen-client-urls "$etcd_url" --advertise-client-urls "$etcd_url" \
    --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
    --initial-cluster "sd-operator-cp=$peer_url" \
    --initial-cluster-state new \
    --unsafe-no-fsync \
    --log-level warn \
    --quota-backend-bytes $((2 * 1024 * 1024 * 1024)) \
    </dev/null >"$LOG_DIR/etcd.log" 2>&1 9>&- &
  echo $! >"$ETCD_PID"
  wait_for etcd "$LOG_DIR/etcd.log" "$ETCD_PID" etcd etcd_healthy

  : >"$LOG_DIR/kube-apiserver.log"
  start_apiserver "$apiserver_bin" "$etcd_url"
  write_kubeconfig
  wait_for kube-apiserver "$LOG_DIR/kube-apiserver.log" "$APISERVER_PID" kube-apiserver apiserver_ready

  # No controller-manager runs; make sure the default namespace exists.
  if ! "$kubectl_bin" --kubeconfig "$KUBECONFIG_PATH" get namespace default >/dev/null 2>&1; then
    "$kubectl_bin" --kubeconfig "$KUBECONFIG_PATH" create namespace default >/dev/null 2>&1 \
      || "$kubectl_bin" --kubeconfig "$KUBECONFIG_PATH" get namespace default >/dev/null \
      || die "could not create the default namespace; log: $LOG_DIR/kube-apiserver.log"
  fi
  log "control plane ready at $(api_url) in $((SECONDS - t0))s; kubeconfig: $KUBECONFIG_PATH; logs: $LOG_DIR"
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

stop_all() {
  load_state
  stop_pid "$APISERVER_PID" kube-apiserver
  stop_pid "$ETCD_PID" etcd
  # Only remove a data dir that this script created (recorded in state.env).
  if [[ -n "${ETCD_DATA_DIR:-}" && "$ETCD_DATA_DIR" == */sd-operator-etcd.* && -d "$ETCD_DATA_DIR" ]]; then
    rm -rf -- "$ETCD_DATA_DIR"
  fi
  rm -f "$STATE_FILE" "$KUBECONFIG_PATH"
}

cmd_down() {
  if [[ ! -d "$STATE_DIR" ]]; then
    log "control plane not running (no $STATE_DIR)"
    return 0
  fi
  exec 9>"$STATE_DIR/.lock"
  flock -w 1800 9 || die "another '$0' is still running for $STATE_DIR"
  stop_all
  log "control plane stopped; logs kept in $LOG_DIR"
}

# The fault tests kill kube-apiserver under a running operator and bring it back on the same
# port, certificates and etcd (so every object survives), as a crashed or upgraded API server.
cmd_kill_apiserver() {
  exec 9>"$STATE_DIR/.lock"
  flock -w 1800 9 || die "another '$0' is still running for $STATE_DIR"
  load_state
  pid_alive "$APISERVER_PID" kube-apiserver || die "kube-apiserver is not running (see: $0 status)"
  local pid; pid=$(<"$APISERVER_PID")
  log "killing kube-apiserver (pid $pid, SIGKILL); etcd keeps running"
  kill -KILL "$pid" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$APISERVER_PID"
}

cmd_start_apiserver() {
  exec 9>"$STATE_DIR/.lock"
  flock -w 1800 9 || die "another '$0' is still running for $STATE_DIR"
  load_state
  pid_alive "$ETCD_PID" etcd || die "etcd is not running: start the whole control plane with: $0 up"
  if pid_alive "$APISERVER_PID" kube-apiserver; then
    log "kube-apiserver already running (pid $(<"$APISERVER_PID"))"
    return 0
  fi
  port_in_use "$API_PORT" && die "port 127.0.0.1:$API_PORT is taken; kube-apiserver cannot come back on it"
  local t0=$SECONDS
  start_apiserver "$(ensure_kube_apiserver)" "http://127.0.0.1:$ETCD_PORT"
  # Not wait_for: a failed restart must not take etcd (and every object) down with it.
  until apiserver_ready; do
    if ! pid_alive "$APISERVER_PID" kube-apiserver || ((SECONDS - t0 >= TIMEOUT)); then
      tail -n 30 "$LOG_DIR/kube-apiserver.log" >&2 || true
      die "kube-apiserver did not come back within ${TIMEOUT}s; log: $LOG_DIR/kube-apiserver.log"
    fi
    sleep 0.5
  done
  log "kube-apiserver ready again at $(api_url) in $((SECONDS - t0))s"
}

cmd_env() {
  if ! is_running; then
    log "warning: control plane is not running; start it with: $0 up"
  fi
  echo "export KUBECONFIG=$KUBECONFIG_PATH"
}

cmd_status() {
  load_state
  local e="stopped" a="stopped"
  pid_alive "$ETCD_PID" etcd && e="running (pid $(<"$ETCD_PID"), http://127.0.0.1:$ETCD_PORT)"
  if pid_alive "$APISERVER_PID" kube-apiserver; then
    a="running (pid $(<"$APISERVER_PID"), $(api_url))"
    apiserver_ready || a="$a, NOT ready"
  fi
  if is_running; then
    echo "control plane: running at $(api_url)"
  else
    echo "control plane: stopped"
  fi
  echo "  etcd:           $e"
  echo "  kube-apiserver: $a"
  echo "  kubeconfig:     $KUBECONFIG_PATH"
  echo "  logs:           $LOG_DIR"
  is_running || return 3
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  status) cmd_status ;;
  kill-apiserver) cmd_kill_apiserver ;;
  start-apiserver) cmd_start_apiserver ;;
  -h | --help | help) usage ;;
  *) usage ;;
esac
