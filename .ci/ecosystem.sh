#!/usr/bin/env bash
# tap-postmark in the real Singer ecosystem, against the Postmark simulator on loopback:
#   the manylinux2014 wheel (maturin --zig, auditwheel, the oldest and newest Python here running
#   --about and --demo), the maturin wheels (tap-postmark and postmark-sim on a venv's PATH), singer-check-tap on a
#   full sync of every stream and on the resumed one, Meltano (install, config test, select,
#   invoke --about, run into PostgreSQL, JSON Lines and CSV, incremental state), the `pii`
#   mapping (meltano-map-transform) into PostgreSQL with no plain address left (.ci/pii_check.py),
#   deletions carried into PostgreSQL by ACTIVATE_VERSION (.ci/deletion_check.py), a Yoast/Mage
#   config, and the Hub-style definition as Meltano installs it.
# Every loader's tables or files must hold exactly the key set of the tap's own output; that output
# is checked against a plain Python reading of the simulator's API (every stream but statistics)
# and is what the Rust integration tests prove equal to the simulator's ground truth.
#
# Idempotent; installs what it needs on a clean Debian machine (as root: apt-get for PostgreSQL
# and python3-venv when missing). Python tools live in venvs under
# ${XDG_CACHE_HOME:-$HOME/.cache}/tap-postmark-ci and are reused. KEEP_WORK=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# No argument: every check. --tools: the prerequisites and Python tools only. --manylinux: those
# and the manylinux2014 wheel only. --no-manylinux: everything else (CI runs the two beside).
MODE=${1:-}
case "$MODE" in "" | --tools | --manylinux | --no-manylinux) ;; *) echo "usage: $0 [--tools|--manylinux|--no-manylinux]" >&2; exit 2 ;; esac
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/tap-postmark-ci"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tap-postmark-ecosystem.XXXXXX")
chmod 711 "$WORK"
mkdir -p "$CACHE"

# Versions of the tools (the loaders' versions are whatever meltano/meltano.yml's pip_url gets).
# maturin, with zig as the linker of the manylinux2014 wheel and auditwheel to check its tag.
MATURIN_SPEC='maturin>=1.5,<2 ziglang==0.17.1 auditwheel==6.8.2'
SINGER_TOOLS_SPEC='singer-tools==0.4.1'
MELTANO_SPEC='meltano==4.4.1'
# The simulated account: small, every kind of record, no 10,000-row spike.
SIM_ARGS=(--servers 3 --days 10 --messages-per-day 100 --spike-messages 0)
LOOKBACK_HOURS=24

STEP="setup"
STEP_T0=$(date +%s)
ALL_T0=$STEP_T0
SIM_PID=""
PG_DATA=""
PG_BIN=""

step() {
    STEP=$1
    STEP_T0=$(date +%s)
    echo
    echo "== $1"
}
ok() { echo "-- ok ($(($(date +%s) - STEP_T0))s): $*"; }
die() {
    echo "-- FAILED [$STEP]: $*" >&2
    exit 1
}
# run LOG CMD...: run CMD with its output in LOG; on failure show the end of LOG and stop.
run() {
    local log=$1
    shift
    if ! "$@" >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "$(basename "$1") failed (log: $log)"
    fi
}
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
cleanup() {
    local rc=$?
    if [ -n "$SIM_PID" ]; then
        kill "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
    fi
    if [ -n "$PG_DATA" ]; then
        (cd "$WORK" && as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1) || true
    fi
    if [ "$rc" -ne 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "ecosystem: work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# left_out LOG WHO: `meltano select --list --all` in LOG excludes every stream of opt-in.txt.
left_out() {
    local s
    while read -r s; do
        grep -q "\[excluded *\] $s\." "$1" || die "$2 selects $s"
    done <"$WORK/opt-in.txt"
}
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pg_ctl_path() {
    ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1
}
# venv NAME SPEC: a cached venv with SPEC's requirements (space-separated) installed (rebuilt
# when SPEC changes).
venv() {
    local dir="$CACHE/$1" spec=$2 reqs
    read -ra reqs <<<"$spec"
    if [ ! -x "$dir/bin/python" ] || [ "$(cat "$dir/.spec" 2>/dev/null)" != "$spec" ]; then
        rm -rf "$dir"
        python3 -m venv "$dir"
        run "$WORK/pip-$1.log" "$dir/bin/pip" install --disable-pip-version-check -q "${reqs[@]}"
        echo "$spec" >"$dir/.spec"
    fi
}

# ---------------------------------------------------------------------------------------------
step "prerequisites"
missing=()
command -v psql >/dev/null || missing+=(postgresql-client)
[ -n "$(pg_ctl_path)" ] || missing+=(postgresql)
python3 -c 'import sys; assert sys.version_info >= (3, 11)' || die "the helpers in .ci/ need python3 >= 3.11"
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
python3 -c 'import zoneinfo; zoneinfo.ZoneInfo("America/New_York")' 2>/dev/null || missing+=(tzdata)
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing ${missing[*]} and not root to install them"
    run "$WORK/apt.log" apt-get update
    run "$WORK/apt-install.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
PG_BIN=$(dirname "$(pg_ctl_path)")
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi
ok "python $(python3 -c 'import platform; print(platform.python_version())'), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}'), ${missing[*]:-nothing} installed"

step "python tools (cached in $CACHE)"
venv maturin "$MATURIN_SPEC"
venv singer-tools "$SINGER_TOOLS_SPEC"
venv meltano "$MELTANO_SPEC"
CHECK_TAP="$CACHE/singer-tools/bin/singer-check-tap"
ok "$("$CACHE/maturin/bin/maturin" --version), singer-tools $("$CACHE/singer-tools/bin/python" -c 'import importlib.metadata as m; print(m.version("singer-tools"))'), meltano $("$CACHE/meltano/bin/python" -c 'import importlib.metadata as m; print(m.version("meltano"))')"

# `--tools`: only the prerequisites and the Python tools (CI fetches them while the tests build).
[ "$MODE" != --tools ] || exit 0

if [ "$MODE" != --no-manylinux ]; then
step "manylinux2014 wheel (maturin --zig): glibc 2.17, in the oldest and newest Python here"
[ "$(uname -m)" = x86_64 ] || die "the manylinux2014 wheel is built and checked for x86_64 only"
# zig links against glibc 2.17's symbols, so the wheel installs on any x86_64 Linux of the
# last decade (Ubuntu 18.04+, Debian 9+, RHEL/CentOS 7+, Amazon Linux 2).
# Its own target directory: another target's build, which need not wait on the native one's lock.
run "$WORK/maturin-2014.log" env PATH="$CACHE/maturin/bin:$PATH" CARGO_TARGET_DIR="$ROOT/target/manylinux2014" \
    "$CACHE/maturin/bin/maturin" build \
    --release --locked --zig --compatibility manylinux2014 --target x86_64-unknown-linux-gnu --out "$WORK/dist-2014"
WHEEL_2014=$(ls "$WORK"/dist-2014/tap_postmark-*.whl)
run "$WORK/auditwheel.txt" "$CACHE/maturin/bin/auditwheel" show "$WHEEL_2014"
tr -s ' \n' ' ' <"$WORK/auditwheel.txt" | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"' ||
    { cat "$WORK/auditwheel.txt" >&2; die "auditwheel does not take $(basename "$WHEEL_2014") for manylinux_2_17_x86_64"; }
# Every Python 3.8+ with venv on the machine (the PATH's and pyenv's), by version.
for p in $(compgen -c | grep -E '^python3(\.[0-9]+)?$' | sort -u) "$HOME"/.pyenv/versions/*/bin/python3; do
    v=$("$p" -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 8); print("%d.%02d" % sys.version_info[:2])' 2>/dev/null) &&
        echo "$v $(command -v "$p")"
done | sort -u -k1,1 >"$WORK/pythons.txt"
[ -s "$WORK/pythons.txt" ] || die "no Python 3.8+ with venv on the machine"
checked=""
for p in $(head -n 1 "$WORK/pythons.txt" | cut -d' ' -f2) $(tail -n 1 "$WORK/pythons.txt" | cut -d' ' -f2); do
    v=$("$p" -c 'import platform; print(platform.python_version())')
    case " $checked " in *" $v "*) continue ;; esac
    "$p" -m venv "$WORK/py-$v"
    run "$WORK/pip-2014-$v.log" "$WORK/py-$v/bin/pip" install --disable-pip-version-check -q --no-index "$WHEEL_2014"
    [ "$("$WORK/py-$v/bin/tap-postmark" --about | head -n 1)" = "Name: tap-postmark" ] || die "Python $v: --about failed"
    "$WORK/py-$v/bin/tap-postmark" --demo >"$WORK/demo-$v.jsonl" 2>"$WORK/demo-$v.err" ||
        { tail -n 5 "$WORK/demo-$v.err" >&2; die "Python $v: --demo failed"; }
    records=$(grep -c '^{"type":"RECORD"' "$WORK/demo-$v.jsonl" || true)
    [ "$records" -gt 1000 ] || die "Python $v: --demo wrote $records records"
    checked="$checked $v"
done
checked=${checked# }
ok "$(basename "$WHEEL_2014") (auditwheel: manylinux_2_17_x86_64); --about and --demo from Python ${checked// / and } (of $(wc -l <"$WORK/pythons.txt") Python versions here)"
fi
[ "$MODE" != --manylinux ] || exit 0

step "wheel (maturin build --release) installed in a fresh venv"
run "$WORK/maturin.log" "$CACHE/maturin/bin/maturin" build --release --locked --out "$WORK/dist"
run "$WORK/maturin-sim.log" "$CACHE/maturin/bin/maturin" build --release --locked -m postmark-sim/Cargo.toml --out "$WORK/dist"
WHEEL=$(ls "$WORK"/dist/tap_postmark-*.whl)
SIM_WHEEL=$(ls "$WORK"/dist/postmark_sim-*.whl)
python3 -m venv "$WORK/tap-venv"
run "$WORK/pip-wheel.log" "$WORK/tap-venv/bin/pip" install --disable-pip-version-check -q --no-index "$WHEEL" "$SIM_WHEEL"
TAP="$WORK/tap-venv/bin/tap-postmark"
SIM="$WORK/tap-venv/bin/postmark-sim"
CARGO_VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["package"]["version"])')
[ "$("$TAP" --version)" = "tap-postmark $CARGO_VERSION" ] || die "tap-postmark --version: $("$TAP" --version), Cargo.toml: $CARGO_VERSION"
"$SIM" --version >/dev/null || die "postmark-sim is not in its wheel"
ok "$(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB): $("$TAP" --version) and postmark-sim on the venv's PATH"

step "simulator"
"$SIM" --port 0 "${SIM_ARGS[@]}" >"$WORK/sim.out" 2>"$WORK/sim.err" &
SIM_PID=$!
for _ in $(seq 300); do
    grep -q '^generated ' "$WORK/sim.out" && break
    kill -0 "$SIM_PID" 2>/dev/null || { cat "$WORK/sim.err" >&2; die "postmark-sim exited"; }
    sleep 0.1
done
grep -q '^generated ' "$WORK/sim.out" || die "postmark-sim printed no account"
BASE_URL=$(awk '$1 == "base_url" {print $2}' "$WORK/sim.out")
ACCOUNT_TOKEN=$(awk '$1 == "account_token" {print $2}' "$WORK/sim.out")
SERVER_ID=$(awk '$1 == "server" {print $2}' "$WORK/sim.out" | sed -n 2p)
SERVER_TOKEN=$(awk '$1 == "server" {print $NF}' "$WORK/sim.out" | sed -n 2p)
[ -n "$BASE_URL" ] && [ -n "$ACCOUNT_TOKEN" ] && [ -n "$SERVER_TOKEN" ] || die "cannot read the simulator's URL and tokens"
# A fixed end, before the simulator's anchor minus the tap's 5-minute margin, makes every run
# (direct and through Meltano, minutes apart) read the same data.
START_DATE=$(date -u -d "-$((10 + 2)) days" +%Y-%m-%d)
END_DATE=$(date -u -d '-10 minutes' +%Y-%m-%dT%H:%M:%SZ)
python3 - "$WORK/config.json" "$ACCOUNT_TOKEN" "$BASE_URL" "$START_DATE" "$END_DATE" <<'EOF'
import json, sys
path, token, url, start, end = sys.argv[1:]
json.dump({"postmark_account_token": token, "base_url": url, "start_date": start,
           "end_date": end, "lookback_hours": 24}, open(path, "w"))
EOF
ok "$BASE_URL, $(grep -c '^server ' "$WORK/sim.out") servers, $(sed -n 's/^generated //p' "$WORK/sim.out"); range $START_DATE .. $END_DATE"

step "postgresql (throwaway cluster on loopback)"
PG_DIR="$WORK/pg"
mkdir -p "$PG_DIR"
[ "$(id -u)" = 0 ] && chown postgres "$PG_DIR"
PG_PORT=$(free_port)
(cd "$PG_DIR" && run "$WORK/initdb.log" as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-locale)
PG_DATA="$PG_DIR/data"
(cd "$PG_DIR" && run "$WORK/pg_ctl.log" as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c full_page_writes=off" start)
export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres PGTZ=UTC
psql -X -q -c 'SELECT 1' >/dev/null || die "cannot connect to PostgreSQL"
ok "$(psql -X -At -c 'SHOW server_version') on 127.0.0.1:$PG_PORT"

# ---------------------------------------------------------------------------------------------
step "discover: a catalog with every stream selected"
"$TAP" --config "$WORK/config.json" --discover >"$WORK/catalog.json" 2>"$WORK/discover.err" ||
    { tail -n 30 "$WORK/discover.err" >&2; die "--discover failed"; }
SELECTED=$(python3 .ci/singer_util.py select-all "$WORK/catalog.json" "$WORK/all.json")
python3 .ci/singer_util.py streams "$WORK/catalog.json" >"$WORK/streams.txt"
STREAMS=$(wc -l <"$WORK/streams.txt")
grep -qx message_events "$WORK/streams.txt" || die "no message_events stream"
# The streams that cost one request per record found: not selected by default.
python3 .ci/singer_util.py opt-in "$WORK/catalog.json" >"$WORK/opt-in.txt"
OPT_IN=$(wc -l <"$WORK/opt-in.txt")
[ "$OPT_IN" -ge 4 ] || die "only $OPT_IN streams not selected by default: $(tr '\n' ' ' <"$WORK/opt-in.txt")"
ok "$STREAMS streams discovered, $SELECTED (the $OPT_IN not selected by default included)"

step "singer-check-tap: full sync of every stream (stdin mode)"
if ! "$TAP" --config "$WORK/config.json" --catalog "$WORK/all.json" 2>"$WORK/full.err" |
    tee "$WORK/full.jsonl" | "$CHECK_TAP" >"$WORK/check-full.out" 2>&1; then
    tail -n 30 "$WORK/check-full.out" "$WORK/full.err" >&2
    die "tap or singer-check-tap failed"
fi
grep -q '^The output is valid' "$WORK/check-full.out" || die "singer-check-tap: $(head -n 3 "$WORK/check-full.out")"
read -r FULL_RECORDS FULL_STREAMS < <(python3 .ci/singer_util.py records "$WORK/full.jsonl")
[ "$FULL_STREAMS" = "$STREAMS" ] || die "records for $FULL_STREAMS of $STREAMS streams"
ok "valid: $(sed -n 's/^It contained //p' "$WORK/check-full.out") $FULL_RECORDS records in all $FULL_STREAMS streams"

step "singer-check-tap: resumed from the last STATE"
python3 .ci/singer_util.py last-state "$WORK/full.jsonl" "$WORK/state.json"
if ! "$TAP" --config "$WORK/config.json" --catalog "$WORK/all.json" --state "$WORK/state.json" 2>"$WORK/resumed.err" |
    tee "$WORK/resumed.jsonl" | "$CHECK_TAP" >"$WORK/check-resumed.out" 2>&1; then
    tail -n 30 "$WORK/check-resumed.out" "$WORK/resumed.err" >&2
    die "tap or singer-check-tap failed"
fi
grep -q '^The output is valid' "$WORK/check-resumed.out" || die "singer-check-tap: $(head -n 3 "$WORK/check-resumed.out")"
read -r RESUMED_RECORDS _ < <(python3 .ci/singer_util.py records "$WORK/resumed.jsonl")
[ "$RESUMED_RECORDS" -lt "$FULL_RECORDS" ] || die "resumed run sent $RESUMED_RECORDS records, the full one $FULL_RECORDS"
ok "valid: $(sed -n 's/^It contained //p' "$WORK/check-resumed.out") $RESUMED_RECORDS records (full run: $FULL_RECORDS)"

step "singer-check-tap: statistics per tag (stats_tags [\"*\", \"welcome\"])"
python3 .ci/singer_util.py with-tags "$WORK/config.json" "$WORK/config-tags.json" '*' welcome
"$TAP" --config "$WORK/config-tags.json" --discover >"$WORK/catalog-tags.json" 2>"$WORK/discover-tags.err" ||
    { tail -n 30 "$WORK/discover-tags.err" >&2; die "--discover with stats_tags failed"; }
if ! "$TAP" --config "$WORK/config-tags.json" --catalog "$WORK/catalog-tags.json" 2>"$WORK/tags.err" |
    tee "$WORK/tags.jsonl" | "$CHECK_TAP" >"$WORK/check-tags.out" 2>&1; then
    tail -n 30 "$WORK/check-tags.out" "$WORK/tags.err" >&2
    die "tap or singer-check-tap failed with stats_tags"
fi
grep -q '^The output is valid' "$WORK/check-tags.out" || die "singer-check-tap: $(head -n 3 "$WORK/check-tags.out")"
read -r TAG_ROWS TAGS TAG_STREAMS < <(python3 .ci/singer_util.py tagged-stats "$WORK/tags.jsonl" welcome) ||
    die "statistics per tag: see above"
ok "valid: $TAG_ROWS tagged rows of $TAGS tags in $TAG_STREAMS statistics streams, Tag in every key, no key twice"

step "key sets of the tap's own output (the reference for every loader)"
run "$WORK/truth.log" python3 .ci/count_keys.py truth "$WORK/full.jsonl" "$WORK/truth.json"
ok "$(tail -n 1 "$WORK/truth.log")"

step "the tap's output against an independent reading of the simulator"
python3 .ci/sim_truth.py "$WORK/sim.out" "$START_DATE" "$END_DATE" "$WORK/truth.json" >"$WORK/sim-truth.txt" ||
    { cat "$WORK/sim-truth.txt" >&2; die "the tap's output differs from the simulator"; }
ok "$(tail -n 1 "$WORK/sim-truth.txt") (statistics are left to the Rust tests)"

# ---------------------------------------------------------------------------------------------
export MELTANO_SYS_DIR_ROOT="$CACHE/meltano-sys"      # plugin venvs, reused across runs
export MELTANO_DATABASE_URI="sqlite:///$WORK/meltano.db" # state: new for every run
export MELTANO_SEND_ANONYMOUS_USAGE_STATS=false
rm -rf "$MELTANO_SYS_DIR_ROOT/run" "$MELTANO_SYS_DIR_ROOT/logs"
# The ready project, as cloned, next to the wheel: its pip_url reads ${MELTANO_PROJECT_ROOT}/../dist.
PROJECT="$WORK/meltano"
mkdir -p "$PROJECT"
cp "$ROOT/meltano/meltano.yml" "$PROJECT/"
# Every stream, message_events included, so that each loader is checked on all of them (the
# project's own select, without message_events, is checked by `meltano select` below).
export TAP_POSTMARK__SELECT='["*.*"]'
export TAP_POSTMARK_POSTMARK_ACCOUNT_TOKEN="$ACCOUNT_TOKEN" TAP_POSTMARK_BASE_URL="$BASE_URL"
export TAP_POSTMARK_START_DATE="$START_DATE" TAP_POSTMARK_END_DATE="$END_DATE"
export TAP_POSTMARK_LOOKBACK_HOURS="$LOOKBACK_HOURS"
export TARGET_POSTGRES_HOST=127.0.0.1 TARGET_POSTGRES_PORT="$PG_PORT" TARGET_POSTGRES_USER=postgres
export TARGET_POSTGRES_PASSWORD=postgres TARGET_POSTGRES_DATABASE=postgres
export TARGET_JSONL_DESTINATION_PATH="$WORK/out-jsonl" TARGET_CSV_OUTPUT_PATH="$WORK/out-csv"
meltano() { "$CACHE/meltano/bin/meltano" --cwd "$PROJECT" --log-format=uncolored "$@"; }
PG_SCHEMA=tap_postmark

step "meltano install"
run "$WORK/meltano-install.log" meltano install
TAP_IN_MELTANO=$(ls "$MELTANO_SYS_DIR_ROOT"/extractors/tap-postmark/venv/bin/tap-postmark)
cmp -s "$TAP_IN_MELTANO" "$TAP" || die "Meltano's tap-postmark is not the one of the wheel just built"
versions=""
for t in target-postgres target-jsonl target-csv; do
    v=$("$MELTANO_SYS_DIR_ROOT/loaders/$t/venv/bin/python" -c "import importlib.metadata as m, sys
for n in ('meltanolabs-$t', '$t'):
    try: print(m.version(n)); break
    except m.PackageNotFoundError: pass")
    versions="$versions $t $v,"
done
ok "tap-postmark $CARGO_VERSION from the wheel;${versions%,}"

step "meltano config test tap-postmark"
run "$WORK/config-test.log" meltano config test tap-postmark
grep -q 'Plugin configuration is valid' "$WORK/config-test.log" || die "no 'Plugin configuration is valid'"
ok "Plugin configuration is valid"

step "meltano select tap-postmark --list --all"
run "$WORK/select-default.log" env -u TAP_POSTMARK__SELECT "$CACHE/meltano/bin/meltano" --cwd "$PROJECT" --log-format=uncolored select tap-postmark --list --all
left_out "$WORK/select-default.log" "the ready project"
DEFAULT_SELECTED=$(grep -E '^\s*\[(selected|automatic)' "$WORK/select-default.log" | sed -E 's/.*\] ([^.]+)\..*/\1/' | sort -u | wc -l)
[ "$DEFAULT_SELECTED" -eq $((STREAMS - OPT_IN)) ] || die "the ready project selects $DEFAULT_SELECTED streams, expected $((STREAMS - OPT_IN))"
run "$WORK/select.log" meltano select tap-postmark --list --all
ok "as cloned: $DEFAULT_SELECTED streams, the $OPT_IN per-record streams left out; with TAP_POSTMARK__SELECT='[\"*.*\"]': $(python3 .ci/meltano_checks.py select "$WORK/select.log" "$WORK/catalog.json")"

step "meltano invoke tap-postmark --about --format=json"
meltano invoke tap-postmark --about --format=json >"$WORK/about-meltano.json" 2>"$WORK/about-meltano.err" ||
    { tail -n 30 "$WORK/about-meltano.err" >&2; die "meltano invoke failed"; }
"$TAP" --about --format json >"$WORK/about.json"
ok "$(python3 .ci/meltano_checks.py about "$WORK/about-meltano.json" "$WORK/about.json")"

step "meltano run tap-postmark target-postgres"
run "$WORK/run-postgres-1.log" meltano run tap-postmark target-postgres
python3 .ci/count_keys.py postgres "$WORK/truth.json" "$PG_SCHEMA" >"$WORK/pg-1.txt" ||
    { cat "$WORK/pg-1.txt" >&2; die "PostgreSQL differs from the tap's output"; }
python3 .ci/count_keys.py values "$WORK/full.jsonl" postgres "$PG_SCHEMA" >"$WORK/pg-values-1.txt" ||
    { cat "$WORK/pg-values-1.txt" >&2; die "PostgreSQL values differ from the tap's records"; }
ok "$(tail -n 1 "$WORK/pg-1.txt") (row counts and key sets, $FULL_RECORDS rows); every column of every row too"

step "meltano state after the first run"
meltano state list >"$WORK/state-list.txt" 2>"$WORK/state-list.err" || die "meltano state list failed"
STATE_ID=dev:tap-postmark-to-target-postgres
grep -qx "$STATE_ID" "$WORK/state-list.txt" || die "no state $STATE_ID in: $(cat "$WORK/state-list.txt")"
meltano state get "$STATE_ID" >"$WORK/meltano-state.json" 2>"$WORK/state-get.err" || die "meltano state get failed"
ok "$STATE_ID: $(python3 .ci/meltano_checks.py state "$WORK/meltano-state.json" "$END_DATE")"

step "second meltano run tap-postmark target-postgres (incremental, Meltano-held state)"
SECOND_RUN_AT=$(date -u +%Y-%m-%dT%H:%M:%S.%6N)
run "$WORK/run-postgres-2.log" meltano run tap-postmark target-postgres
INCREMENTAL=$(python3 .ci/meltano_checks.py incremental "$WORK/run-postgres-1.log" "$WORK/run-postgres-2.log" "$END_DATE" "$LOOKBACK_HOURS") ||
    die "$INCREMENTAL"
TOUCHED=$(python3 .ci/meltano_checks.py touched "$PG_SCHEMA" "$SECOND_RUN_AT" "$WORK/run-postgres-2.log" "$END_DATE" "$LOOKBACK_HOURS") ||
    die "$TOUCHED"
python3 .ci/count_keys.py postgres "$WORK/truth.json" "$PG_SCHEMA" >"$WORK/pg-2.txt" ||
    { cat "$WORK/pg-2.txt" >&2; die "PostgreSQL differs from the tap's output after the second run"; }
echo "   $INCREMENTAL"
echo "   $TOUCHED"
python3 .ci/count_keys.py values "$WORK/full.jsonl" postgres "$PG_SCHEMA" >"$WORK/pg-values-2.txt" ||
    { cat "$WORK/pg-values-2.txt" >&2; die "PostgreSQL values differ from the tap's records after the second run"; }
ok "$(tail -n 1 "$WORK/pg-2.txt") after both runs, values too (no duplicate rows)"

step "meltano run tap-postmark target-jsonl (Meltano's log as JSON: the tap's structured lines parsed)"
meltano_json() { "$CACHE/meltano/bin/meltano" --cwd "$PROJECT" --log-format=json "$@"; }
run "$WORK/run-jsonl.log" meltano_json run tap-postmark target-jsonl
# A refused token, on purpose: its error reaches Meltano as a parsed exception.
if TAP_POSTMARK_POSTMARK_ACCOUNT_TOKEN=refused-on-purpose meltano_json run tap-postmark target-jsonl \
    >"$WORK/refused.log" 2>&1; then
    die "a run with a refused token succeeded"
fi
python3 .ci/meltano_checks.py logs "$WORK/run-jsonl.log" "$WORK/refused.log" >"$WORK/logs.txt" ||
    { cat "$WORK/logs.txt" >&2; die "Meltano did not parse the tap's structured log"; }
python3 .ci/count_keys.py jsonl "$WORK/truth.json" "$WORK/out-jsonl" >"$WORK/jsonl.txt" ||
    { cat "$WORK/jsonl.txt" >&2; die "JSON Lines files differ from the tap's output"; }
python3 .ci/count_keys.py values "$WORK/full.jsonl" jsonl "$WORK/out-jsonl" >"$WORK/jsonl-values.txt" ||
    { cat "$WORK/jsonl-values.txt" >&2; die "JSON Lines values differ from the tap's records"; }
ok "$(ls "$WORK/out-jsonl" | wc -l) files; $(tail -n 1 "$WORK/jsonl.txt"); every value too; $(cat "$WORK/logs.txt")"

step "meltano run tap-postmark target-csv"
run "$WORK/run-csv.log" meltano run tap-postmark target-csv
python3 .ci/count_keys.py csv "$WORK/truth.json" "$WORK/out-csv" >"$WORK/csv.txt" ||
    { cat "$WORK/csv.txt" >&2; die "CSV files differ from the tap's output"; }
ok "$(ls "$WORK/out-csv" | wc -l) files; $(tail -n 1 "$WORK/csv.txt")"

step "meltano run tap-postmark pii target-postgres (personal data hashed by meltano-map-transform)"
# The project's `pii` mapping, every stream selected, into a schema of its own; the state of the
# runs above is neither read nor written. A random seed for this run only, never printed.
PII_SCHEMA=tap_postmark_pii
POSTMARK_PII_HASH_SEED=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
export POSTMARK_PII_HASH_SEED
TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA=$PII_SCHEMA run "$WORK/run-postgres-pii.log" \
    meltano run --full-refresh --no-state-update tap-postmark pii target-postgres
python3 .ci/pii_check.py "$WORK/full.jsonl" "$PII_SCHEMA" >"$WORK/pii.txt" ||
    { cat "$WORK/pii.txt" >&2; die "personal data reached PostgreSQL"; }
# Without a seed the mapping must stop the run, not hash with an empty one.
if POSTMARK_PII_HASH_SEED='' TAP_POSTMARK__SELECT='["servers.*"]' TARGET_JSONL_DESTINATION_PATH="$WORK/out-pii" \
    meltano run --no-state-update tap-postmark pii target-jsonl >"$WORK/pii-no-seed.log" 2>&1; then
    die "meltano run with an empty POSTMARK_PII_HASH_SEED succeeded"
fi
grep -q 'POSTMARK_PII_HASH_SEED is not set' "$WORK/pii-no-seed.log" ||
    { tail -n 20 "$WORK/pii-no-seed.log" >&2; die "the run without a seed failed for another reason"; }
unset POSTMARK_PII_HASH_SEED
ok "$(tail -n 1 "$WORK/pii.txt"); without a seed the run stops"

step "deletions reach PostgreSQL (ACTIVATE_VERSION into target-postgres, hard and soft delete)"
# Items deleted through Postmark's API between two runs leave target-postgres's tables (or are
# marked _sdc_deleted_at); a run with one server failing deletes nothing. Last of the steps that
# compare tables with the simulator's account: this one changes it.
run "$WORK/deletions.txt" python3 .ci/deletion_check.py "$WORK/sim.out" "$TAP" \
    "$MELTANO_SYS_DIR_ROOT/loaders/target-postgres/venv/bin/target-postgres" \
    "$WORK/config.json" "$WORK/catalog.json" "$WORK"
sed 's/^/   /' "$WORK/deletions.txt"
ok "deleted items gone or marked, every other row untouched, a failed server's rows kept"

step "target warnings and errors"
# Meltano re-logs SDK targets' records at their own level and other targets' lines at info.
# A plugin's warning or error in Meltano's uncolored log, or in its JSON log (either key order).
json_re() { echo "\"level\": ?\"(warning|error|critical)\".*\"name\": ?\"$1|\"name\": ?\"$1.*\"level\": ?\"(warning|error|critical)\""; }
TARGET_RE="\\[(warning|error|critical) *\\] *target-|target-[a-z]+ +(WARNING|ERROR|CRITICAL|Traceback)|$(json_re target-)"
TAP_RE="\\[(warning|error|critical) *\\] *tap-postmark|tap-postmark +(WARNING|ERROR|CRITICAL)|$(json_re tap-postmark)"
grep -hE "$TAP_RE" "$WORK"/run-*.log | sed -E 's/^[^ ]+ //' | sort | uniq -c >"$WORK/tap-warnings.txt" || true
grep -hE "$TARGET_RE" "$WORK"/run-*.log | sed -E 's/^[^ ]+ //' | sort | uniq -c >"$WORK/target-warnings.txt" || true
if [ -s "$WORK/tap-warnings.txt" ]; then
    echo "   tap-postmark warnings (not fatal):"
    sed 's/^/   /' "$WORK/tap-warnings.txt"
fi
if [ -s "$WORK/target-warnings.txt" ]; then
    cat "$WORK/target-warnings.txt"
    die "the targets logged warnings or errors"
fi
ok "no warning or error from target-postgres, target-jsonl or target-csv in $(ls "$WORK"/run-*.log | wc -l) runs; $(wc -l <"$WORK/tap-warnings.txt") distinct tap warnings"

# ---------------------------------------------------------------------------------------------
step "a Yoast/Mage tap config (postmark_server_token + start_date)"
python3 - "$WORK/yoast.json" "$SERVER_TOKEN" "$START_DATE" "$BASE_URL" <<'EOF'
import json, sys
path, token, start, url = sys.argv[1:]
json.dump({"postmark_server_token": token, "start_date": start, "base_url": url}, open(path, "w"))
EOF
if ! "$TAP" --config "$WORK/yoast.json" 2>"$WORK/yoast.err" | tee "$WORK/yoast.jsonl" |
    "$CHECK_TAP" >"$WORK/check-yoast.out" 2>&1; then
    tail -n 30 "$WORK/check-yoast.out" "$WORK/yoast.err" >&2
    die "tap or singer-check-tap failed on the Yoast config"
fi
grep -q '^The output is valid' "$WORK/check-yoast.out" || die "singer-check-tap: $(head -n 3 "$WORK/check-yoast.out")"
"$TAP" --config "$WORK/yoast.json" --discover >"$WORK/yoast-catalog.json" 2>"$WORK/yoast-discover.err" || die "--discover failed"
python3 .ci/singer_util.py streams "$WORK/yoast-catalog.json" >"$WORK/yoast-streams.txt"
for s in messages_outbound messages_opens stats_outbound_overview stats_outbound_bounces stats_outbound_platform stats_outbound_clients; do
    grep -qx "$s" "$WORK/yoast-streams.txt" || die "$s not discovered"
    grep -q "\"stream\":\"$s\"" "$WORK/yoast.jsonl" || die "no $s records"
done
SERVERS_SEEN=$(python3 .ci/singer_util.py servers "$WORK/yoast.jsonl" messages_outbound)
[ "$SERVERS_SEEN" = "$SERVER_ID" ] || die "messages_outbound from servers '$SERVERS_SEEN', expected $SERVER_ID"
SKIPPED=$(grep -c 'needs postmark_account_token' "$WORK/yoast.err" || true)
read -r YOAST_RECORDS YOAST_STREAMS < <(python3 .ci/singer_util.py records "$WORK/yoast.jsonl")
# Mage's template for its Postmark source writes start_date as an RFC 3339 date-time.
python3 - "$WORK/mage.json" "$SERVER_TOKEN" "${START_DATE}T00:00:00Z" "$BASE_URL" <<'EOF'
import json, sys
path, token, start, url = sys.argv[1:]
json.dump({"postmark_server_token": token, "start_date": start, "base_url": url}, open(path, "w"))
EOF
run "$WORK/mage-test.log" "$TAP" --config "$WORK/mage.json" --test
ok "valid, $YOAST_RECORDS records in $YOAST_STREAMS streams of server $SERVER_ID; the six Yoast streams discovered and synced; $SKIPPED account-level streams skipped with a warning; Mage's template form (start_date ${START_DATE}T00:00:00Z) passes --test"

step "Hub-style definition (plugin/tap-postmark.json) as Meltano installs it from a lock file"
HUB="$WORK/hub-project"
mkdir -p "$HUB/plugins/extractors"
python3 - "$ROOT/plugin/tap-postmark.json" "$HUB" <<'EOF'
import json, sys
src, hub = sys.argv[1:]
d = json.load(open(src))
d["plugin_type"] = "extractors"
json.dump(d, open(f"{hub}/plugins/extractors/{d['name']}--{d['variant']}.lock", "w"), indent=2)
open(f"{hub}/meltano.yml", "w").write(f"""default_environment: dev
project_id: hub-definition-check
send_anonymous_usage_stats: false
environments:
- name: dev
plugins:
  extractors:
  - name: {d['name']}
    variant: {d['variant']}
""")
EOF
# The definition's own pip_url installs the wheel from the directory TAP_POSTMARK_DIST names.
hub_meltano() {
    env -u TAP_POSTMARK_POSTMARK_ACCOUNT_TOKEN -u TAP_POSTMARK_END_DATE -u TAP_POSTMARK_LOOKBACK_HOURS \
        -u TAP_POSTMARK__SELECT \
        MELTANO_SYS_DIR_ROOT="$HUB/.meltano" MELTANO_DATABASE_URI="sqlite:///$HUB/meltano.db" \
        TAP_POSTMARK_POSTMARK_SERVER_TOKEN="$SERVER_TOKEN" TAP_POSTMARK_DIST="$WORK/dist" \
        "$CACHE/meltano/bin/meltano" --cwd "$HUB" --log-format=uncolored "$@"
}
run "$WORK/hub-install.log" hub_meltano install
cmp -s "$HUB/.meltano/extractors/tap-postmark/venv/bin/tap-postmark" "$TAP" || die "the definition's pip_url did not install the wheel just built"
run "$WORK/hub-config-test.log" hub_meltano config test tap-postmark
grep -q 'Plugin configuration is valid' "$WORK/hub-config-test.log" || die "config test with a server token failed"
run "$WORK/hub-select.log" hub_meltano select tap-postmark --list --all
left_out "$WORK/hub-select.log" "the definition's default select"
HUB_SELECTED=$(grep -E '^\s*\[(selected|automatic)' "$WORK/hub-select.log" | sed -E 's/.*\] ([^.]+)\..*/\1/' | sort -u | wc -l)
[ "$HUB_SELECTED" -eq $((STREAMS - OPT_IN)) ] || die "$HUB_SELECTED streams selected by the definition's default, expected $((STREAMS - OPT_IN))"
ok "its pip_url installs the wheel from \$TAP_POSTMARK_DIST, config test passes with only a server token, default select takes $HUB_SELECTED streams and leaves out the $OPT_IN per-record streams"

echo
echo "ecosystem: all steps passed in $(($(date +%s) - ALL_T0))s"
