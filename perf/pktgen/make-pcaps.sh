#!/usr/bin/env bash
# Writes the pcaps pktgen-dpdk replays toward las, and the matching las
# configurations, with las-trafgen (perf/pktgen/README.md). The pcaps are
# generated, not committed: the scale set alone is ~1 GB.
#
#   perf/pktgen/make-pcaps.sh [OUTDIR]       (default perf/pktgen/out)
#
# Environment knobs (defaults in brackets):
#   SETS      which sets: "ndr" (ip and udp x 64/128/512/1518/imix, 8
#             sessions, 1000 MACs, no broadcast), "scale" (ip, 64 B, MACs
#             1k/64k/1M x sessions 8/4k/64k), "bcast" (ip, 64 B, 8 sessions,
#             1000 MACs, BCAST % broadcast), "v6" (the ndr set's
#             64/1518/imix profiles over an IPv6 underlay: ip6-*, udp6-*,
#             las-trafgen --underlay ipv6)            ["ndr scale bcast v6"]
#   PACKETS   packets per pcap of the ndr and bcast sets [4096]; the scale
#             set writes max(MACs, 65536) packets, so every MAC is a source
#   BCAST     broadcast share of the bcast set, percent [10]
#   PORT0     PCI address of las's port toward pktgen's port 0 [0000:03:00.0]
#   PORT1     las's second port (two-port configs)    [0000:03:00.1]
#   CHECK     1 = decode every pcap with tshark: 0 malformed frames, 0
#             expert errors, every frame's inner Ethernet decoded; validate
#             every config with `las check` (when a las binary is built);
#             parse ndr.lua with luac (Debian lua5.4)  [1]
#   TRAFGEN   a las-trafgen binary to use instead of building one [""]
#   CARGO_TARGET_DIR  where cargo builds              [<repo>/target]
#
# Per profile NAME it writes NAME.pcap, NAME-1port.toml (one las port, the
# traffic returns on it: loop pktgen port 0 <-> las port 0) and
# NAME-2port.toml (traffic in on las's port 0, out on port 1 toward
# pktgen's port 1: every session's peer is reached through port 1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PERF_NAME=make-pcaps
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OUT=${1:-$ROOT/perf/pktgen/out}
SETS=${SETS:-"ndr scale bcast v6"}
PACKETS=${PACKETS:-4096}
BCAST=${BCAST:-10}
PORT0=${PORT0:-0000:03:00.0}
PORT1=${PORT1:-0000:03:00.1}
CHECK=${CHECK:-1}


LAS=${LAS:-$TARGET/release/las}
if [[ $CHECK == 1 ]]; then
    command -v tshark >/dev/null || die "tshark is needed for the check (apt-get install -y tshark), or CHECK=0"
    LUAC=$(command -v luac5.4 || command -v luac5.3 || command -v luac || true)
    [[ -n $LUAC ]] || die "luac is needed for the check (apt-get install -y lua5.4), or CHECK=0"
    "$LUAC" -p "$ROOT/perf/pktgen/ndr.lua" || die "perf/pktgen/ndr.lua does not parse"
    say "luac: perf/pktgen/ndr.lua parses"
    [[ -x $LAS ]] || { say "no las binary at $LAS: configs not validated (cargo build --release --bin las)"; LAS=""; }
fi
if [[ -z ${TRAFGEN:-} ]]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las-trafgen) >&2 \
        || die "cargo build failed"
    TRAFGEN=$TARGET/release/las-trafgen
fi
[[ -x $TRAFGEN ]] || die "no las-trafgen at $TRAFGEN"
mkdir -p "$OUT"

# The two-port variant of a one-port config: a second port (TEST-NET-2,
# router .254 as its static neighbour; with an IPv6 underlay also
# 2001:db8:1::1/64, router ::fe) and every session reached through it.
two_port() {
    local in=$1 out=$2 v6=0
    grep -q '^address6 = ' "$in" && v6=1
    awk -v dev="$PORT1" -v v6="$v6" '
        /^\[\[session\]\]$/ { print; print "port = \"wan1\""; next }
        { print }
        END {
            print ""
            print "[[port]]"
            print "name = \"wan1\""
            print "device = \"" dev "\""
            print "address = \"198.51.100.1/24\""
            print "gateway = \"198.51.100.254\""
            print "mac = \"02:00:00:00:01:01\""
            if (v6) {
                print "address6 = \"2001:db8:1::1/64\""
                print "gateway6 = \"2001:db8:1::fe\""
            }
            print ""
            print "[[neighbor]]"
            print "port = \"wan1\""
            print "address = \"198.51.100.254\""
            print "mac = \"02:00:00:00:01:fe\""
            if (v6) {
                print ""
                print "[[neighbor]]"
                print "port = \"wan1\""
                print "address = \"2001:db8:1::fe\""
                print "mac = \"02:00:00:00:01:fe\""
            }
        }' "$in" >"$out"
    # The MTU line of wan0 applies to wan1 too (the frames are the same).
    local mtu
    mtu=$(sed -n 's/^mtu = //p' "$in" | head -1)
    [[ -n $mtu ]] && sed -i "/^address = \"198.51.100.1\/24\"$/a mtu = $mtu" "$out"
}

# tshark's verdict on one pcap: 0 malformed or expert errors, every frame
# carrying a decoded inner Ethernet frame (over IPv4 or IPv6: the UDP
# checksum is checked in both). The inner UDP datagrams (source
# ports 10000-10999, to the discard port, no payload) are decoded as data:
# by port tshark would take some for EAP or HIP and call them malformed.
# $2 is "ipv6" for an IPv6 underlay: every frame must carry IPv6 (the
# inner frames are IPv4), and none otherwise.
check() {
    local f=$1 under=${2:-ipv4} n bad inner outer
    local prefs=(-o l2tp.cookie_size:cookie0 -o l2tp.l2_specific:none
        -d l2tp.pw_type==0,eth -d l2tp.pw_type==5,eth -d udp.port==10000-10999,data
        -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE -o eth.padding:any)
    n=$(tshark -r "$f" "${prefs[@]}" -T fields -e frame.number 2>/dev/null | wc -l)
    bad=$(tshark -r "$f" "${prefs[@]}" -Y '_ws.malformed || _ws.expert.severity >= error' \
        -T fields -e frame.number 2>/dev/null | wc -l)
    inner=$(tshark -r "$f" "${prefs[@]}" -Y 'count(eth) == 2 && l2tp' -T fields -e frame.number 2>/dev/null | wc -l)
    outer=$(tshark -r "$f" "${prefs[@]}" -Y ipv6 -T fields -e frame.number 2>/dev/null | wc -l)
    [[ $under == ipv6 ]] || outer=$(( n - outer ))
    (( n > 0 )) || die "$f: tshark read no frames"
    (( outer == n )) || die "$f: only $outer of $n frames have an $under underlay"
    (( bad == 0 )) || die "$f: tshark: $bad of $n frames malformed or with expert errors"
    (( inner == n )) || die "$f: tshark decoded the inner frame of only $inner of $n frames"
    say "  tshark: $n frames over $under, 0 malformed, $inner with the inner Ethernet frame decoded"
}

# One profile: $1 name, then las-trafgen options.
profile() {
    local name=$1
    shift
    local pcap=$OUT/$name.pcap
    say "$name"
    "$TRAFGEN" --out "$pcap" --device "$PORT0" --socket /run/las/las.sock \
        --config-out "$OUT/$name-1port.toml" "$@" 2>"$OUT/$name.log" \
        || { cat "$OUT/$name.log" >&2; die "$name: las-trafgen refused (log above)"; }
    two_port "$OUT/$name-1port.toml" "$OUT/$name-2port.toml"
    if [[ $CHECK == 1 ]]; then
        local under=ipv4
        [[ " $* " == *" --underlay ipv6 "* ]] && under=ipv6
        check "$pcap" "$under"
        if [[ -n $LAS ]]; then
            local c
            for c in "$OUT/$name-1port.toml" "$OUT/$name-2port.toml"; do
                "$LAS" check --config "$c" >/dev/null || die "las check refused $c"
            done
            say "  las check: both configs ok"
        fi
    fi
}

for set in $SETS; do
    case $set in
        ndr)
            for encap in ip udp; do
                for f in 64 128 512 1518; do
                    profile "$encap-$f" --encap "$encap" --size $((f - 4)) --packets "$PACKETS" \
                        --sessions 8 --macs 1000
                done
                profile "$encap-imix" --encap "$encap" --imix --packets "$PACKETS" --sessions 8 --macs 1000
            done
            ;;
        scale)
            for m in 1000 65536 1048576; do
                for s in 8 4096 65535; do
                    (( m >= s )) || continue
                    p=$(( m > 65536 ? m : 65536 ))
                    profile "ip-64-${m}m-${s}s" --encap ip --size 60 --packets "$p" --sessions "$s" --macs "$m"
                done
            done
            ;;
        bcast)
            profile "ip-64-bcast$BCAST" --encap ip --size 60 --packets "$PACKETS" --sessions 8 --macs 1000 \
                --broadcast-pct "$BCAST"
            ;;
        v6)
            for encap in ip udp; do
                for f in 64 1518; do
                    profile "${encap}6-$f" --encap "$encap" --underlay ipv6 --size $((f - 4)) \
                        --packets "$PACKETS" --sessions 8 --macs 1000
                done
                profile "${encap}6-imix" --encap "$encap" --underlay ipv6 --imix --packets "$PACKETS" \
                    --sessions 8 --macs 1000
            done
            ;;
        *) die "unknown set $set (ndr, scale, bcast, v6)" ;;
    esac
done
say "pcaps and las configs in $OUT"
