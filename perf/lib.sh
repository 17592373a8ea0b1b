# Shared by the scripts under perf/: source it after setting PERF_NAME
# (the name every message starts with):
#   PERF_NAME=bench; . "$ROOT/perf/lib.sh"
# die MSG   prints "PERF_NAME: MSG" and exits with PERF_DIE_STATUS [1];
# say MSG   prints "PERF_NAME: MSG";
# and any failing command (with set -e) stops the script with a message
# naming its line and status, so a benchmark never fails silently.
die() {
    echo "$PERF_NAME: $*" >&2
    exit "${PERF_DIE_STATUS:-1}"
}
say() { echo "$PERF_NAME: $*" >&2; }
trap 'echo "$PERF_NAME: FAILED (status $?) at line $LINENO: $BASH_COMMAND" >&2' ERR
# numbers VAR...  stops unless every named variable is a whole number
# (knobs go into arithmetic, where "abc" would only say "unbound variable").
numbers() {
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[0-9]+$ ]] || die "$v=${!v}: expected a whole number"
    done
}

# decimals VAR...  stops unless every named variable is a plain number, a
# fraction allowed (0.5, 2, 10000; no sign, no exponent).
decimals() {
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^([0-9]+|[0-9]*\.[0-9]+)$ ]] || die "$v=${!v}: expected a number like 0.5 or 2"
    done
}

# commit_of DIR  sets COMMIT (DIR's short HEAD, or "unknown") and DIRTY
# ("+dirty" when tracked files differ from HEAD) for a results header.
commit_of() {
    COMMIT=$(git -C "$1" rev-parse --short HEAD 2>/dev/null || echo unknown)
    DIRTY=$(git -C "$1" status --porcelain 2>/dev/null | grep -v '^??' | grep -q . && echo "+dirty" || true)
}
