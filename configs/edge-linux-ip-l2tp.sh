#!/bin/sh
# A Linux edge router (kernel L2TPv3, iproute2) for session "siteA" of
# configs/las.example.toml: L2TPv3 over IP (protocol 115) to las at
# 192.0.2.1, from this router's 192.0.2.10. Needs the l2tp_eth/l2tp_ip
# kernel modules (modprobe l2tp_eth l2tp_ip).
#
# Names map as follows (las's "local" is what las receives):
#   las local_session_id  1001  = Linux peer_session_id (what Linux sends)
#   las remote_session_id 2001  = Linux session_id      (what Linux receives)
#   las local_cookie  deadbeef  = Linux cookie          (what Linux sends)
#   las remote_cookie 01020304  = Linux peer_cookie     (what Linux expects)
# Linux defaults to `l2spec_type default` (a 4-byte sublayer); las's
# default is no sublayer, so say `l2spec_type none` (or set
# l2spec = "default" on the las session).
# tunnel_id / peer_tunnel_id are Linux's own: L2TPv3 data packets carry
# only the session id (and cookie), so las has no setting for them.
# `ip l2tp` is static only (no control channel, no HELLO): for a dynamic
# pseudowire with a VC ID from a Linux host, use las-edge --vc-id.
set -e
ip l2tp add tunnel tunnel_id 1 peer_tunnel_id 1 encap ip \
    local 192.0.2.10 remote 192.0.2.1
ip l2tp add session name l2tpeth0 tunnel_id 1 session_id 2001 peer_session_id 1001 \
    cookie deadbeef peer_cookie 01020304 l2spec_type none
# The pseudowire carries up to 1500-byte IP packets only if the underlay
# carries 1500 + 14 (inner Ethernet) + 20 (IP) + 4 (session) + 4 (cookie).
ip link set l2tpeth0 mtu 1458 up
# Bridge it with the site's LAN port:
#   ip link add br0 type bridge; ip link set eth1 master br0
#   ip link set l2tpeth0 master br0; ip link set br0 up
#
# Over UDP instead (session "siteB"):
#   ip l2tp add tunnel tunnel_id 2 peer_tunnel_id 2 encap udp \
#       local 198.51.100.20 remote 192.0.2.1 udp_sport 1701 udp_dport 1701
#   ip l2tp add session name l2tpeth1 tunnel_id 2 session_id 2002 \
#       peer_session_id 1002 l2spec_type none
#
# Failover to a second las (Cisco `backup peer`): Linux has no backup
# peer. `ip l2tp` has no control connection, so the kernel never learns
# that a peer is gone, and nothing moves a session to another peer. The
# options:
#   * las-edge --backup-peer (dynamic mode; configs/edge-failover.toml):
#     HELLO-based detection, failover and revert built in.
#   * A script, static sessions only: a session to each las (las1 with
#     the [[session]] above, las2 with its own ids), only the active one in
#     the bridge, and a loop that checks the active las and swaps:
#       ip l2tp add tunnel tunnel_id 3 peer_tunnel_id 3 encap ip \
#           local 192.0.2.10 remote 192.0.2.2
#       ip l2tp add session name l2tpeth2 tunnel_id 3 session_id 2101 \
#           peer_session_id 1101 l2spec_type none
#       ip link set l2tpeth2 mtu 1458 up
#       while sleep 1; do
#           if ! ping -c 3 -i 0.3 -W 1 -q 192.0.2.1 >/dev/null; then
#               ip link set l2tpeth0 nomaster; ip link set l2tpeth2 master br0
#           fi
#       done
#     las answers ICMP echo on its port address, so this notices a dead
#     las (or underlay), not a session that las lost (a reload that
#     removed it, say); going back to las1 is the reverse swap, by hand or
#     after a delay. A sketch: not run in the las lab.
