#!/usr/bin/env bash
# las lab: las on a net_af_packet port plus three las-edge sites, built from
# network namespaces and veth pairs only.
#
#   lab/lab.sh run           build the lab, run every check (static, then
#                            dynamic, then MTU), tear it down
#   lab/lab.sh run-static    only the static-session checks
#   lab/lab.sh run-dynamic   only the dynamic-mode checks (CHECK dyn-*)
#   lab/lab.sh run-mtu       only the MTU checks (CHECK mtu-*)
#   lab/lab.sh run-nat       only the NAT checks (CHECK nat-*): an edge behind
#                            a masquerading NAT that is flushed; LAB_NAT_IDLE
#                            (default 300) seconds idle behind a 30 s UDP timeout
#   lab/lab.sh run-redundancy  only the redundancy checks (CHECK red-*, fo-*):
#                            a second las (las2, namespace lasns2, 10.200.0.2)
#                            meshed with las1; site C dual-homed (--backup-peer),
#                            las1 killed and restarted (run-failover: the same)
#   lab/lab.sh run-ipv6      only the IPv6-underlay checks (CHECK ipv6-*,
#                            tshark-ipv6*): the sites and every pseudowire
#                            over IPv6 (fd00:200::/64), ND and ICMPv6 by las,
#                            static sessions, then dynamic ones by VC ID
#   lab/lab.sh clean         remove anything a previous run left behind
#
# Needs root, iproute2, ping, python3, iperf3 (else a python TCP transfer),
# prometheus (Debian's package; scripts/deps.sh installs it).
# Binaries: $LAS_BIN / $LAS_EDGE_BIN, else $CARGO_TARGET_DIR (or target/)
# release then debug, else `cargo build --release`. LAB_CORES (default 0)
# is las's --cores; LAB_KEEP_LOGS=1 keeps the logs.
#
#                     lasul (bridge br0, 10.200.0.0/24 underlay)
#          +-------------+-------------+-------------+
#        lasns         lassiteA      lassiteB      lassiteC
#   las 10.200.0.1   edge .11 (ip)  edge .12 (udp, edge .13 (ip)
#   (af_packet)      pw0 = host A   cookies)       pw0 = host C
#                    switch 100     pw0 = host B   switch 200
#                                   switch 100
#
# Static part: las has one [[session]] per site, the edges use fixed ids.
# Dynamic part: las has no sessions, only switch cust100 with vc_ids ["100"]
# (and auto_switch); the edges run in dynamic mode (--vc-id): A (ip) and
# B (udp) ask for VC ID 100, C (ip, with a per-peer secret) for VC ID 200
# (auto-created switch vc-200). Then: an edge killed with SIGKILL is
# cleared after the hello timeout, a wrong secret never comes up, stopping
# las sends StopCCN to the edges, and they reconnect when las is back.
# MTU part: static sessions A (ip) and B (udp) in cust100, edges with --df
# (DF set, never fragmented, like an underlay that cannot fragment). Hosts
# at MTU 1500 over a 1500-byte underlay: with mss_clamp = "off" small pings
# cross but a 5 MB TCP transfer stalls ("ping works, TCP hangs"); with
# "auto" it completes at the clamped MSS. Then jumbo: underlay 9100, las
# port MTU 9000 (af_packet framesz/blocksz raised, mbuf_size 9344), TAPs
# at 8900: 8000-byte and full-size DF pings and a TCP transfer at MSS 8848.
# Redundancy part: a second las (las2, namespace lasns2, 10.200.0.2, DPDK
# file prefix lab2, its own control socket and metrics port), both las
# with the dynamic config (cust100 for VC ID 100), 2 s HELLOs, and each
# other as [mesh] peer. A on las1, B on las2, C dual-homed (--peer las1
# --backup-peer las2, --revert-delay 10). The mesh joins cust100 on both
# (CHECK red-mesh-up): A and B ping across it, C reaches both, and 50
# UDP broadcasts from A arrive exactly once at B (over the mesh) and at
# C (on las1), never back at A (red-broadcast-once). las1 is killed
# (SIGKILL): C pings B every 0.1 s and the time to the first reply is
# RESULT fo-outage-secs (bound: 6 s dead-peer detection + 2 s setup).
# las1 restarts: the mesh and A come back and A pings B again; C goes
# back after the revert delay (not sooner) and las2 drops C's session.
#
# Independent decoding: tcpdump captures the bridge's port to las (both
# directions, full frames, a bounded number of packets) during the static
# and the dynamic part, and tshark must decode every frame las sent there
# without a malformed frame or an expert error, the hosts' packets inside
# the pseudowires included (CHECK tshark-static, tshark-dynamic). The
# static part pauses the capture around the TCP throughput test and keeps
# only a sample of it. Without tshark or tcpdump these checks say SKIPPED
# (ok), unless CI is set.
#
# Prometheus: Debian's `prometheus` runs in las's namespace for the whole
# lab, listening on its loopback only, with a config written here and its
# own data directory under the work directory; it scrapes las's /metrics
# ([metrics] listen, also loopback) every second. The static part asks
# its HTTP API (/api/v1/query) that las is up, that switch cust100's
# packet counter rose with the pings, and that every drop counter is
# there (CHECK prom-up, prom-switch-counter-rose, prom-drop-counters);
# the lab ends with the answer to a Prometheus query. It is stopped at
# the end, also on failure or Ctrl-C.
#
# Every check prints one machine-checkable line:
#   CHECK <name> ok|FAIL [detail]
# measurements print as
#   RESULT <name> <value>
# and the last line is
#   SUMMARY passed=<n> failed=<n>
# The exit status is 0 only if every check passed.
set -u -o pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)

NS_UL=lasul
NS_LAS=lasns
SITES=(A B C)
ns_site() { echo "lassite$1"; }
ALL_NS=("$NS_UL" "$NS_LAS" lassiteA lassiteB lassiteC lasnat lassiteN lasns2)

FILE_PREFIX=lab
# The second las of the failover step (namespace lasns2).
FILE_PREFIX2=lab2
LAB_CORES=${LAB_CORES:-0}
AGING=5
MTU=1500
TAP_MTU=1400

# Underlay addresses.
LAS_UL=10.200.0.1
declare -A UL=([A]=10.200.0.11 [B]=10.200.0.12 [C]=10.200.0.13)
# Hosts behind the sites (the TAP addresses).
declare -A HOST=([A]=192.168.100.1 [B]=192.168.100.2 [C]=192.168.100.3)
declare -A MAC=([A]=02:00:00:aa:00:01 [B]=02:00:00:bb:00:02 [C]=02:00:00:cc:00:03)
# las local (rx) / remote (tx) session ids per site.
declare -A LSID=([A]=1001 [B]=1002 [C]=1003)
declare -A RSID=([A]=2001 [B]=2002 [C]=2003)

PASSED=0
FAILED=0
WORK=""
declare -A EDGE_PID=()
LAS_PID=""
CAP_PID=""
declare -A CAP_FILES=()
LAS_UL_MAC=""
PROM_PID=""
# In las's namespace: las's /metrics and Prometheus, both on its loopback.
METRICS_PORT=9417
PROM_ADDR=127.0.0.1:19090

log() { echo "== $*"; }

check() { # name ok|FAIL detail...
    local name=$1 res=$2
    shift 2
    echo "CHECK $name $res${*:+ $*}"
    if [ "$res" = ok ]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

# ---------------------------------------------------------------- cleanup

kill_ns_pids() { # namespace: stop the processes we started inside it
    local ns=$1 pids
    pids=$(ip netns pids "$ns" 2>/dev/null) || return 0
    [ -n "$pids" ] || return 0
    # shellcheck disable=SC2086
    kill -INT $pids 2>/dev/null
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        pids=$(ip netns pids "$ns" 2>/dev/null)
        [ -z "$pids" ] && return 0
        sleep 0.3
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    sleep 0.2
}

clean() {
    local ns
    for ns in "${ALL_NS[@]}"; do
        if ip netns list | grep -w "^$ns" >/dev/null; then
            kill_ns_pids "$ns"
            ip netns del "$ns" 2>/dev/null
        fi
    done
    rm -rf "/run/dpdk/$FILE_PREFIX" "/run/dpdk/$FILE_PREFIX2"
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    capture_stop
    prom_stop
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "${LAB_KEEP_LOGS:-0}" = 1 ]; then
            echo "logs kept in $WORK"
        elif [ "$FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
            # Show what las and the edges said, then drop the logs.
            for f in "$WORK"/*.log; do
                [ -f "$f" ] || continue
                echo "---- $(basename "$f") (last 20 lines)"
                tail -n 20 "$f"
            done
        fi
    fi
    clean
    [ -n "$WORK" ] && [ "${LAB_KEEP_LOGS:-0}" != 1 ] && rm -rf "$WORK"
    exit "$rc"
}

# ---------------------------------------------------------------- helpers

find_bin() { # name envvar: print the path of a built binary, building it if needed
    local name=$1 dir t
    if [ -n "${!2:-}" ]; then
        echo "${!2}"
        return 0
    fi
    if [ -n "${CARGO_TARGET_DIR:-}" ]; then dir=$CARGO_TARGET_DIR; else dir=$REPO/target; fi
    for t in release debug; do
        if [ -x "$dir/$t/$name" ]; then
            echo "$dir/$t/$name"
            return 0
        fi
    done
    log "building $name (cargo build --release --bin $name)" >&2
    (cd "$REPO" && cargo build --release --bin "$name" >&2) || return 1
    echo "$dir/release/$name"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

las_show() { # what [args...]
    "$LAS" show "$@" --socket "$WORK/las.sock"
}

# "mac member" lines of a switch's MAC table.
mac_table() { # switch
    las_show macs "$1" --json 2>/dev/null | python3 -c '
import json, sys
for m in json.load(sys.stdin).get("macs", []):
    print(m["mac"].lower(), m["member"])
'
}

member_of() { # switch mac -> member name (empty if unknown)
    mac_table "$1" | awk -v m="$(echo "$2" | tr A-F a-f)" '$1 == m { print $2 }'
}

wait_for() { # seconds command...: retry every 0.5 s
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@"; do
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}

session_field() { # session field
    las_show sessions --json 2>/dev/null | python3 -c '
import json, sys
name, field = sys.argv[1], sys.argv[2]
for s in json.load(sys.stdin).get("sessions", []):
    if s["name"] == name:
        print(s[field])
' "$1" "$2"
}

ping_ok() { # from-site to-ip count: prints "received/transmitted", true if >= count-1 replies
    local out rx tx
    out=$(in_ns "$(ns_site "$1")" ping -n -c "$3" -i 0.2 -W 2 "$2" 2>&1)
    tx=$(echo "$out" | sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p')
    rx=$(echo "$out" | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    echo "${rx:-0}/${tx:-0}"
    [ "${rx:-0}" -ge $(($3 - 1)) ] && [ "${rx:-0}" -gt 0 ]
}

# ---------------------------------------------------------------- capture and tshark

# Starts a new capture segment for part <label> ($WORK/cap-<label>-<n>.pcap):
# tcpdump on the bridge's port to las, full frames, at most <max> packets.
# Stops the previous segment first.
capture_start() { # label max
    capture_stop
    command -v tcpdump >/dev/null && command -v tshark >/dev/null || return 0
    local n f
    n=$(echo "${CAP_FILES[$1]:-}" | wc -w)
    f="$WORK/cap-$1-$n.pcap"
    # `ip netns exec` execs tcpdump: $! is tcpdump itself.
    ip netns exec "$NS_UL" tcpdump -i las -n -U -s 0 -c "$2" -w "$f" >"$f.log" 2>&1 &
    CAP_PID=$!
    CAP_FILES[$1]="${CAP_FILES[$1]:-} $f"
    wait_for 10 grep -q "listening on" "$f.log" || echo "tcpdump did not start: $(cat "$f.log")"
}

capture_stop() {
    [ -n "$CAP_PID" ] || return 0
    sleep 0.3
    kill -INT "$CAP_PID" 2>/dev/null
    wait "$CAP_PID" 2>/dev/null
    CAP_PID=""
}

# One tshark run over a capture: frames matching <filter>, L2TPv3 cookie
# size <cookie> (detect|cookie0|cookie4|cookie8) and sublayer <l2spec>
# (detect|none|default). Pass "outer": the pseudowire payload is opaque;
# "inner": it is dissected as Ethernet. IPv4/TCP/UDP checksums are
# checked; Ethernet padding may hold any bytes (IEEE 802.3). Prints
# "frame<TAB>malformed<TAB>severities<TAB>info<TAB>protocols<TAB>expert
# messages" per frame.
tshark_fields() { # pcap pass cookie l2spec filter
    local pw=data
    [ "$2" = inner ] && pw=eth
    tshark -r "$1" -n -o "l2tp.cookie_size:$3" -o "l2tp.l2_specific:$4" \
        -d "l2tp.pw_type==0,$pw" -d "l2tp.pw_type==5,$pw" \
        -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE \
        -o eth.padding:any -Y "$5" -T fields -E separator=/t -E occurrence=a \
        -e frame.number -e _ws.malformed -e _ws.expert.severity -e _ws.col.Info \
        -e frame.protocols -e _ws.expert.message 2>>"$WORK/tshark.err"
}

# CHECK <name>: tshark decodes every frame las sent (source MAC of ul0) in
# every segment of part <label>, in an outer and an inner pass, without a
# malformed frame or an expert error (severity error). Frames matching a
# group's filter are decoded with its preferences, the rest with the
# defaults (static sessions have no control messages to learn the
# cookie and sublayer from; the preferences are global).
tshark_check() { # name label default-cookie default-l2spec [cookie l2spec filter]...
    local name=$1 label=$2 dc=$3 dl=$4
    shift 4
    if ! command -v tshark >/dev/null || ! command -v tcpdump >/dev/null; then
        if [ -n "${CI:-}" ]; then
            check "$name" FAIL "tshark or tcpdump not installed, and CI is set"
        else
            echo "*** SKIPPED tshark check: tshark or tcpdump not installed (scripts/deps.sh) ***"
            check "$name" ok "SKIPPED: tshark or tcpdump not installed"
        fi
        return
    fi
    local -a cookies=("$dc") l2specs=("$dl") filters=()
    local any="" from="eth.src == $LAS_UL_MAC"
    while [ $# -ge 3 ]; do
        cookies+=("$1")
        l2specs+=("$2")
        filters+=("($3)")
        any="$any${any:+ || }($3)"
        shift 3
    done
    if [ -n "$any" ]; then filters=("!($any)" "${filters[@]}"); else filters=("frame"); fi
    local f pass i out sel want total seen judged=0 inner=0 bad=0 detail="" flagged="$WORK/$name.flagged"
    : >"$flagged"
    for f in ${CAP_FILES[$label]:-}; do
        total=$(tshark -r "$f" -n -T fields -e frame.number 2>>"$WORK/tshark.err" | wc -l)
        want=$(tshark -r "$f" -n -Y "$from" -T fields -e frame.number 2>>"$WORK/tshark.err" | wc -l)
        for pass in outer inner; do
            seen=0
            sel="($from)"
            # The inner pass: the data frames, with the hosts' packets inside.
            [ "$pass" = inner ] && sel="$sel && l2tp.sid != 0"
            for i in "${!filters[@]}"; do
                if ! out=$(tshark_fields "$f" "$pass" "${cookies[$i]}" "${l2specs[$i]}" "$sel && ${filters[$i]}"); then
                    detail="$detail tshark failed on $(basename "$f"): $(tail -n 2 "$WORK/tshark.err" | tr '\n' ' ')"
                    bad=$((bad + 1))
                    continue
                fi
                [ -n "$out" ] || continue
                seen=$((seen + $(printf '%s\n' "$out" | wc -l)))
                # Flagged: malformed, an expert error, or (inner pass) a
                # frame that is not Ethernet with IPv4/IPv6/ARP inside (a
                # wrong cookie or sublayer shifts it, mostly without error).
                printf '%s\n' "$out" | awk -F'\t' -v pass="$pass" -v file="$(basename "$f")" '{
                    why = ($2 != "") ? "malformed; " : ""
                    n = split($3, s, ",")
                    for (i = 1; i <= n; i++) if (s[i] + 0 == 8388608) why = why "expert error; "
                    if (pass == "inner" && $5 !~ /l2tp:ethertype:((vlan|ieee8021ad):ethertype:)*(ip|ipv6|arp)(:|$)/)
                        why = why "inner frame not decoded (" $5 "); "
                    if (why != "") print file " frame " $1 " (" pass "): " $4 " -- " why $6
                }' >>"$flagged"
            done
            if [ "$pass" = outer ]; then
                judged=$((judged + seen))
                if [ "$seen" != "$want" ] || { [ "$total" -gt 0 ] && [ "$want" = 0 ]; }; then
                    detail="$detail $(basename "$f"): decoded $seen of $want frames from las ($total in all)"
                    bad=$((bad + 1))
                fi
            else
                inner=$((inner + seen))
            fi
        done
    done
    local nflag
    nflag=$(wc -l <"$flagged")
    if [ "$nflag" -gt 0 ]; then
        echo "---- tshark flags $nflag frame(s) las sent ($label)"
        head -n 40 "$flagged"
        # Keep the captures (the work directory goes at exit).
        for f in ${CAP_FILES[$label]:-}; do cp "$f" "/tmp/las-lab-$(basename "$f")" && echo "kept /tmp/las-lab-$(basename "$f")"; done
        detail="$detail $nflag flagged: $(head -n 3 "$flagged" | tr '\n' ';')"
        bad=$((bad + 1))
    fi
    if [ "$bad" = 0 ] && [ "$judged" -gt 0 ]; then
        check "$name" ok "$judged frames from las decode clean ($inner data frames with the hosts' packets inside)"
    else
        [ "$judged" -gt 0 ] || detail="$detail no frame from las captured"
        check "$name" FAIL "$detail"
    fi
}

# ---------------------------------------------------------------- Prometheus

# Starts Debian's prometheus in las's namespace: loopback only, its own
# config and data directory in $WORK, scraping las every second.
prom_start() {
    command -v prometheus >/dev/null || return 1
    mkdir -p "$WORK/prom-data"
    cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: las
    static_configs:
      - targets: ["127.0.0.1:$METRICS_PORT"]
EOF
    log "starting prometheus in $NS_LAS on $PROM_ADDR (scraping las at 127.0.0.1:$METRICS_PORT)"
    # `ip netns exec` execs prometheus: $! is prometheus itself.
    ip netns exec "$NS_LAS" prometheus --config.file="$WORK/prometheus.yml" \
        --storage.tsdb.path="$WORK/prom-data" --web.listen-address="$PROM_ADDR" \
        --log.level=warn >"$WORK/prometheus.log" 2>&1 &
    PROM_PID=$!
    wait_for 30 prom_query 'vector(1)' >/dev/null 2>&1
}

prom_stop() {
    [ -n "$PROM_PID" ] || return 0
    kill -TERM "$PROM_PID" 2>/dev/null
    local i
    for i in $(seq 1 20); do
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.25
    done
    kill -KILL "$PROM_PID" 2>/dev/null
    wait "$PROM_PID" 2>/dev/null
    PROM_PID=""
}

# Asks Prometheus's HTTP API (/api/v1/query) for <promql>; prints one
# "labels value" line per series (labels as JSON, sorted). Fails if the
# API does not answer with success.
prom_query() { # promql
    in_ns "$NS_LAS" python3 -c '
import json, sys, urllib.parse, urllib.request
url = "http://%s/api/v1/query?%s" % (sys.argv[1], urllib.parse.urlencode({"query": sys.argv[2]}))
with urllib.request.urlopen(url, timeout=5) as r:
    d = json.load(r)
if d.get("status") != "success":
    sys.exit("prometheus: %s" % d)
res = d["data"]["result"]
if d["data"]["resultType"] == "scalar":
    res = [{"metric": {}, "value": res}]
for x in res:
    m = {k: v for k, v in x["metric"].items() if k not in ("__name__", "instance", "job")}
    print(json.dumps(m, sort_keys=True), x["value"][1])
' "$PROM_ADDR" "$1"
}

# The value of a query that returns one series (empty if none).
prom_value() { # promql
    prom_query "$1" 2>/dev/null | head -n 1 | awk '{ print $NF }'
}

prom_up() { [ "$(prom_value 'up{job="las"}')" = 1 ]; }

prom_above() { # promql threshold: the value is greater
    local v
    v=$(prom_value "$1")
    [ -n "$v" ] && python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)' "$v" "$2"
}

# The lab's final word from Prometheus: packets per switch and the drops
# that happened, over the whole lab (las restarts reset its counters, so
# the highest value each series reached).
prom_report() {
    [ -n "$PROM_PID" ] || return 0
    local q
    for q in 'max by (switch) (max_over_time(las_switch_rx_packets_total[30m]))' \
        'max by (reason) (max_over_time(las_drops_total[30m])) > 0'; do
        echo "---- Prometheus: $q"
        prom_query "$q" 2>&1 | sed 's/^/   /'
    done
}

# ---------------------------------------------------------------- topology

build() {
    log "underlay namespace $NS_UL with bridge br0"
    ip netns add "$NS_UL"
    in_ns "$NS_UL" ip link set lo up
    in_ns "$NS_UL" ip link add br0 type bridge
    in_ns "$NS_UL" ip link set br0 mtu $MTU up

    # las: veth "ul0" in lasns, peer "las" on the bridge.
    ip netns add "$NS_LAS"
    in_ns "$NS_LAS" ip link set lo up
    in_ns "$NS_LAS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip link add ul0 mtu $MTU netns "$NS_LAS" type veth peer name las mtu $MTU netns "$NS_UL"
    in_ns "$NS_UL" ip link set las master br0 up
    in_ns "$NS_LAS" ip link set ul0 up
    # The kernel must not answer for las: ul0 gets no address.
    LAS_UL_MAC=$(in_ns "$NS_LAS" cat /sys/class/net/ul0/address)

    local s ns
    for s in "${SITES[@]}"; do
        ns=$(ns_site "$s")
        log "site $s: namespace $ns, underlay ${UL[$s]}, host ${HOST[$s]} (${MAC[$s]})"
        ip netns add "$ns"
        in_ns "$ns" ip link set lo up
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        ip link add ul0 mtu $MTU netns "$ns" type veth peer name "site$s" mtu $MTU netns "$NS_UL"
        in_ns "$NS_UL" ip link set "site$s" master br0 up
        in_ns "$ns" ip addr add "${UL[$s]}/24" dev ul0
        in_ns "$ns" ip link set ul0 up
        # Checksums filled in by the sender: af_packet hands las the frame as is.
        in_ns "$ns" ethtool -K ul0 tx off >/dev/null 2>&1 || true
        # The site's host: a TAP with a fixed MAC; las-edge attaches to it,
        # brings it up and sets its MTU.
        in_ns "$ns" ip tuntap add mode tap name pw0
        in_ns "$ns" ip link set pw0 address "${MAC[$s]}"
        in_ns "$ns" ip addr add "${HOST[$s]}/24" dev pw0
    done
}

# What every lab config shares: EAL, pool, control socket and the underlay
# port. Args: device, port MTU, mbuf size, and optionally the port's IPv4
# address/prefix (default $LAS_UL/24; "" leaves the line out: an
# IPv6-only port, whose config then adds address6).
las_config_head() {
    cat <<EOF
[eal]
args = ["--no-pci", "--no-huge", "--no-shconf", "-m", "512", "--file-prefix", "$FILE_PREFIX"]

[dataplane]
mbufs = 8191
mbuf_size = $3
max_sessions = 16
max_switches = 4
mac_table_size = 1024

[control]
socket = "$WORK/las.sock"

[metrics]
listen = "127.0.0.1:$METRICS_PORT"

[[port]]
name = "wan0"
device = "$1"
$(v4=${4-$LAS_UL/24}; [ -z "$v4" ] || echo "address = \"$v4\"")
mtu = $2
EOF
}

write_las_config() {
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176
        cat <<EOF

[[switch]]
name = "cust100"
aging = $AGING

[[switch]]
name = "cust200"
aging = $AGING

# Site A: IP encap with the RFC 4719 default sublayer (sequence numbers).
[[session]]
name = "siteA"
switch = "cust100"
peer = "${UL[A]}"
encap = "ip"
local_session_id = ${LSID[A]}
remote_session_id = ${RSID[A]}
l2spec = "default"

# Site B: UDP encap with cookies both ways.
[[session]]
name = "siteB"
switch = "cust100"
peer = "${UL[B]}"
encap = "udp"
local_session_id = ${LSID[B]}
remote_session_id = ${RSID[B]}
local_cookie = "0x0a0b0c0d"
remote_cookie = "0x0102030405060708"

# Site C: IP encap, alone in another switch.
[[session]]
name = "siteC"
switch = "cust200"
peer = "${UL[C]}"
encap = "ip"
local_session_id = ${LSID[C]}
remote_session_id = ${RSID[C]}
EOF
    } >"$WORK/las.toml"
    # Site B uses a config file (the other sites use flags).
    cat >"$WORK/edge-B.toml" <<EOF
tap = "pw0"
tap-mtu = $TAP_MTU
local = "${UL[B]}"
peer = "$LAS_UL"
encap = "udp"
sport = 1701
dport = 1701
session-id = ${RSID[B]}
peer-session-id = ${LSID[B]}
cookie = "0x0102030405060708"
peer-cookie = "0x0a0b0c0d"
EOF
}

start_las() { # [config name, default las]: $WORK/<name>.toml, logs to $WORK/<name>.log
    local name=${1:-las}
    log "starting las in $NS_LAS (cores $LAB_CORES, $name.toml)"
    rm -rf "/run/dpdk/$FILE_PREFIX"
    # `ip netns exec` execs the command: $! is las itself, so signals reach it.
    ip netns exec "$NS_LAS" "$LAS" --config "$WORK/$name.toml" --cores "$LAB_CORES" >>"$WORK/$name.log" 2>&1 &
    LAS_PID=$!
    if ! wait_for 60 las_show ports >/dev/null 2>&1; then
        echo "las did not come up:"
        tail -n 40 "$WORK/$name.log"
        return 1
    fi
}

stop_las() { # SIGINT (las sends StopCCN to its peers), wait up to 20 s
    [ -n "$LAS_PID" ] || return 0
    kill -INT "$LAS_PID" 2>/dev/null
    local i
    for i in $(seq 1 40); do
        kill -0 "$LAS_PID" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$LAS_PID" 2>/dev/null
    wait "$LAS_PID" 2>/dev/null
    LAS_PID=""
}

start_edge() { # site
    local s=$1 ns
    ns=$(ns_site "$s")
    case $s in
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[A]}" --peer "$LAS_UL" \
        --encap ip --session-id "${RSID[A]}" --peer-session-id "${LSID[A]}" --l2spec default \
        >"$WORK/edge-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --config "$WORK/edge-B.toml" >"$WORK/edge-B.log" 2>&1 & ;;
    C) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[C]}" --peer "$LAS_UL" \
        --encap ip --session-id "${RSID[C]}" --peer-session-id "${LSID[C]}" \
        >"$WORK/edge-C.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

tap_up() { # site: las-edge has the TAP up with the lab MTU
    local out
    out=$(in_ns "$(ns_site "$1")" ip -o link show pw0) || return 1
    [[ $out == *",UP"* || $out == *"<UP"* ]] && [[ $out == *"mtu $TAP_MTU "* ]]
}

stop_edge() { # site: SIGTERM, wait, print its counters
    local s=$1 pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    echo "-- las-edge site $s counters"
    grep -v ' INFO ' "$WORK/edge-$s.log" | sed 's/^/   /'
}

# ---------------------------------------------------------------- checks

run_checks() {
    local s r mbps out

    log "warm-up: las resolves the edges by ARP, the hosts resolve each other"
    for s in "${SITES[@]}"; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    in_ns lassiteA ping -n -c 3 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    in_ns lassiteC ping -n -c 2 -i 0.3 -W 1 "${HOST[A]}" >/dev/null 2>&1

    # 0. Prometheus scrapes las: up, and the counter before the pings.
    local prom_before=""
    if [ -z "$PROM_PID" ]; then
        check prom-up FAIL "prometheus is not running (not installed? scripts/deps.sh installs it)"
    elif wait_for 20 prom_up; then
        prom_before=$(prom_value 'las_switch_rx_packets_total{job="las",switch="cust100"}')
        check prom-up ok "up{job=\"las\"} = 1, cust100 rx_packets ${prom_before:-?}"
    else
        check prom-up FAIL "up{job=\"las\"} = $(prom_value 'up{job="las"}'); $(tail -n 3 "$WORK/prometheus.log" | tr '\n' ' ')"
    fi

    # 1. A <-> B
    in_ns lassiteA ip neigh flush dev pw0
    in_ns lassiteB ip neigh flush dev pw0
    if r=$(ping_ok A "${HOST[B]}" 10); then check ping-a-b ok "$r"; else check ping-a-b FAIL "$r"; fi
    if r=$(ping_ok B "${HOST[A]}" 10); then check ping-b-a ok "$r"; else check ping-b-a FAIL "$r"; fi

    # 2. Broadcast ARP crossed las: A learned B's MAC (its table was flushed).
    out=$(in_ns lassiteA ip neigh show "${HOST[B]}" dev pw0)
    if grep -qi "lladdr ${MAC[B]}" <<<"$out"; then
        check arp-a-learns-b ok "$out"
    else
        check arp-a-learns-b FAIL "${out:-no entry}"
    fi

    # 3. Full-size frames (TAP MTU) cross without fragmentation.
    r=$(in_ns lassiteA ping -n -c 3 -i 0.2 -W 2 -M do -s $((TAP_MTU - 28)) "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    if [ "${r:-0}" -ge 2 ]; then check ping-a-b-mtu ok "${r}/3 at $TAP_MTU bytes"; else check ping-a-b-mtu FAIL "${r:-0}/3"; fi

    # Prometheus saw the pings: cust100's packet counter rose, and every
    # drop reason las counts is a series.
    if [ -n "$prom_before" ] && wait_for 10 prom_above 'las_switch_rx_packets_total{job="las",switch="cust100"}' "$prom_before"; then
        check prom-switch-counter-rose ok "las_switch_rx_packets_total{switch=\"cust100\"} $prom_before -> $(prom_value 'las_switch_rx_packets_total{job="las",switch="cust100"}')"
    else
        check prom-switch-counter-rose FAIL "before ${prom_before:-?}, now $(prom_value 'las_switch_rx_packets_total{job="las",switch="cust100"}')"
    fi
    local want_drops got_drops
    want_drops=$(las_show counters --json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["drops"]))')
    got_drops=$(prom_value 'count(las_drops_total{job="las"})')
    if [ -n "$got_drops" ] && [ "${want_drops:-0}" -gt 0 ] && [ "$got_drops" = "$want_drops" ]; then
        check prom-drop-counters ok "$got_drops drop reasons in Prometheus (las counts $want_drops)"
    else
        check prom-drop-counters FAIL "Prometheus has ${got_drops:-no} las_drops_total series, las counts ${want_drops:-?} reasons"
    fi

    # 4. C is in another switch: it reaches las but not A or B.
    if r=$(ping_ok C "${HOST[A]}" 3); then check isolation-c-a FAIL "$r replies"; else check isolation-c-a ok "$r replies"; fi
    if r=$(ping_ok C "${HOST[B]}" 3); then check isolation-c-b FAIL "$r replies"; else check isolation-c-b ok "$r replies"; fi
    r=$(session_field siteC rx_packets)
    if [ "${r:-0}" -gt 0 ]; then check c-reaches-las ok "siteC rx_packets=$r"; else check c-reaches-las FAIL "siteC rx_packets=${r:-?}"; fi

    # 5. TCP A -> B. The capture keeps only a sample of the transfer.
    capture_start static 3000
    if command -v iperf3 >/dev/null; then
        ip netns exec lassiteB iperf3 -s -1 -B "${HOST[B]}" >"$WORK/iperf3-server.log" 2>&1 &
        local srv=$!
        sleep 1
        out=$(in_ns lassiteA timeout 30 iperf3 -c "${HOST[B]}" -t "${LAB_IPERF_SECS:-5}" -J 2>&1)
        wait "$srv" 2>/dev/null
        mbps=$(echo "$out" | python3 -c '
import json, sys
try:
    e = json.load(sys.stdin)["end"]
    print("%.1f %d" % (e["sum_received"]["bits_per_second"] / 1e6, e["sum_received"]["bytes"]))
except Exception:
    pass
')
    else
        # Fallback: python sender/receiver, 64 MiB.
        ip netns exec lassiteB python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("'"${HOST[B]}"'", 5201)); s.listen(1); c, _ = s.accept(); n = 0
while True:
    b = c.recv(1 << 16)
    if not b: break
    n += len(b)
print(n)' >"$WORK/tcp-server.log" 2>&1 &
        local srv=$!
        sleep 1
        mbps=$(in_ns lassiteA timeout 60 python3 -c '
import socket, time
s = socket.create_connection(("'"${HOST[B]}"'", 5201)); buf = b"x" * 65536; t = time.time()
for _ in range(1024): s.sendall(buf)
s.shutdown(socket.SHUT_WR); s.recv(1); d = time.time() - t
print("%.1f %d" % (64 * 1024 * 1024 * 8 / d / 1e6, 64 * 1024 * 1024))')
        wait "$srv" 2>/dev/null
    fi
    capture_start static 20000
    if [ -n "$mbps" ]; then
        echo "RESULT tcp-a-b-mbps ${mbps%% *}"
        check tcp-a-b ok "${mbps#* } bytes at ${mbps%% *} Mbit/s"
    else
        check tcp-a-b FAIL "transfer did not complete: $(echo "$out" | tail -n 3 | tr '\n' ' ')"
    fi

    # 6. MAC move: host A's MAC shows up behind site B, then moves back.
    r=$(member_of cust100 "${MAC[A]}")
    if [ "$r" = siteA ]; then check mac-a-on-siteA ok; else check mac-a-on-siteA FAIL "member=${r:-none}"; fi
    in_ns lassiteB ip link set pw0 address "${MAC[A]}"
    in_ns lassiteB ip neigh flush dev pw0
    # Frames from B now carry A's MAC (ARP broadcast + ping).
    in_ns lassiteB ping -n -c 3 -i 0.3 -W 1 "${HOST[C]}" >/dev/null 2>&1
    r=$(member_of cust100 "${MAC[A]}")
    if [ "$r" = siteB ]; then check mac-move-to-siteB ok "member siteA -> siteB"; else check mac-move-to-siteB FAIL "member=${r:-none}"; fi
    in_ns lassiteB ip link set pw0 address "${MAC[B]}"
    in_ns lassiteB ip neigh flush dev pw0
    in_ns lassiteA ip neigh flush dev pw0
    in_ns lassiteA ping -n -c 3 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    r=$(member_of cust100 "${MAC[A]}")
    if [ "$r" = siteA ]; then check mac-move-back ok "member siteB -> siteA"; else check mac-move-back FAIL "member=${r:-none}"; fi

    # 6b. Reload under traffic: while A pings B every 50 ms, a reload adds
    # switch cust300 and moves site C into cust100; C then reaches A
    # across it, and A <-> B loses no ping. A second reload puts C back.
    reload_step
    # 7. Aging: stop site B's edge; its MAC leaves the table within ~2 x aging.
    r=$(member_of cust100 "${MAC[B]}")
    if [ "$r" = siteB ]; then check mac-b-on-siteB ok; else check mac-b-on-siteB FAIL "member=${r:-none}"; fi
    stop_edge B
    local t0
    t0=$(date +%s)
    if wait_for $((AGING * 3 + 5)) sh -c "! \"$LAS\" show macs cust100 --socket \"$WORK/las.sock\" | grep -qi \"${MAC[B]}\""; then
        check mac-b-aged ok "gone after $(($(date +%s) - t0)) s (aging $AGING s)"
    else
        check mac-b-aged FAIL "still present after $(($(date +%s) - t0)) s"
    fi
}


las_reload() { # config file: las reload --config FILE, output in $WORK/reload.log
    "$LAS" reload --config "$1" >>"$WORK/reload.log" 2>&1
}

reload_step() {
    local out r
    # cust300 added, siteC moved from cust200 to cust100.
    sed -e 's/^switch = "cust200"$/switch = "cust100"/' "$WORK/las.toml" >"$WORK/las-reload.toml"
    printf '\n[[switch]]\nname = "cust300"\naging = %s\n' "$AGING" >>"$WORK/las-reload.toml"
    in_ns lassiteA ping -n -c 60 -i 0.05 -W 1 "${HOST[B]}" >"$WORK/reload-ping.log" 2>&1 &
    local pinger=$!
    sleep 1
    if las_reload "$WORK/las-reload.toml"; then
        check reload-applied ok "$(grep -c '^changed:' "$WORK/reload.log") change(s): $(grep '^changed:' "$WORK/reload.log" | tr '\n' ';')"
    else
        check reload-applied FAIL "$(tail -n 3 "$WORK/reload.log" | tr '\n' ' ')"
    fi
    wait "$pinger"
    out=$(sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\2\/\1/p' "$WORK/reload-ping.log")
    if [ -n "$out" ] && [ "${out%/*}" = "${out#*/}" ]; then
        check reload-no-loss ok "A -> B $out replies across the reload"
    else
        check reload-no-loss FAIL "A -> B ${out:-?} replies across the reload"
    fi
    if las_show switches | grep '^cust300 ' >/dev/null; then check reload-switch-added ok; else
        check reload-switch-added FAIL "$(las_show switches | tr '\n' ';')"
    fi
    in_ns lassiteC ip neigh flush dev pw0
    if r=$(ping_ok C "${HOST[A]}" 5); then check reload-c-reaches-a ok "$r (was isolated)"; else
        check reload-c-reaches-a FAIL "$r"
    fi
    # Back: C alone in cust200 again, cust300 gone.
    las_reload "$WORK/las.toml" || true
    if r=$(ping_ok C "${HOST[A]}" 3); then check reload-back-isolated FAIL "$r replies"; else
        check reload-back-isolated ok "$r replies"
    fi
}

# ---------------------------------------------------------------- NAT

# Site N sits behind a masquerading NAT (namespace lasnat): its edge's
# UDP source port is whatever the NAT picks ("masquerade random"), and
# the NAT forgets an idle UDP mapping after 30 s (set explicitly, as
# Linux conntrack's nf_conntrack_udp_timeout default).
NS_NAT=lasnat
NAT_UL=10.200.0.20
HOST[N]=192.168.100.4
MAC[N]=02:00:00:dd:00:04
NAT_IDLE=${LAB_NAT_IDLE:-300}

nat_build() {
    log "NAT: namespace $NS_NAT ($NAT_UL on the underlay, 172.31.0.1 inside), site N behind it"
    ip netns add "$NS_NAT"
    in_ns "$NS_NAT" ip link set lo up
    in_ns "$NS_NAT" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
        net.ipv4.ip_forward=1
    ip link add ul0 mtu $MTU netns "$NS_NAT" type veth peer name natul mtu $MTU netns "$NS_UL"
    in_ns "$NS_UL" ip link set natul master br0 up
    in_ns "$NS_NAT" ip addr add "$NAT_UL/24" dev ul0
    in_ns "$NS_NAT" ip link set ul0 up
    ip netns add lassiteN
    in_ns lassiteN ip link set lo up
    in_ns lassiteN sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip link add in0 mtu $MTU netns "$NS_NAT" type veth peer name ul0 mtu $MTU netns lassiteN
    in_ns "$NS_NAT" ip addr add 172.31.0.1/24 dev in0
    in_ns "$NS_NAT" ip link set in0 up
    in_ns lassiteN ip addr add 172.31.0.2/24 dev ul0
    in_ns lassiteN ip link set ul0 up
    in_ns lassiteN ip route add default via 172.31.0.1
    local ns
    for ns in "$NS_NAT" lassiteN; do in_ns "$ns" ethtool -K ul0 tx off >/dev/null 2>&1 || true; done
    in_ns "$NS_NAT" ethtool -K in0 tx off >/dev/null 2>&1 || true
    printf '%s\n' 'table ip nat {' '  chain post {' \
        '    type nat hook postrouting priority 100;' \
        '    ip saddr 172.31.0.0/24 oifname "ul0" masquerade random' '  }' '}' |
        in_ns "$NS_NAT" nft -f -
    in_ns "$NS_NAT" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 \
        net.netfilter.nf_conntrack_udp_timeout_stream=30
    in_ns lassiteN ip tuntap add mode tap name pw0
    in_ns lassiteN ip link set pw0 address "${MAC[N]}"
    in_ns lassiteN ip addr add "${HOST[N]}/24" dev pw0
}

write_las_nat_config() {
    las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176 >"$WORK/las-nat.toml"
    # Default keepalives: a HELLO after 20 s of silence toward UDP peers.
    printf '\n[[switch]]\nname = "cust100"\nvc_ids = ["100"]\naging = 60\n' >>"$WORK/las-nat.toml"
}

# "local_session_id ccid encap" of the session from the NAT's address.
nat_session() {
    las_show sessions --json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("sessions", []):
    if s["peer"] == sys.argv[1]:
        print(s["local_session_id"], s.get("ccid"), s["encap"])
' "$NAT_UL"
}

# Times the NAT'd tunnel followed its peer to a new port.
nat_moves() {
    las_show tunnels --json 2>/dev/null | python3 -c '
import json, sys
print(sum(t.get("peer_moves", 0) for t in json.load(sys.stdin).get("tunnels", []) if t["peer"] == sys.argv[1]))
' "$NAT_UL"
}

one_ping() { in_ns lassiteN ping -n -c 1 -W 1 "${HOST[A]}" >/dev/null 2>&1; }

run_nat() {
    local before after r t0 waited sid ccid port
    nat_build
    write_las_nat_config
    if ! start_las las-nat; then
        check nat-las-start FAIL
        return
    fi
    start_dyn_edge A
    ip netns exec lassiteN "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local 172.31.0.2 --peer "$LAS_UL" \
        --encap udp --vc-id 100 >>"$WORK/dyn-edge-N.log" 2>&1 &
    EDGE_PID[N]=$!
    if wait_for 20 sh -c "[ -n \"\$(\"$LAS\" show sessions --json --socket \"$WORK/las.sock\" | grep '\"$NAT_UL\"')\" ]"; then
        before=$(nat_session)
        check nat-session-up ok "behind the NAT: $before"
    else
        check nat-session-up FAIL "$(las_show sessions | tr '\n' ';')"
        return
    fi
    if r=$(ping_ok N "${HOST[A]}" 5); then check nat-ping ok "$r"; else check nat-ping FAIL "$r"; fi

    # The NAT forgets every mapping; N's next packets leave from a new port.
    in_ns "$NS_NAT" conntrack -F >/dev/null 2>&1
    t0=$(date +%s.%N)
    waited=""
    while [ "$(echo "$(date +%s.%N) - $t0 < 60" | bc)" = 1 ]; do
        if one_ping; then
            waited=$(echo "$(date +%s.%N) - $t0" | bc)
            break
        fi
        sleep 0.2
    done
    after=$(nat_session)
    if [ -n "$waited" ] && [ "$(echo "$waited <= 41" | bc)" = 1 ]; then
        echo "RESULT nat-rebind-resume-secs $waited"
        check nat-rebind-resumes ok "pings resumed ${waited}s after the flush (bound: 2 x 20 s HELLO + RTT)"
    else
        check nat-rebind-resumes FAIL "no ping within 60 s of the flush; session now: ${after:-none}"
    fi
    read -r sid ccid port <<<"$before"
    if [ -n "$after" ] && [ "${after%% *}" = "$sid" ] && [ "$(echo "$after" | cut -d' ' -f2)" = "$ccid" ] &&
        [ "${after##* }" != "$port" ] && [ "$(nat_moves)" = 1 ]; then
        check nat-same-session ok "same session $sid and tunnel $ccid, $port -> ${after##* }, 1 move"
    else
        check nat-same-session FAIL "before: $before; after: ${after:-none}; moves $(nat_moves)"
    fi

    # Data alone never moves a session: a packet from the NAT's address, a
    # new port, with the right session id (no cookie), is dropped.
    before=$(nat_session)
    in_ns "$NS_NAT" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 45678))
inner = bytes.fromhex("020000aa0001020000dd00040800") + bytes(46)
s.sendto(struct.pack("!HHI", 3, 0, int(sys.argv[3])) + inner, (sys.argv[2], 1701))
' "$NAT_UL" "$LAS_UL" "${before%% *}"
    sleep 1
    if [ "$(nat_session)" = "$before" ] && [ "$(nat_moves)" = 1 ]; then
        check nat-spoof-ignored ok "a data packet from port 45678 moved nothing"
    else
        check nat-spoof-ignored FAIL "before: $before; after: $(nat_session); moves $(nat_moves)"
    fi

    # Idle longer than the NAT's 30 s UDP timeout: HELLOs every 20 s keep
    # the mapping, so the pseudowire is still there, without a move.
    log "NAT: $NAT_IDLE s without traffic (the NAT drops idle UDP mappings after 30 s)"
    sleep "$NAT_IDLE"
    if r=$(ping_ok N "${HOST[A]}" 3) && [ "$(nat_moves)" = 1 ] && [ "$(nat_session)" = "$before" ]; then
        check nat-idle-kept ok "$r after $NAT_IDLE s idle, no move"
    else
        check nat-idle-kept FAIL "$r after $NAT_IDLE s idle; moves $(nat_moves); session $(nat_session)"
    fi
    stop_dyn_edge N
    stop_dyn_edge A
}

# ---------------------------------------------------------------- dynamic mode

DYN_SECRET=lab-secret-C

write_las_dyn_config() {
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176
        cat <<EOF

# No sessions: the edges ask for them by VC ID. Short timers so a dead
# edge is noticed in seconds: HELLO after 2 s of silence, then 3
# retransmissions 1 s apart.
[l2tp]
hello_interval = 2
retransmit_max = 1
retransmit_retries = 3
auto_switch = true
cookie_len = 8

# Site C must authenticate (the others need no secret).
[[l2tp.peer]]
prefix = "${UL[C]}/32"
secret = "$DYN_SECRET"

[[switch]]
name = "cust100"
vc_ids = ["100"]
aging = $AGING
EOF
    } >"$WORK/las-dyn.toml"
    # Site B in dynamic mode from a config file (VC ID as a number).
    cat >"$WORK/edge-B-dyn.toml" <<EOF
tap = "pw0"
tap-mtu = $TAP_MTU
local = "${UL[B]}"
peer = "$LAS_UL"
encap = "udp"
vc-id = 100
EOF
}

start_dyn_edge() { # site [secret]: dynamic mode; logs appended to dyn-edge-<site>.log
    local s=$1 secret=${2:-} ns
    ns=$(ns_site "$s")
    case $s in
    # A asks to receive the default sublayer (las sends it, and receives none)
    # and speaks Cisco's draft form (vendor-9 AVPs, as IOS by default).
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[A]}" --peer "$LAS_UL" \
        --encap ip --vc-id 100 --l2spec default --cisco-avps >>"$WORK/dyn-edge-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --config "$WORK/edge-B-dyn.toml" >>"$WORK/dyn-edge-B.log" 2>&1 & ;;
    C) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[C]}" --peer "$LAS_UL" \
        --encap ip --vc-id 200 --secret "${secret:-$DYN_SECRET}" >>"$WORK/dyn-edge-C.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

stop_dyn_edge() { # site [signal]: stop, wait, print its counters
    local s=$1 sig=${2:-TERM} pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill "-$sig" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    if [ "$sig" != KILL ]; then
        echo "-- las-edge site $s (dynamic) counters"
        grep -v ' INFO \| WARN ' "$WORK/dyn-edge-$s.log" | tail -n 12 | sed 's/^/   /'
    fi
}

# "peer vc_id switch kind rx_packets" per session.
dyn_sessions() {
    las_show sessions --json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("sessions", []):
    print(s["peer"], s.get("vc_id"), s["switch"], s["kind"], s["rx_packets"])
'
}

# "peer state sessions auth_failures" per tunnel.
dyn_tunnels() {
    las_show tunnels --json 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("tunnels", []):
    print(t["peer"], t["state"], t["sessions"], t["auth_failures"])
'
}

las_control_counter() { # name
    las_show counters --json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin).get("control", {}).get(sys.argv[1], 0))
' "$1"
}

has_session() { dyn_sessions | awk -v p="$1" '$1 == p { f = 1 } END { exit !f }'; }
no_session() { ! has_session "$1"; }
sessions_of() { # site...: all have a session
    local s
    for s in "$@"; do has_session "${UL[$s]}" || return 1; done
}
tunnel_established() { dyn_tunnels | awk -v p="$1" '$1 == p && $2 == "established" { f = 1 } END { exit !f }'; }
edge_logged() { grep -q "$2" "$WORK/dyn-edge-$1.log" 2>/dev/null; }

run_dynamic() {
    local s r out t0
    log "dynamic mode: las with no sessions; edges ask for VC IDs 100 (A ip, B udp) and 200 (C ip, secret)"
    write_las_dyn_config
    if ! start_las las-dyn; then
        check dyn-las-start FAIL
        return
    fi
    check dyn-las-start ok
    for s in "${SITES[@]}"; do start_dyn_edge "$s"; done

    # 1. The control connections and sessions come up.
    t0=$(date +%s)
    if wait_for 30 sessions_of A B C; then
        check dyn-sessions-up ok "3 sessions after $(($(date +%s) - t0)) s"
    else
        check dyn-sessions-up FAIL "$(dyn_sessions | tr '\n' ';')"
    fi
    echo "---- las show tunnels"
    las_show tunnels
    echo "---- las show sessions"
    las_show sessions
    r=0
    for s in "${SITES[@]}"; do tunnel_established "${UL[$s]}" || r=1; done
    if [ $r = 0 ]; then check dyn-tunnels-established ok; else check dyn-tunnels-established FAIL "$(dyn_tunnels | tr '\n' ';')"; fi
    out=$(dyn_sessions)
    if grep -q "^${UL[A]} 100 cust100 dynamic " <<<"$out" && grep -q "^${UL[B]} 100 cust100 dynamic " <<<"$out"; then
        check dyn-vc-100-cust100 ok "A and B in cust100 (VC ID 100)"
    else
        check dyn-vc-100-cust100 FAIL "$(echo "$out" | tr '\n' ';')"
    fi
    if grep -q "^${UL[C]} 200 vc-200 dynamic " <<<"$out" && las_show switches | grep "vc-200" >/dev/null; then
        check dyn-vc-200-auto-switch ok "C in auto-created switch vc-200"
    else
        check dyn-vc-200-auto-switch FAIL "$(echo "$out" | tr '\n' ';')"
    fi
    if tunnel_established "${UL[C]}" && has_session "${UL[C]}"; then
        check dyn-secret-ok ok "C authenticated with the per-peer secret"
    else
        check dyn-secret-ok FAIL
    fi
    # A spoke Cisco's dual form; las answered in it, nothing was refused.
    out=$(las_show tunnels --json 2>/dev/null | python3 -c '
import json, sys
for t in json.load(sys.stdin).get("tunnels", []):
    print(t["peer"], t["flavour"])
')
    r=$(las_show counters --json 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin).get("control", {})
print(sum(v for k, v in c.items() if k.startswith("refused_")))
')
    if grep -q "^${UL[A]} ciscodual$" <<<"$out" && [ "$r" = 0 ]; then
        check dyn-cisco-dual ok "A in Cisco's dual AVP form, 0 refusals"
    else
        check dyn-cisco-dual FAIL "$(echo "$out" | tr '\n' ';') refusals=$r"
    fi

    # 2. Traffic: A <-> B over the negotiated sessions, C isolated.
    for s in "${SITES[@]}"; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    in_ns lassiteA ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    if r=$(ping_ok A "${HOST[B]}" 10); then check dyn-ping-a-b ok "$r"; else check dyn-ping-a-b FAIL "$r"; fi
    if r=$(ping_ok B "${HOST[A]}" 10); then check dyn-ping-b-a ok "$r"; else check dyn-ping-b-a FAIL "$r"; fi
    if r=$(ping_ok C "${HOST[A]}" 3); then check dyn-isolation-c-a FAIL "$r replies"; else check dyn-isolation-c-a ok "$r replies"; fi
    r=$(dyn_sessions | awk -v p="${UL[C]}" '$1 == p { print $5 }')
    if [ "${r:-0}" -gt 0 ]; then check dyn-c-reaches-las ok "rx_packets=$r"; else check dyn-c-reaches-las FAIL "rx_packets=${r:-?}"; fi

    # 3. SIGKILL edge A: no StopCCN; las clears it after the hello timeout.
    stop_dyn_edge A KILL
    t0=$(date +%s)
    if wait_for 30 no_session "${UL[A]}"; then
        check dyn-dead-edge-cleared ok "session gone after $(($(date +%s) - t0)) s (hello 2 s, 3 retries)"
    else
        check dyn-dead-edge-cleared FAIL "still there after $(($(date +%s) - t0)) s"
    fi

    # 4. A clean stop (SIGTERM) sends StopCCN: las clears the session at once.
    stop_dyn_edge C
    if wait_for 3 no_session "${UL[C]}"; then check dyn-edge-stop-clears ok; else check dyn-edge-stop-clears FAIL; fi

    # 5. Wrong secret: C never comes up, las counts authentication failures.
    start_dyn_edge C wrong-secret
    sleep 6
    r=$(las_control_counter l2tp_auth_failures)
    if ! has_session "${UL[C]}" && ! tunnel_established "${UL[C]}" && [ "${r:-0}" -gt 0 ]; then
        check dyn-wrong-secret ok "no session, l2tp_auth_failures=$r"
    else
        check dyn-wrong-secret FAIL "l2tp_auth_failures=${r:-?} $(dyn_tunnels | tr '\n' ';')"
    fi
    stop_dyn_edge C

    # 6. A comes back (same VC ID, new session).
    start_dyn_edge A
    if wait_for 20 sessions_of A B; then check dyn-edge-rejoins ok; else check dyn-edge-rejoins FAIL; fi

    # 7. Stopping las (SIGINT) sends StopCCN: the edges see it, stay up and
    # reconnect by themselves when las is back.
    stop_las
    r=0
    for s in A B; do
        wait_for 5 edge_logged "$s" "control connection down: closed by the peer" || r=1
        kill -0 "${EDGE_PID[$s]}" 2>/dev/null || r=1
    done
    if [ $r = 0 ]; then check dyn-stopccn-seen ok "A and B saw StopCCN, still running"; else
        check dyn-stopccn-seen FAIL
        tail -n 5 "$WORK/dyn-edge-A.log" "$WORK/dyn-edge-B.log"
    fi
    if ! start_las las-dyn; then
        check dyn-las-restart FAIL
        return
    fi
    check dyn-las-restart ok
    t0=$(date +%s)
    if wait_for 60 sessions_of A B; then
        check dyn-reconnect ok "A and B back after $(($(date +%s) - t0)) s"
    else
        check dyn-reconnect FAIL "$(dyn_sessions | tr '\n' ';')"
    fi
    for s in A B; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    in_ns lassiteA ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    if r=$(ping_ok A "${HOST[B]}" 10); then check dyn-ping-after-restart ok "$r"; else check dyn-ping-after-restart FAIL "$r"; fi

    echo "---- las show tunnels"
    las_show tunnels
    echo "---- las show sessions"
    las_show sessions
    echo "---- las show switches"
    las_show switches
    for s in A B; do stop_dyn_edge "$s"; done
    # The exit counters report the control connection.
    if grep -q "^control connection: stopped" "$WORK/dyn-edge-A.log" &&
        grep -q "sessions up/down/refused: 2/1/0" "$WORK/dyn-edge-B.log"; then
        check dyn-edge-counters ok
    else
        check dyn-edge-counters FAIL
    fi
}

# ---------------------------------------------------------------- MTU scenarios

# Sites A (ip, default sublayer) and B (udp, 8-byte cookie from las) in
# cust100, both edges with --df (an underlay that cannot fragment).
MTU_PORT=5202
MTU_BYTES=$((5 * 1024 * 1024))
JUMBO_UL_MTU=9100
JUMBO_PORT_MTU=9000
JUMBO_TAP_MTU=8900
# af_packet ring for jumbo frames: a frame slot holds the tpacket2 header
# (aligned to 64 bytes here) and the frame; blocksz is a multiple of the
# page size and of framesz. Each RX frame must fit one mbuf (af_packet does
# not scatter): framesz - 32 <= mbuf_size - 128.
JUMBO_FRAMESZ=9216
JUMBO_BLOCKSZ=36864
JUMBO_FRAMECNT=512
JUMBO_MBUF_SIZE=9344

set_underlay_mtu() { # mtu: every underlay veth end and the bridge
    local m=$1 s
    for s in las "${SITES[@]/#/site}"; do in_ns "$NS_UL" ip link set "$s" mtu "$m"; done
    in_ns "$NS_UL" ip link set br0 mtu "$m"
    in_ns "$NS_LAS" ip link set ul0 mtu "$m"
    for s in "${SITES[@]}"; do in_ns "$(ns_site "$s")" ip link set ul0 mtu "$m"; done
}

write_las_mtu_config() { # name mss_clamp port_mtu device mbuf_size
    {
        las_config_head "$4" "$3" "$5"
        cat <<EOF

[[switch]]
name = "cust100"
aging = $AGING
mss_clamp = $2

[[session]]
name = "siteA"
switch = "cust100"
peer = "${UL[A]}"
encap = "ip"
local_session_id = ${LSID[A]}
remote_session_id = ${RSID[A]}
l2spec = "default"

[[session]]
name = "siteB"
switch = "cust100"
peer = "${UL[B]}"
encap = "udp"
local_session_id = ${LSID[B]}
remote_session_id = ${RSID[B]}
local_cookie = "0x0a0b0c0d"
remote_cookie = "0x0102030405060708"
EOF
    } >"$WORK/$1.toml"
}

start_mtu_edge() { # site tap-mtu [nodf]: static session, --df unless nodf; log mtu-edge-<site>.log
    local s=$1 ns df=(--df)
    ns=$(ns_site "$s")
    [ "${3:-}" = nodf ] && df=()
    case $s in
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu "$2" "${df[@]}" --local "${UL[A]}" --peer "$LAS_UL" \
        --encap ip --session-id "${RSID[A]}" --peer-session-id "${LSID[A]}" --l2spec default \
        >>"$WORK/mtu-edge-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu "$2" "${df[@]}" --local "${UL[B]}" --peer "$LAS_UL" \
        --encap udp --session-id "${RSID[B]}" --peer-session-id "${LSID[B]}" \
        --cookie 0x0102030405060708 --peer-cookie 0x0a0b0c0d >>"$WORK/mtu-edge-B.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

tap_mtu_is() { # site mtu: las-edge has the TAP up with this MTU
    local out
    out=$(in_ns "$(ns_site "$1")" ip -o link show pw0) || return 1
    [[ $out == *",UP"* || $out == *"<UP"* ]] && [[ $out == *"mtu $2 "* ]]
}

stop_mtu_edge() { # site: SIGTERM, wait, print its exit counters
    local s=$1 pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    echo "-- las-edge site $s (mtu) counters"
    grep -v ' INFO ' "$WORK/mtu-edge-$s.log" | tail -n 12 | sed 's/^/   /'
}

# TCP transfer of $MTU_BYTES from site A's host to site B's host, within
# `secs` seconds. Prints "OK <bytes> <seconds> <mbit/s> <mss>" when B got
# every byte, else "FAIL <bytes B got> <mss> <why>". <mss> is the sender's
# TCP_MAXSEG after the handshake (the MSS in use, minus TCP options).
tcp_transfer() { # secs
    local secs=$1 got res
    ip netns exec lassiteB timeout $((secs + 3)) python3 -c '
import socket, sys
ip, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port)); s.listen(1); s.settimeout(secs)
n = 0
try:
    c, _ = s.accept(); c.settimeout(secs)
    while True:
        b = c.recv(1 << 16)
        if not b: break
        n += len(b)
    c.sendall(b"%d\n" % n)
except Exception:
    pass
print(n)' "${HOST[B]}" "$MTU_PORT" "$secs" >"$WORK/mtu-tcp-server.log" 2>&1 &
    local srv=$!
    sleep 0.5
    res=$(in_ns lassiteA timeout $((secs + 2)) python3 -c '
import socket, sys, time
ip, port, total, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
mss = 0
try:
    s = socket.create_connection((ip, port), timeout=5)
    mss = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)
    s.settimeout(secs); buf = b"x" * 65536; t = time.time(); sent = 0
    while sent < total:
        sent += s.send(buf[:min(len(buf), total - sent)])
    s.shutdown(socket.SHUT_WR)
    r = s.recv(64); d = time.time() - t
    n = int(r or b"0")
    if n != total: raise RuntimeError("short")
    print("OK %d %.2f %.1f %d" % (n, d, n * 8 / d / 1e6, mss))
except Exception as e:
    print("FAIL ? %d %s" % (mss, type(e).__name__))
sys.stdout.flush()' "${HOST[B]}" "$MTU_PORT" "$MTU_BYTES" "$secs" 2>&1)
    [ -n "$res" ] || res="FAIL ? 0 timeout"
    kill "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
    got=$(tail -n 1 "$WORK/mtu-tcp-server.log" 2>/dev/null)
    if [[ $res == FAIL* ]]; then res="FAIL ${got:-0} ${res#FAIL ? }"; fi
    echo "$res"
}

las_drop() { # reason: drops counted by las
    las_show counters --json 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin).get("drops", {}).get(sys.argv[1], 0))' "$1"
}

switch_field() { # switch field: prints the value, or "absent" if las does not report it
    las_show switches --json 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin).get("switches", []):
    if s["name"] == sys.argv[1]:
        print(s.get(sys.argv[2], "absent"))' "$1" "$2"
}

edge_send_errors() { # site: send errors at the edge's last exit report
    grep -o 'send-error[^0-9]*[0-9]*' "$WORK/mtu-edge-$1.log" | tail -n 1 | grep -o '[0-9]*$'
}

mtu_flush_neigh() {
    local s
    for s in A B; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    in_ns lassiteA ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
}

run_mtu() {
    local s r res mss clamped n
    # Expected clamped MSS (auto): min over the members of port MTU minus
    # the encapsulation (A: IP 20 + session 4 + sublayer 4 = 28; B: IP 20 +
    # UDP 8 + L2TPv3 8 + cookie 8 = 44), minus inner Ethernet 14, IP 20,
    # TCP 20.
    local want_mss=$((MTU - 44 - 14 - 20 - 20))

    # 1. Hosts at MTU 1500 over a 1500-byte underlay that cannot fragment.
    log "MTU: hosts (TAPs) at $MTU over a $MTU-byte underlay, edges with --df; las mss_clamp = \"off\""
    set_underlay_mtu "$MTU"
    write_las_mtu_config las-mtu-off '"off"' "$MTU" "net_af_packet0,iface=ul0" 2176
    write_las_mtu_config las-mtu-auto '"auto"' "$MTU" "net_af_packet0,iface=ul0" 2176
    if ! start_las las-mtu-off; then
        check mtu-las-start FAIL "mss_clamp off"
        return
    fi
    for s in A B; do start_mtu_edge "$s" "$MTU"; done
    r=0
    for s in A B; do wait_for 10 tap_mtu_is "$s" "$MTU" || r=1; done
    if [ $r = 0 ]; then check mtu-edges-start ok "TAPs at MTU $MTU, --df"; else
        check mtu-edges-start FAIL
        tail -n 5 "$WORK/mtu-edge-A.log" "$WORK/mtu-edge-B.log"
    fi
    mtu_flush_neigh
    local ping_r
    ping_r=$(ping_ok A "${HOST[B]}" 5)
    local ping_rc=$?
    res=$(tcp_transfer "${LAB_MTU_STALL_SECS:-10}")
    local big
    big=$(in_ns lassiteA ping -n -c 2 -i 0.2 -W 1 -M do -s $((MTU - 28)) "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    local exceeded
    exceeded=$(las_drop mtu_exceeded)
    stop_mtu_edge A
    local detail="small ping $ping_r, full-size ping ${big:-0}/2, TCP: $res, edge A send-error=$(edge_send_errors A), las mtu_exceeded=$exceeded"
    if [ $ping_rc = 0 ] && [[ $res == FAIL* ]]; then
        check mtu-tcp-stalls-without-clamp ok "$detail"
    else
        check mtu-tcp-stalls-without-clamp FAIL "$detail"
    fi

    # Edge A without --df: the kernel fragments its oversize tunnel
    # packets, they are reassembled and las cannot send the frame to B
    # within its port MTU (mtu_policy = "drop"): mtu_exceeded. las is
    # restarted too: the new edge starts its sublayer sequence numbers
    # again at 0, which las would drop as old (sequence_error).
    stop_las
    if ! start_las las-mtu-off; then
        check mtu-las-drops-oversize FAIL "las did not restart"
        return
    fi
    start_mtu_edge A "$MTU" nodf
    sleep 1
    mtu_flush_neigh
    local reasm0
    exceeded=$(las_drop mtu_exceeded)
    reasm0=$(las_control_counter reassembled)
    big=$(in_ns lassiteA ping -n -c 3 -i 0.2 -W 1 -M do -s $((MTU - 28)) "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    r=$(($(las_drop mtu_exceeded) - exceeded))
    n=$(($(las_control_counter reassembled) - reasm0))
    # (net_af_packet's PACKET_FANOUT_FLAG_DEFRAG has the kernel reassemble
    # before las sees the packet, so las's own `reassembled` stays 0 here.)
    detail="full-size ping ${big:-0}/3, las mtu_exceeded +$r, reassembled by las +$n"
    if [ "${big:-0}" = 0 ] && [ "$r" -ge 3 ]; then
        check mtu-las-drops-oversize ok "$detail"
    else
        check mtu-las-drops-oversize FAIL "$detail"
    fi
    stop_las
    for s in A B; do stop_mtu_edge "$s"; done

    # Same hosts and edges, las with mss_clamp = "auto" (the default).
    log "MTU: las mss_clamp = \"auto\" (expected MSS <= $want_mss)"
    if ! start_las las-mtu-auto; then
        check mtu-las-start FAIL "mss_clamp auto"
        return
    fi
    check mtu-las-start ok
    for s in A B; do start_mtu_edge "$s" "$MTU"; done
    for s in A B; do wait_for 10 tap_mtu_is "$s" "$MTU"; done
    mtu_flush_neigh
    res=$(tcp_transfer 30)
    if [[ $res == OK* ]]; then
        read -r _ n r mbps mss <<<"$res"
        echo "RESULT mtu-clamp-tcp-mbps $mbps"
        check mtu-tcp-completes-with-clamp ok "$n bytes in $r s at $mbps Mbit/s, sender MSS $mss"
    else
        check mtu-tcp-completes-with-clamp FAIL "$res"
    fi
    mss=$(echo "$res" | awk '$1 == "OK" { print $5 }')
    clamped=$(switch_field cust100 mss_clamped)
    if [ "$clamped" = absent ]; then
        # This las does not report the counter yet: the MSS the sender
        # uses (TCP_MAXSEG, <= the clamped MSS) is the evidence.
        if [ -n "$mss" ] && [ "$mss" -le "$want_mss" ]; then
            check mtu-mss-clamped ok "mss_clamped not reported by las show switches; sender MSS $mss <= $want_mss (unclamped $((MTU - 40 - 12)))"
        else
            check mtu-mss-clamped FAIL "mss_clamped not reported; sender MSS ${mss:-?}"
        fi
    elif [ "${clamped:-0}" -gt 0 ] && [ -n "$mss" ] && [ "$mss" -le "$want_mss" ]; then
        check mtu-mss-clamped ok "mss_clamped=$clamped, sender MSS $mss <= $want_mss"
    else
        check mtu-mss-clamped FAIL "mss_clamped=${clamped:-?}, sender MSS ${mss:-?}"
    fi
    stop_las
    for s in A B; do stop_mtu_edge "$s"; done

    # 2. Jumbo: underlay 9100, las port MTU 9000, TAPs at 8900.
    log "MTU: jumbo underlay $JUMBO_UL_MTU, las port MTU $JUMBO_PORT_MTU (af_packet framesz $JUMBO_FRAMESZ, mbuf_size $JUMBO_MBUF_SIZE), TAPs at $JUMBO_TAP_MTU"
    set_underlay_mtu "$JUMBO_UL_MTU"
    write_las_mtu_config las-jumbo '"auto"' "$JUMBO_PORT_MTU" \
        "net_af_packet0,iface=ul0,framesz=$JUMBO_FRAMESZ,blocksz=$JUMBO_BLOCKSZ,framecnt=$JUMBO_FRAMECNT" \
        "$JUMBO_MBUF_SIZE"
    if ! start_las las-jumbo; then
        check mtu-jumbo-las-start FAIL "$(grep -v '^EAL\|^TELEMETRY\| INFO ' "$WORK/las-jumbo.log" | tail -n 2 | tr '\n' ' ')"
        set_underlay_mtu "$MTU"
        return
    fi
    check mtu-jumbo-las-start ok "$(las_show ports | tail -n +2 | tr -s ' ' | head -n 1)"
    for s in A B; do start_mtu_edge "$s" "$JUMBO_TAP_MTU"; done
    r=0
    for s in A B; do wait_for 10 tap_mtu_is "$s" "$JUMBO_TAP_MTU" || r=1; done
    [ $r = 0 ] || echo "jumbo: the TAPs did not come up at MTU $JUMBO_TAP_MTU"
    mtu_flush_neigh
    r=$(in_ns lassiteA ping -n -c 3 -i 0.2 -W 2 -M do -s 8000 "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    if [ "${r:-0}" -ge 2 ]; then check mtu-jumbo-ping-8000 ok "${r}/3 with DF"; else check mtu-jumbo-ping-8000 FAIL "${r:-0}/3, las mtu_exceeded=$(las_drop mtu_exceeded)"; fi
    r=$(in_ns lassiteA ping -n -c 3 -i 0.2 -W 2 -M do -s $((JUMBO_TAP_MTU - 28)) "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    if [ "${r:-0}" -ge 2 ]; then check mtu-jumbo-ping-full ok "${r}/3 at $JUMBO_TAP_MTU bytes with DF"; else check mtu-jumbo-ping-full FAIL "${r:-0}/3"; fi
    res=$(tcp_transfer 30)
    mss=$(echo "$res" | awk '$1 == "OK" { print $5 }')
    clamped=$(switch_field cust100 mss_clamped)
    if [[ $res == OK* ]]; then
        read -r _ n r mbps mss <<<"$res"
        echo "RESULT mtu-jumbo-tcp-mbps $mbps"
        check mtu-jumbo-tcp ok "$n bytes in $r s at $mbps Mbit/s, sender MSS $mss"
    else
        check mtu-jumbo-tcp FAIL "$res"
    fi
    # The hosts' MSS (8860) is below what the path carries (9000 - 44 - 54
    # = 8902): nothing to clamp.
    if [ -n "$mss" ] && [ "$mss" -ge 8800 ] && { [ "$clamped" = absent ] || [ "${clamped:-1}" = 0 ]; }; then
        check mtu-jumbo-mss-unclamped ok "sender MSS $mss, mss_clamped=$clamped"
    else
        check mtu-jumbo-mss-unclamped FAIL "sender MSS ${mss:-?}, mss_clamped=${clamped:-?}"
    fi
    echo "---- las show counters (jumbo)"
    las_show counters | grep -v ' 0$' | head -n 40
    stop_las
    for s in A B; do stop_mtu_edge "$s"; done
    set_underlay_mtu "$MTU"
}

report() {
    echo "---- las show switches"
    las_show switches
    echo "---- las show sessions"
    las_show sessions
    echo "---- las show macs"
    las_show macs
    echo "---- las show counters"
    las_show counters
    local s
    for s in A C; do stop_edge "$s"; done
}

# ---------------------------------------------------------------- IPv6 underlay

# The same three sites over an IPv6 underlay: the site namespaces get IPv6
# (fd00:200::/64, no DAD wait), las's port address6 fd00:200::1/64, and
# every pseudowire runs over IPv6 (A ip with the default sublayer, B udp
# with cookies, C ip alone in cust200), as las-edge sends it (raw IPv6
# next header 115, UDP over IPv6 with a computed checksum). las answers
# the sites' neighbour solicitations and pings to its address itself (the
# kernel in its namespace has IPv6 off). Then the dynamic part over the
# same underlay: A (ip) and B (udp) ask for VC ID 100 over the RFC 3931
# control channel over IPv6, C (ip, with a secret for its IPv6 prefix)
# for VC ID 200 (an auto-created switch); A and B ping, C stays apart,
# no IPv6 control message is refused, and tshark decodes it all. The
# port is IPv6-only (address6, no address): las answers no ARP there, and
# both configs set the Router ID, which no IPv4 address provides.
LAS_UL6=fd00:200::1
declare -A UL6=([A]=fd00:200::11 [B]=fd00:200::12 [C]=fd00:200::13)

ipv6_underlay() {
    local s ns
    # No MLD querier here: without snooping the bridge floods the
    # solicited-node groups to las.
    in_ns "$NS_UL" ip link set br0 type bridge mcast_snooping 0
    for s in "${SITES[@]}"; do
        ns=$(ns_site "$s")
        in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
            net.ipv6.conf.ul0.disable_ipv6=0 net.ipv6.conf.pw0.disable_ipv6=1
        in_ns "$ns" ip -6 addr add "${UL6[$s]}/64" dev ul0 nodad
        # IPv6 only: the site's IPv4 underlay address goes for this part.
        in_ns "$ns" ip -4 addr flush dev ul0
    done
}

ipv4_underlay_again() { # after the IPv6 part, whatever happened in it
    local s
    for s in "${SITES[@]}"; do
        in_ns "$(ns_site "$s")" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
        in_ns "$(ns_site "$s")" ip addr replace "${UL[$s]}/24" dev ul0
    done
}

write_las_ipv6_config() {
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176 ""
        cat <<EOF
address6 = "$LAS_UL6/64"

# No IPv4 address on the port: the Router ID must be given.
[l2tp]
router_id = "$LAS_UL"

[[switch]]
name = "cust100"
aging = $AGING

[[switch]]
name = "cust200"
aging = $AGING

[[session]]
name = "siteA"
switch = "cust100"
peer = "${UL6[A]}"
encap = "ip"
local_session_id = ${LSID[A]}
remote_session_id = ${RSID[A]}
l2spec = "default"

[[session]]
name = "siteB"
switch = "cust100"
peer = "${UL6[B]}"
encap = "udp"
local_session_id = ${LSID[B]}
remote_session_id = ${RSID[B]}
local_cookie = "0x0a0b0c0d"
remote_cookie = "0x0102030405060708"

[[session]]
name = "siteC"
switch = "cust200"
peer = "${UL6[C]}"
encap = "ip"
local_session_id = ${LSID[C]}
remote_session_id = ${RSID[C]}
EOF
    } >"$WORK/las6.toml"
}

start_edge6() { # site
    local s=$1 ns
    ns=$(ns_site "$s")
    case $s in
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[A]}" --peer "$LAS_UL6" \
        --encap ip --session-id "${RSID[A]}" --peer-session-id "${LSID[A]}" --l2spec default \
        >"$WORK/edge6-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[B]}" --peer "$LAS_UL6" \
        --encap udp --sport 1701 --dport 1701 --session-id "${RSID[B]}" --peer-session-id "${LSID[B]}" \
        --cookie 0x0102030405060708 --peer-cookie 0x0a0b0c0d \
        >"$WORK/edge6-B.log" 2>&1 & ;;
    C) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[C]}" --peer "$LAS_UL6" \
        --encap ip --session-id "${RSID[C]}" --peer-session-id "${LSID[C]}" \
        >"$WORK/edge6-C.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

stop_edge6() { # site: SIGTERM, wait, print its counters
    local s=$1 pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    echo "-- las-edge site $s (IPv6) counters"
    grep -v ' INFO ' "$WORK/edge6-$s.log" | sed 's/^/   /'
}

las_neigh6() { # site: the site's neighbour entry for las has las's MAC
    in_ns "$(ns_site "$1")" ip -6 neigh show "$LAS_UL6" dev ul0 | grep -i "lladdr $LAS_UL_MAC" >/dev/null
}

run_ipv6() {
    local s r out up=1 bad
    ipv6_underlay
    write_las_ipv6_config
    capture_start ipv6 20000
    if ! start_las las6; then
        check ipv6-las-start FAIL
        return
    fi
    check ipv6-las-start ok
    for s in "${SITES[@]}"; do start_edge6 "$s"; done
    for s in "${SITES[@]}"; do wait_for 10 tap_up "$s" || up=0; done
    if [ $up = 1 ]; then check ipv6-edges-start ok; else
        check ipv6-edges-start FAIL
        for s in "${SITES[@]}"; do tail -n 5 "$WORK/edge6-$s.log"; done
    fi

    # las answers ICMPv6 echo and neighbour solicitation for its address.
    r=$(in_ns lassiteA ping -6 -n -c 3 -i 0.3 -W 2 "$LAS_UL6" 2>&1 | sed -n 's/.* \([0-9]*\) received.*/\1/p')
    if [ "${r:-0}" -ge 2 ]; then check ipv6-ping-las ok "${r}/3 echo replies from $LAS_UL6"; else
        check ipv6-ping-las FAIL "${r:-0}/3"
    fi
    bad=""
    for s in "${SITES[@]}"; do
        in_ns "$(ns_site "$s")" ping -6 -n -c 1 -W 2 "$LAS_UL6" >/dev/null 2>&1
        las_neigh6 "$s" || bad="$bad $s"
    done
    if [ -z "$bad" ]; then check ipv6-nd ok "every site resolved $LAS_UL6 to $LAS_UL_MAC"; else
        check ipv6-nd FAIL "no neighbour entry with las's MAC at:$bad"
    fi

    # las resolves the sites by neighbour discovery: its sessions come up.
    bad=""
    for s in "${SITES[@]}"; do
        wait_for 10 test "$(session_field "site$s" state)" = up || bad="$bad site$s=$(session_field "site$s" state)"
    done
    if [ -z "$bad" ]; then check ipv6-sessions-up ok "siteA siteB siteC up over IPv6"; else
        check ipv6-sessions-up FAIL "$bad"
    fi

    for s in "${SITES[@]}"; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    if r=$(ping_ok A "${HOST[B]}" 10); then check ipv6-ping-a-b ok "$r"; else check ipv6-ping-a-b FAIL "$r"; fi
    if r=$(ping_ok B "${HOST[A]}" 10); then check ipv6-ping-b-a ok "$r"; else check ipv6-ping-b-a FAIL "$r"; fi
    r=$(in_ns lassiteA ping -n -c 3 -i 0.2 -W 2 -M do -s $((TAP_MTU - 28)) "${HOST[B]}" 2>&1 |
        sed -n 's/.* \([0-9]*\) received.*/\1/p')
    if [ "${r:-0}" -ge 2 ]; then check ipv6-ping-a-b-mtu ok "${r}/3 at $TAP_MTU bytes"; else
        check ipv6-ping-a-b-mtu FAIL "${r:-0}/3"
    fi
    if r=$(ping_ok C "${HOST[A]}" 3); then check ipv6-isolation FAIL "C reached A: $r"; else
        check ipv6-isolation ok "C (cust200) cannot reach A (cust100): $r"
    fi

    # TCP across las (captured, up to the capture's 20,000 frames).
    out=$(tcp_transfer 30)
    case $out in
    OK*) check ipv6-tcp ok "A -> B: $out (bytes secs Mbit/s mss)"
        echo "RESULT ipv6-tcp-mbps $(echo "$out" | awk '{print $4}')" ;;
    *) check ipv6-tcp FAIL "$out" ;;
    esac

    bad=""
    for r in ipv6_fragment ipv6_unknown_extension ipv6_bad_extension ipv6_too_many_extensions \
        source_mismatch cookie_mismatch unknown_session malformed mtu_exceeded; do
        [ "$(las_drop "$r")" = 0 ] || bad="$bad $r=$(las_drop "$r")"
    done
    if [ -z "$bad" ]; then check ipv6-no-drops ok "no IPv6 or session drops"; else check ipv6-no-drops FAIL "$bad"; fi
    for s in "${SITES[@]}"; do stop_edge6 "$s"; done
}

write_las_ipv6_dyn_config() {
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176 ""
        cat <<EOF
address6 = "$LAS_UL6/64"

# No sessions: the sites ask for them by VC ID over IPv6. The Router ID
# stays a 32-bit nonzero id (RFC 3931 section 5.4.3); with no IPv4
# address on the port it must be given.
[l2tp]
router_id = "$LAS_UL"
hello_interval = 2
auto_switch = true
cookie_len = 4
allow = ["fd00:200::/64"]

# Site C must authenticate (an IPv6 prefix in [[l2tp.peer]]).
[[l2tp.peer]]
prefix = "${UL6[C]}/128"
secret = "$DYN_SECRET"

[[switch]]
name = "cust100"
vc_ids = ["100"]
aging = $AGING
EOF
    } >"$WORK/las6-dyn.toml"
}

start_dyn_edge6() { # site: dynamic mode over IPv6 (A ip, B udp: VC 100; C ip with a secret: VC 200)
    local s=$1 ns
    ns=$(ns_site "$s")
    case $s in
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[A]}" --peer "$LAS_UL6" \
        --encap ip --vc-id 100 --l2spec default --router-id 192.0.2.11 --hello-interval 2 \
        >>"$WORK/dyn6-edge-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[B]}" --peer "$LAS_UL6" \
        --encap udp --vc-id 100 --router-id 192.0.2.12 --hello-interval 2 \
        >>"$WORK/dyn6-edge-B.log" 2>&1 & ;;
    C) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL6[C]}" --peer "$LAS_UL6" \
        --encap ip --vc-id 200 --router-id 192.0.2.13 --secret "$DYN_SECRET" --hello-interval 2 \
        >>"$WORK/dyn6-edge-C.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

stop_dyn_edge6() { # site: SIGTERM (StopCCN), wait, print its counters
    local s=$1 pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    echo "-- las-edge site $s (dynamic, IPv6) counters"
    grep -v ' INFO ' "$WORK/dyn6-edge-$s.log" | sed 's/^/   /'
}

dyn6_up() { # peer address vc switch: a dynamic session from the peer, in that switch
    dyn_sessions | awk -v p="$1" -v v="$2" -v w="$3" '$1 == p && $2 == v && $3 == w { f = 1 } END { exit !f }'
}

# Dynamic sessions by VC ID over IPv6: the RFC 3931 control channel over
# raw IPv6 (A, C) and UDP over IPv6 (B), C authenticated by a secret for
# its IPv6 prefix and given an auto-created switch.
run_ipv6_dynamic() {
    local s r bad
    write_las_ipv6_dyn_config
    if ! start_las las6-dyn; then
        check ipv6-dyn-las-start FAIL
        return
    fi
    check ipv6-dyn-las-start ok
    for s in "${SITES[@]}"; do start_dyn_edge6 "$s"; done
    bad=""
    wait_for 20 dyn6_up "${UL6[A]}" 100 cust100 || bad="$bad A"
    wait_for 20 dyn6_up "${UL6[B]}" 100 cust100 || bad="$bad B"
    wait_for 20 dyn6_up "${UL6[C]}" 200 vc-200 || bad="$bad C"
    if [ -z "$bad" ]; then
        check ipv6-dyn-sessions-up ok "A (ip) and B (udp) in cust100, C (ip, secret) in vc-200, all over IPv6"
    else
        check ipv6-dyn-sessions-up FAIL "no session for:$bad; las has: $(dyn_sessions | tr '\n' ';')"
    fi
    for s in "${SITES[@]}"; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    if r=$(ping_ok A "${HOST[B]}" 10); then check ipv6-dyn-ping-a-b ok "$r"; else check ipv6-dyn-ping-a-b FAIL "$r"; fi
    if r=$(ping_ok B "${HOST[A]}" 10); then check ipv6-dyn-ping-b-a ok "$r"; else check ipv6-dyn-ping-b-a FAIL "$r"; fi
    if r=$(ping_ok C "${HOST[A]}" 3); then check ipv6-dyn-isolation FAIL "C reached A: $r"; else
        check ipv6-dyn-isolation ok "C (vc-200) cannot reach A (cust100): $r"
    fi
    bad=""
    for r in l2tp6_not_ours l2tp6_bad_source l2tp6_malformed l2tp6_udp_zero_checksum l2tp6_udp_bad_checksum; do
        [ "$(las_control_counter "$r")" = 0 ] || bad="$bad $r=$(las_control_counter "$r")"
    done
    if [ -z "$bad" ]; then check ipv6-dyn-control-clean ok "no IPv6 control message refused"; else
        check ipv6-dyn-control-clean FAIL "$bad"
    fi
    for s in "${SITES[@]}"; do stop_dyn_edge6 "$s"; done
}

# ---------------------------------------------------------------- edge failover

# A second las ("las2") in its own namespace on the underlay, with its own
# DPDK file prefix, control socket and metrics port. Site A is on las1, B
# on las2, C dual-homed: --peer las1 --backup-peer las2 (all VC ID 100,
# dynamic). las1 and las2 are mesh peers: every site reaches every other
# whichever las it is on; `las show sessions` shows where C's pseudowire is.
NS_LAS2=lasns2
LAS2_UL=10.200.0.2
LAS2_PID=""
METRICS_PORT2=9418
# las-edge timers in this step: HELLO after 2 s of silence, then 3
# retransmissions 1 s apart: a dead las is noticed at most 2 + 4 = 6 s
# after its last message.
FO_HELLO=2
FO_DEAD_SECS=6
# Setup on the backup (SCCRQ..ICCN acknowledged) and the next ping.
FO_SETUP_SECS=2
FO_REVERT=10

las2_show() { "$LAS" show "$@" --socket "$WORK/las2.sock"; }

fo_build() {
    log "failover: namespace $NS_LAS2 for las2 ($LAS2_UL on the underlay)"
    ip netns add "$NS_LAS2"
    in_ns "$NS_LAS2" ip link set lo up
    in_ns "$NS_LAS2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip link add ul0 mtu $MTU netns "$NS_LAS2" type veth peer name las2 mtu $MTU netns "$NS_UL"
    in_ns "$NS_UL" ip link set las2 master br0 up
    in_ns "$NS_LAS2" ip link set ul0 up
}

# las1 (las-fo.toml) and las2 (las2-fo.toml): the same dynamic config,
# short timers (las's HELLO toward IP and UDP peers after 2 s of silence).
write_las_fo_configs() {
    local body
    body=$(printf '\n[l2tp]\nhello_interval = %s\nhello_interval_udp = %s\n%s\n%s\n%s\n\n[[switch]]\nname = "cust100"\nvc_ids = ["100"]\naging = %s\n' \
        "$FO_HELLO" "$FO_HELLO" "retransmit_max = 1" "retransmit_retries = 3" "auto_switch = true" "$AGING")
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176
        echo "$body"
        printf '\n[mesh]\npeers = ["%s"]\nretry_interval = 1\n' "$LAS2_UL"
    } >"$WORK/las-fo.toml"
    {
        las_config_head "net_af_packet0,iface=ul0" "$MTU" 2176 | sed \
            -e "s|\"--file-prefix\", \"$FILE_PREFIX\"|\"--file-prefix\", \"$FILE_PREFIX2\"|" \
            -e "s|$WORK/las.sock|$WORK/las2.sock|" \
            -e "s|127.0.0.1:$METRICS_PORT|127.0.0.1:$METRICS_PORT2|" \
            -e "s|^address = \"$LAS_UL/24\"|address = \"$LAS2_UL/24\"|"
        echo "$body"
        printf '\n[mesh]\npeers = ["%s"]\nretry_interval = 1\n' "$LAS_UL"
    } >"$WORK/las2-fo.toml"
}

start_las2() {
    log "starting las2 in $NS_LAS2 (cores $LAB_CORES, las2-fo.toml)"
    rm -rf "/run/dpdk/$FILE_PREFIX2"
    ip netns exec "$NS_LAS2" "$LAS" --config "$WORK/las2-fo.toml" --cores "$LAB_CORES" >>"$WORK/las2.log" 2>&1 &
    LAS2_PID=$!
    if ! wait_for 60 las2_show ports >/dev/null 2>&1; then
        echo "las2 did not come up:"
        tail -n 40 "$WORK/las2.log"
        return 1
    fi
}

stop_las2() {
    [ -n "$LAS2_PID" ] || return 0
    kill -INT "$LAS2_PID" 2>/dev/null
    local i
    for i in $(seq 1 40); do
        kill -0 "$LAS2_PID" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$LAS2_PID" 2>/dev/null
    wait "$LAS2_PID" 2>/dev/null
    LAS2_PID=""
}

start_fo_edge() { # site: A on las1, B on las2, C on both; logs fo-edge-<site>.log
    local s=$1 ns
    ns=$(ns_site "$s")
    local timers=(--hello-interval "$FO_HELLO" --retransmit-retries 3 --retransmit-max 1)
    case $s in
    A) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[A]}" --peer "$LAS_UL" \
        --encap ip --vc-id 100 "${timers[@]}" >>"$WORK/fo-edge-A.log" 2>&1 & ;;
    B) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[B]}" --peer "$LAS2_UL" \
        --encap udp --vc-id 100 "${timers[@]}" >>"$WORK/fo-edge-B.log" 2>&1 & ;;
    C) ip netns exec "$ns" "$EDGE" --tap pw0 --tap-mtu $TAP_MTU --local "${UL[C]}" --peer "$LAS_UL" \
        --backup-peer "$LAS2_UL" --encap ip --vc-id 100 "${timers[@]}" --revert-delay "$FO_REVERT" \
        >>"$WORK/fo-edge-C.log" 2>&1 & ;;
    esac
    EDGE_PID[$s]=$!
}

stop_fo_edge() { # site: SIGTERM, wait, print its counters
    local s=$1 pid=${EDGE_PID[$1]:-}
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    EDGE_PID[$s]=""
    echo "-- las-edge site $s (failover step) counters"
    grep -v ' INFO \| WARN ' "$WORK/fo-edge-$s.log" | tail -n 14 | sed 's/^/   /'
}

on_las1() { dyn_sessions | awk -v p="$1" '$1 == p { f = 1 } END { exit !f }'; }
on_las2() {
    las2_show sessions --json 2>/dev/null | python3 -c '
import json, sys
sys.exit(0 if any(s["peer"] == sys.argv[1] for s in json.load(sys.stdin).get("sessions", [])) else 1)
' "$1"
}
not_on_las2() { ! on_las2 "$1"; }
now_s() { date +%s.%N; }
# las N (1 or 2) has its mesh peer established with cust100 joined.
mesh_up() {
    local sock=$WORK/las.sock
    [ "$1" = 2 ] && sock=$WORK/las2.sock
    "$LAS" show mesh --json --socket "$sock" 2>/dev/null | python3 -c '
import json, sys
m = json.load(sys.stdin).get("mesh", [])
sys.exit(0 if len(m) == 1 and m[0]["state"] == "established" and "cust100" in m[0]["switches"] else 1)
'
}
# Counts, for <secs>, the UDP broadcasts carrying <marker> that arrive
# on a site's pw0 (frames it sends itself are not counted).
# Creates <ready> once it listens: under load (CI, debug builds) starting
# python in a namespace can take longer than a fixed sleep, and a sender
# that starts first loses the first frames to a receiver not yet bound.
bcast_count() { # site secs marker ready
    in_ns "$(ns_site "$1")" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("pw0", 0))
s.settimeout(0.2)
open(sys.argv[3], "w").close()
end, n = time.time() + float(sys.argv[1]), 0
while time.time() < end:
    try:
        f, a = s.recvfrom(4096)
    except socket.timeout:
        continue
    if a[2] != socket.PACKET_OUTGOING and sys.argv[2].encode() in f:
        n += 1
print(n)
' "$2" "$3" "$4"
}
# Sends <n> UDP broadcasts carrying <marker> out of a site's pw0.
bcast_send() { # site n marker
    in_ns "$(ns_site "$1")" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"pw0")
for i in range(int(sys.argv[1])):
    s.sendto(("%s %d" % (sys.argv[2], i)).encode(), ("255.255.255.255", 9999))
    time.sleep(0.02)
' "$2" "$3"
}
edge_fo_logged() { grep -q "$2" "$WORK/fo-edge-$1.log" 2>/dev/null; }

run_failover() {
    local r s t0 t_kill t_up t_back first outage bound waited ping_pid
    fo_build
    write_las_fo_configs
    if ! start_las las-fo; then
        check fo-las-start FAIL "las1"
        return
    fi
    if ! start_las2; then
        check fo-las-start FAIL "las2"
        return
    fi
    check fo-las-start ok "las1 $LAS_UL, las2 $LAS2_UL"
    for s in A B C; do start_fo_edge "$s"; done
    if wait_for 30 on_las1 "${UL[A]}" && wait_for 30 on_las2 "${UL[B]}"; then
        check fo-sites-up ok "A on las1, B on las2"
    else
        check fo-sites-up FAIL "las1: $(dyn_sessions | tr '\n' ';') las2: $(las2_show sessions | tr '\n' ';')"
    fi
    if wait_for 30 on_las1 "${UL[C]}" && ! on_las2 "${UL[C]}"; then
        check fo-c-on-las1 ok "C's session on its primary"
    else
        check fo-c-on-las1 FAIL "las1: $(dyn_sessions | tr '\n' ';')"
    fi
    for s in A B C; do in_ns "$(ns_site "$s")" ip neigh flush dev pw0 2>/dev/null; done
    in_ns lassiteC ping -n -c 2 -i 0.3 -W 1 "${HOST[A]}" >/dev/null 2>&1
    if r=$(ping_ok C "${HOST[A]}" 5); then check fo-ping-c-a ok "$r via las1"; else check fo-ping-c-a FAIL "$r"; fi

    # The mesh: las1 opens it (the lower address), cust100 joined.
    if wait_for 30 mesh_up 1 && wait_for 10 mesh_up 2; then
        check red-mesh-up ok "$(las_show mesh | tail -n 1 | tr -s ' ')"
    else
        check red-mesh-up FAIL "las1: $(las_show mesh | tr '\n' ';') las2: $(las2_show mesh | tr '\n' ';')"
    fi
    in_ns lassiteA ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    if r=$(ping_ok A "${HOST[B]}" 5); then check red-ping-a-b ok "$r across the mesh"; else check red-ping-a-b FAIL "$r"; fi
    in_ns lassiteC ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
    if r=$(ping_ok C "${HOST[B]}" 5); then check red-ping-c-b ok "$r (C on las1, B on las2)"; else check red-ping-c-b FAIL "$r"; fi
    # 50 broadcasts from A: once at B (las1 -> mesh -> las2), once at C
    # (las1), never back at A: no loop, no duplicate.
    local marker="las-mesh-bcast-$$" ca cb cc pa pb pc
    rm -f "$WORK"/bc-*-ready
    bcast_count A 4 "$marker" "$WORK/bc-A-ready" >"$WORK/bc-A" & pa=$!
    bcast_count B 4 "$marker" "$WORK/bc-B-ready" >"$WORK/bc-B" & pb=$!
    bcast_count C 4 "$marker" "$WORK/bc-C-ready" >"$WORK/bc-C" & pc=$!
    # All three listening (or 10 s gone: the check then says what arrived).
    wait_for 10 test -e "$WORK/bc-A-ready" -a -e "$WORK/bc-B-ready" -a -e "$WORK/bc-C-ready" || true
    bcast_send A 50 "$marker"
    wait "$pa" "$pb" "$pc"
    ca=$(cat "$WORK/bc-A"); cb=$(cat "$WORK/bc-B"); cc=$(cat "$WORK/bc-C")
    if [ "$cb" = 50 ] && [ "$cc" = 50 ] && [ "$ca" = 0 ]; then
        check red-broadcast-once ok "50 sent by A: B got $cb, C got $cc, A got $ca back"
    else
        check red-broadcast-once FAIL "50 sent by A: B got $cb, C got $cc, A got $ca back (want 50, 50, 0)"
    fi

    # las1 dies (SIGKILL: no StopCCN). C pings B every 0.1 s across the
    # failover: the first reply comes once C's pseudowire is up on las2.
    # Fixed neighbour entries: the outage measured is the pseudowire's,
    # not ARP's.
    in_ns lassiteC ip neigh replace "${HOST[B]}" lladdr "${MAC[B]}" dev pw0 nud permanent
    in_ns lassiteB ip neigh replace "${HOST[C]}" lladdr "${MAC[C]}" dev pw0 nud permanent
    in_ns lassiteC ping -n -D -i 0.1 -W 1 -w 40 "${HOST[B]}" >"$WORK/fo-ping.txt" 2>&1 &
    ping_pid=$!
    sleep 1
    kill -KILL "$LAS_PID" 2>/dev/null
    t_kill=$(now_s)
    wait "$LAS_PID" 2>/dev/null
    LAS_PID=""
    log "las1 killed (SIGKILL); C should come up on las2"
    if wait_for 30 on_las2 "${UL[C]}"; then
        check fo-c-on-las2 ok "C's session on its backup $(echo "$(now_s) - $t_kill" | bc | cut -c1-5) s after the kill"
    else
        check fo-c-on-las2 FAIL "las2: $(las2_show sessions | tr '\n' ';')"
    fi
    sleep 2
    kill -INT "$ping_pid" 2>/dev/null
    wait "$ping_pid" 2>/dev/null
    # C reaches B across the mesh before the kill too: the outage is the
    # longest silence between two replies, which must end after the kill
    # (or, if no reply came before the kill, the time to the first).
    first=$(sed -n 's/^\[\([0-9.]*\)\] [0-9]* bytes from.*/\1/p' "$WORK/fo-ping.txt" |
        awk -v k="$t_kill" 'NR == 1 { f = $1 } NR > 1 && $1 - p > gap { gap = $1 - p; at = $1 } { p = $1 }
            END { if (f > k) printf "%.3f %.3f\n", f - k, f - k; else if (at > k) printf "%.3f %.3f\n", gap, at - k }')
    bound=$((FO_DEAD_SECS + FO_SETUP_SECS))
    if [ -n "$first" ]; then
        outage=${first%% *}
        echo "RESULT fo-outage-secs $outage"
        if [ "$(echo "$outage <= $bound" | bc)" = 1 ]; then
            check fo-outage ok "C -> B: no reply for ${outage}s around las1's death, replies again ${first##* }s after it (bound ${bound}s: HELLO $FO_HELLO s + 4 x 1 s retransmissions + setup)"
        else
            check fo-outage FAIL "${outage}s > ${bound}s"
        fi
    else
        check fo-outage FAIL "no reply from B: $(tail -n 3 "$WORK/fo-ping.txt" | tr '\n' ';')"
    fi
    if r=$(ping_ok C "${HOST[B]}" 10); then check fo-ping-c-b ok "$r via las2"; else check fo-ping-c-b FAIL "$r"; fi
    if edge_fo_logged C "failing over to the backup"; then
        check fo-edge-logged ok "$(grep -m1 'failing over' "$WORK/fo-edge-C.log" | sed 's/.*las-edge: //')"
    else
        check fo-edge-logged FAIL
    fi

    # las1 is back. C probes it and moves back once it has answered for
    # FO_REVERT s (make before break), not sooner.
    if ! start_las las-fo; then
        check fo-las1-restart FAIL
        return
    fi
    t_up=$(now_s)
    check fo-las1-restart ok
    t_back=""
    t0=$(date +%s)
    while [ $(($(date +%s) - t0)) -lt $((FO_REVERT + 60)) ]; do
        if on_las1 "${UL[C]}"; then
            t_back=$(now_s)
            break
        fi
        sleep 0.2
    done
    if [ -n "$t_back" ]; then
        waited=$(echo "$t_back - $t_up" | bc)
        echo "RESULT fo-revert-secs $waited"
        if [ "$(echo "$waited >= $FO_REVERT" | bc)" = 1 ]; then
            check fo-revert-after-delay ok "C back on las1 ${waited}s after las1 came back (revert delay $FO_REVERT s)"
        else
            check fo-revert-after-delay FAIL "back after ${waited}s, before the $FO_REVERT s delay"
        fi
    else
        check fo-revert-after-delay FAIL "C not back on las1 within $((FO_REVERT + 60)) s"
    fi
    if wait_for 10 not_on_las2 "${UL[C]}"; then
        check fo-backup-released ok "C's session on las2 closed"
    else
        check fo-backup-released FAIL "las2: $(las2_show sessions | tr '\n' ';')"
    fi
    # The mesh comes back with las1 (it reopens it), and A with it.
    if wait_for 30 mesh_up 1 && wait_for 40 on_las1 "${UL[A]}"; then
        in_ns lassiteA ping -n -c 2 -i 0.3 -W 1 "${HOST[B]}" >/dev/null 2>&1
        if r=$(ping_ok A "${HOST[B]}" 5); then check red-ping-a-b-after-restart ok "$r across the mesh"; else
            check red-ping-a-b-after-restart FAIL "$r"
        fi
    else
        check red-ping-a-b-after-restart FAIL "mesh: $(las_show mesh | tr '\n' ';') sessions: $(dyn_sessions | tr '\n' ';')"
    fi
    echo "---- las1 show mesh"
    las_show mesh
    # A reconnects to the new las1 by itself (it backed off while las1 was gone).
    if wait_for 40 on_las1 "${UL[A]}"; then
        in_ns lassiteC ping -n -c 2 -i 0.3 -W 1 "${HOST[A]}" >/dev/null 2>&1
        if r=$(ping_ok C "${HOST[A]}" 5); then check fo-ping-c-a-after-revert ok "$r via las1"; else
            check fo-ping-c-a-after-revert FAIL "$r"
        fi
    else
        check fo-ping-c-a-after-revert FAIL "A not back on las1"
    fi
    echo "---- las1 show sessions"
    las_show sessions
    echo "---- las2 show sessions"
    las2_show sessions
    for s in A B C; do stop_fo_edge "$s"; done
    if grep -q "peer: primary, failovers: 1, reverts: 1" "$WORK/fo-edge-C.log"; then
        check fo-edge-counters ok
    else
        check fo-edge-counters FAIL "$(grep 'peer:' "$WORK/fo-edge-C.log")"
    fi
    stop_las2
}

main_run() { # static|dynamic|mtu|nat|failover|ipv6|all
    local what=$1
    if [ "$(id -u)" != 0 ]; then
        echo "lab.sh: needs root (network namespaces)" >&2
        exit 2
    fi
    for t in ip ping python3 bc nft conntrack; do
        command -v "$t" >/dev/null || { echo "lab.sh: $t not found" >&2; exit 2; }
    done
    LAS=$(find_bin las LAS_BIN) || { echo "lab.sh: cannot build las" >&2; exit 2; }
    EDGE=$(find_bin las-edge LAS_EDGE_BIN) || { echo "lab.sh: cannot build las-edge" >&2; exit 2; }
    log "las: $LAS"
    log "las-edge: $EDGE"

    clean
    WORK=$(mktemp -d /tmp/las-lab.XXXXXX)
    trap on_exit EXIT
    trap 'echo "interrupted"; FAILED=$((FAILED + 1)); exit 130' INT TERM

    build
    prom_start || echo "prometheus did not start: $(tail -n 3 "$WORK/prometheus.log" 2>/dev/null | tr '\n' ' ')"
    if [ "$what" = static ] || [ "$what" = all ]; then
        write_las_config
        capture_start static 20000
        if ! start_las; then
            check las-start FAIL
        else
            check las-start ok
            local s
            for s in "${SITES[@]}"; do start_edge "$s"; done
            local up=1
            for s in "${SITES[@]}"; do wait_for 10 tap_up "$s" || up=0; done
            if [ $up = 1 ]; then check edges-start ok; else
                check edges-start FAIL
                for s in "${SITES[@]}"; do tail -n 5 "$WORK/edge-$s.log"; done
            fi
            run_checks
            report
        fi
        stop_las
        capture_stop
        # What las sends: to A the default sublayer, to B (udp) an 8-byte
        # cookie, to C neither.
        tshark_check tshark-static static cookie0 none \
            cookie0 default "ip.dst == ${UL[A]} && l2tp.sid == ${RSID[A]}" \
            cookie8 none "ip.dst == ${UL[B]} && l2tp.sid == ${RSID[B]}"
    fi
    if [ "$what" = dynamic ] || [ "$what" = all ]; then
        capture_start dynamic 20000
        run_dynamic
        stop_las
        capture_stop
        # Cookies and sublayers are negotiated: tshark learns them from
        # the control messages in the capture.
        tshark_check tshark-dynamic dynamic detect detect
    fi
    if [ "$what" = ipv6 ] || [ "$what" = all ]; then
        run_ipv6
        stop_las
        capture_stop
        # To A the default sublayer, to B (udp) an 8-byte cookie, to C
        # neither; UDP checksums over IPv6 are checked.
        tshark_check tshark-ipv6 ipv6 cookie0 none \
            cookie0 default "ipv6.dst == ${UL6[A]} && l2tp.sid == ${RSID[A]}" \
            cookie8 none "ipv6.dst == ${UL6[B]} && l2tp.sid == ${RSID[B]}"
        capture_start ipv6-dynamic 20000
        run_ipv6_dynamic
        stop_las
        capture_stop
        # Negotiated cookies and sublayers: tshark learns them from the
        # control messages over IPv6 in the capture.
        tshark_check tshark-ipv6-dynamic ipv6-dynamic detect detect
        ipv4_underlay_again
    fi
    if [ "$what" = mtu ] || [ "$what" = all ]; then
        run_mtu
        stop_las
    fi
    if [ "$what" = nat ] || [ "$what" = all ]; then
        run_nat
        stop_las
    fi
    if [ "$what" = failover ] || [ "$what" = all ]; then
        run_failover
        stop_las
        stop_las2
    fi
    prom_report
    prom_stop
    echo "SUMMARY passed=$PASSED failed=$FAILED"
    [ "$FAILED" -eq 0 ]
}

case "${1:-}" in
run) main_run all ;;
run-static) main_run static ;;
run-dynamic) main_run dynamic ;;
run-mtu) main_run mtu ;;
run-nat) main_run nat ;;
run-failover | run-redundancy) main_run failover ;;
run-ipv6) main_run ipv6 ;;
clean)
    clean
    echo "cleaned"
    ;;
*)
    echo "usage: $0 run|run-static|run-dynamic|run-mtu|run-nat|run-redundancy|run-failover|clean" >&2
    exit 2
    ;;
esac
