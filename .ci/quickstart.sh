#!/usr/bin/env bash
# The README's "Try it in five minutes" as a new user follows it: its marked shell blocks are
# taken from README.md (not retyped) and run as written, one after the other in one bash, in a
# fresh clone of this repository's HEAD. After each block .ci/quickstart_checks.py checks what it
# did: every stream's JSON Lines file and PostgreSQL table holds exactly the records of the tap's
# `summary:` line (the streams not selected by default left out), and the second runs keep every row of the first
# (target-jsonl appends, target-postgres upserts). Then two runs into target-csv, the ready
# project's third loader, are checked the same way, and `git status` of the clone must be clean.
#
# Meant for CI's throwaway Debian machine (root): like the README, it installs packages with
# apt-get, starts the system PostgreSQL and gives its postgres user the password 'postgres'. It
# refuses to run when 127.0.0.1:5432 or :8025 is already in use, and on exit puts PostgreSQL back
# as it found it (drops the schemas, removes the password, stops the server) and stops the
# simulator. The clone shares only the cargo target directory of this checkout, or the one
# QUICKSTART_TARGET_DIR names (CARGO_TARGET_DIR), which saves a cold build; pip's and uv's
# download caches are the user's.
# KEEP_WORK=1 keeps the work dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tap-postmark-quickstart.XXXXXX")
CLONE=$WORK/tap-postmark
LOG=$WORK/quickstart.log
CHECKS=$ROOT/.ci/quickstart_checks.py
T0=$(date +%s)
RUN_PID=""
PG_STARTED=0

say() { echo "-- $(($(date +%s) - T0))s: $*"; }
die() {
    echo "-- quickstart FAILED: $*" >&2
    exit 1
}
port_busy() {
    python3 -c 'import socket, sys; sys.exit(socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' "$1"
}
cleanup() {
    local rc=$?
    if [ -n "$RUN_PID" ]; then
        # The README's commands ran in their own process group: the simulator is left in it.
        kill -- "-$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    if [ "$PG_STARTED" = 1 ] && port_busy 5432; then
        (cd / && runuser -u postgres -- psql -X -q -c "DROP SCHEMA IF EXISTS tap_postmark CASCADE" \
            -c "DROP SCHEMA IF EXISTS analytics_staging CASCADE" -c "DROP SCHEMA IF EXISTS analytics_marts CASCADE" \
            -c "ALTER USER postgres PASSWORD NULL") >/dev/null 2>&1 || true
        service postgresql stop >/dev/null 2>&1 || true
    fi
    if [ "$rc" -ne 0 ] || [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "quickstart: work dir kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== quickstart: the README's \"Try it in five minutes\" on a fresh clone"
[ "$(id -u)" = 0 ] || die "run as root on a throwaway machine (it installs packages and sets a PostgreSQL password)"
for port in 5432 8025; do
    port_busy "$port" && die "127.0.0.1:$port is in use; the quick start needs it free"
done
# What the README assumes is there: git, Rust, python3 with venv, sudo, apt's package lists.
missing=()
command -v sudo >/dev/null || missing+=(sudo)
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
# Not the README's: what the checks of "6. The analysis" render its report in.
command -v chromium >/dev/null || missing+=(chromium)
command -v cargo >/dev/null || die "no cargo: the README assumes Rust is installed"
if [ ${#missing[@]} -gt 0 ] || ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
    apt-get update -qq >"$WORK/apt.log" 2>&1 || { tail -n 20 "$WORK/apt.log" >&2; die "apt-get update failed"; }
fi
if [ ${#missing[@]} -gt 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$WORK/apt.log" 2>&1 ||
        { tail -n 20 "$WORK/apt.log" >&2; die "apt-get install ${missing[*]} failed"; }
fi
PG_STARTED=1   # from here on, whatever starts on 5432 is the README's

git clone -q "$ROOT" "$CLONE"
say "cloned $(git -C "$CLONE" log -1 --format='%h %s' | cut -c1-70)${missing[*]:+; installed ${missing[*]}}"
python3 "$CHECKS" extract "$CLONE/README.md" >"$WORK/readme-blocks.sh" || die "$(cat "$WORK/readme-blocks.sh")"

cat >"$WORK/run.sh" <<'EOF'
set -eo pipefail
qs_after() {
    local out
    if ! out=$("$QS_PYTHON" "$QS_CHECKS" after "$1" "$QS_WORK" "$QS_CLONE" "$QS_LOG"); then
        echo "-- block $1: $out" >&3
        exit 1
    fi
    echo "-- block $1 done at ${SECONDS}s${out:+: $out}" >&3
}
cd "$QS_CLONE"
EOF
cat "$WORK/readme-blocks.sh" >>"$WORK/run.sh"
echo "   blocks: $(grep -c '^qs_after ' "$WORK/readme-blocks.sh"), $(grep -vc -e '^qs_after ' -e '^# ---' "$WORK/readme-blocks.sh") command lines from README.md"

QS_PYTHON=$(command -v python3)
export QS_PYTHON QS_CHECKS=$CHECKS QS_WORK=$WORK QS_CLONE=$CLONE QS_LOG=$LOG
# CI gives it a target directory no other build uses at the same time (QUICKSTART_TARGET_DIR).
export CARGO_TARGET_DIR=${QUICKSTART_TARGET_DIR:-$ROOT/target}
setsid bash "$WORK/run.sh" 3>&1 >"$LOG" 2>&1 &
RUN_PID=$!
if ! wait "$RUN_PID"; then
    echo "---- end of the quick start's output ($LOG):" >&2
    tail -n 40 "$LOG" >&2
    die "a README command or a check failed"
fi
say "README blocks ran and passed their checks"

STATUS=$(git -C "$CLONE" status --porcelain --untracked-files=all)
[ -z "$STATUS" ] || die "git status is not clean after the README's commands:
$STATUS"
say "git status clean after the README's commands (meltano.yml unchanged)"

# The ready project's third loader: two runs into target-csv.
for n in 1 2; do
    (cd "$CLONE/meltano" && "$CLONE/.venv/bin/meltano" run tap-postmark target-csv) >>"$LOG" 2>&1 ||
        { tail -n 40 "$LOG" >&2; die "meltano run tap-postmark target-csv ($n) failed"; }
done
CSV=$(python3 "$CHECKS" csv "$WORK" "$CLONE" "$LOG") || die "$CSV"
say "target-csv twice: $CSV"
STATUS=$(git -C "$CLONE" status --porcelain --untracked-files=all)
[ -z "$STATUS" ] || die "git status is not clean after the target-csv runs:
$STATUS"

echo "quickstart: all checks passed in $(($(date +%s) - T0))s"
