#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

The seeds are committed; run this again only to change them
(`python3 fuzz/seeds.py`). Each seed is a small valid input in the
target's input format (see the comment at the top of each target), so
the fuzzer starts from frames and messages that get deep into the
parsers: Ethernet/IPv4/IPv6/TCP/UDP/ICMP/ARP frames, L2TPv3 data
packets, control messages (the real Cisco IOS SCCRQ from
src/wire/l2tp/message.rs's tests among them), whole control-connection
exchanges, configuration files from configs/.
"""
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def csum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(a: str) -> bytes:
    return bytes(int(x) for x in a.split("."))


MAC_A = bytes([0x02, 0, 0, 0, 0, 0x0A])
MAC_B = bytes([0x02, 0, 0, 0, 0, 0x01])
BCAST = b"\xff" * 6
IP_A, IP_B = ip4("192.0.2.10"), ip4("192.0.2.1")


def eth(dst, src, etype, payload, tags=()):
    out = dst + src
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64, flags=0x4000, ident=0x1234, options=b""):
    ihl = 5 + len(options) // 4
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), ident,
                    flags, ttl, proto, 0, src, dst) + options
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ipv6(src, dst, nh, payload, ext=b""):
    return struct.pack("!IHBB16s16s", 0x60000000, len(ext) + len(payload), nh, 64,
                       src, dst) + ext + payload


def tcp(src, dst, sport, dport, flags, options=b"", payload=b"", pseudo=None):
    hl = 20 + len(options)
    h = struct.pack("!HHIIBBHHH", sport, dport, 0x01020304, 0, (hl // 4) << 4, flags,
                    64240, 0, 0) + options + payload
    if pseudo is None:
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(h))
    c = csum(pseudo + h)
    return h[:16] + struct.pack("!H", c) + h[18:]


def udp(src, dst, sport, dport, payload):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(src + dst + struct.pack("!BBH", 0, 17, len(h)) + h) or 0xFFFF
    return h[:6] + struct.pack("!H", c) + h[8:]


def icmp_echo(ident, seq, data, typ=8):
    h = struct.pack("!BBHHH", typ, 0, 0, ident, seq) + data
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]


def arp(op, smac, sip, tmac, tip):
    return struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, smac, sip, tmac, tip)


MSS_1460 = bytes([2, 4, 0x05, 0xB4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7])
SYN = 0x02

# ---- L2TPv3 control messages ----

IETF, CISCO = 0, 9


def avp(attr, value, m=True, vendor=IETF, hidden=False):
    n = 6 + len(value)
    return struct.pack("!HHH", (0x8000 if m else 0) | (0x4000 if hidden else 0) | n,
                       vendor, attr) + value


def u16(v):
    return struct.pack("!H", v)


def u32(v):
    return struct.pack("!I", v)


def msg(mtype, avps=b"", ccid=0, ns=0, nr=0):
    body = (avp(0, u16(mtype)) if mtype is not None else b"") + avps
    return struct.pack("!HHIHH", 0xC803, 12 + len(body), ccid, ns, nr) + body


SCCRQ = msg(1, avp(7, b"pe1") + avp(60, u32(0x0A000001), m=False) + avp(10, u16(8))
            + avp(61, u32(0x1234), m=False) + avp(62, u16(5) + u16(4), m=False))
SCCRQ_NONCE = msg(1, avp(7, b"pe1") + avp(60, u32(0x0A000001), m=False)
                  + avp(61, u32(0x1234), m=False) + avp(62, u16(5), m=False)
                  + avp(73, b"\x5a" * 16))
SCCRQ_CHAL = msg(1, avp(7, b"pe1") + avp(60, u32(0x0A000001), m=False)
                 + avp(61, u32(0x1234), m=False) + avp(62, u16(5), m=False)
                 + avp(11, b"0123456789abcdef"))
SCCRQ_CISCO = msg(1, avp(2, b"\x01\x00") + avp(7, b"ios") + avp(60, u32(0x0A000002), m=False)
                  + avp(61, u32(0x55), m=False) + avp(1, u32(0x55), vendor=CISCO)
                  + avp(62, u16(5) + u16(4), m=False) + avp(2, u16(5) + u16(4), vendor=CISCO)
                  + avp(10, u16(1), vendor=CISCO))
SCCCN = msg(3)
SCCCN_CHAL = msg(3, avp(13, bytes(16)))
ICRQ = msg(10, avp(63, u32(0x77)) + avp(64, u32(0)) + avp(15, u32(1), m=False)
           + avp(68, u16(5)) + avp(66, b"100") + avp(71, u16(3), m=False))
ICRQ_COOKIE = msg(10, avp(63, u32(0x78)) + avp(64, u32(0)) + avp(15, u32(2), m=False)
                  + avp(68, u16(4)) + avp(66, u32(200)) + avp(65, b"\xde\xad\xbe\xef")
                  + avp(69, u16(1)) + avp(70, u16(2)))
ICRQ_CISCO = msg(10, avp(63, u32(0x79), m=False) + avp(3, u32(0x79), vendor=CISCO)
                 + avp(64, u32(0), m=False) + avp(4, u32(0), vendor=CISCO)
                 + avp(68, u16(5), m=False) + avp(7, u16(5), vendor=CISCO)
                 + avp(66, b"300", m=False) + avp(6, b"300", vendor=CISCO)
                 + avp(5, bytes(8), m=False) + avp(9, bytes(8), vendor=CISCO))
ICCN = msg(12, avp(63, u32(0x77)) + avp(64, u32(0)) + avp(71, u16(1), m=False))
HELLO = msg(6)
ACK = msg(20)
ZLB = msg(None)
SLI = msg(16, avp(63, u32(0x77)) + avp(64, u32(0)) + avp(71, u16(0), m=False))
CDN = msg(14, avp(1, u16(3) + u16(0) + b"bye") + avp(63, u32(0x77)) + avp(64, u32(0)))
STOPCCN = msg(4, avp(1, u16(1)) + avp(61, u32(0x1234), m=False))
HIDDEN = msg(6, avp(36, b"0123456789abcdef") + avp(7, bytes(18), hidden=True))
DIGEST = msg(6, avp(59, b"\x00" + bytes(16)))

# The real Cisco IOS SCCRQ over IP (src/wire/l2tp/message.rs tests).
CISCO_IOS_SCCRQ = bytes.fromhex(
    "00000000c80300d90000000000000000"
    "80080000000000018008000000020100800a0000000300000000000e000000053c"
    "1a508b77f271de0008000000061130800e000000076172312e6272753100190000"
    "0008436973636f2053797374656d732c20496e632e80080000000a040000060000"
    "0038000600000039000a0000003c5e8ca002000a0000003da6ef07760018000000"
    "3e000500040006000700010003000a0009000b800a00090001a6ef077680180009"
    "0002000500040006000700010003000a0009000b80080009000a00010006000900"
    "6e00060009006f")


def rec(head, step, data=b""):
    return bytes([head, step]) + u16(len(data)) + data


def write(target, name, data):
    assert target in GENERATED, target
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# The targets whose corpus this script writes (and so rewrites from
# scratch). ipv6_ext and nd keep the seeds committed with them: frames
# made with scapy and checked with tshark (see their targets).
GENERATED = ("config", "edge_codec", "edge_control", "l2tp_data", "l2tp_endpoint",
             "l2tp_message", "mss_clamp", "respond", "show_request", "wire")


def main():
    for t in GENERATED:
        d = os.path.join(CORPUS, t)
        if os.path.isdir(d):
            shutil.rmtree(d)

    syn4 = ipv4(IP_A, IP_B, 6, tcp(IP_A, IP_B, 43210, 22, SYN, MSS_1460))
    a6, b6 = bytes.fromhex("20010db8" + "00" * 11 + "01"), bytes.fromhex("20010db8" + "00" * 11 + "02")
    seg6 = tcp(None, None, 43210, 22, SYN, MSS_1460,
               pseudo=a6 + b6 + u32(20 + len(MSS_1460)) + bytes([0, 0, 0, 6]))
    syn6 = ipv6(a6, b6, 6, seg6)
    syn6_ext = ipv6(a6, b6, 0, seg6, ext=bytes([44, 0, 1, 4, 0, 0, 0, 0])
                    + bytes([6, 0, 0, 0, 0, 0, 0, 1]))
    echo = ipv4(IP_A, IP_B, 1, icmp_echo(0x42, 1, b"abcdefgh"), flags=0)
    dgram = ipv4(IP_A, IP_B, 17, udp(IP_A, IP_B, 1701, 1701, ZLB))
    arp_req = arp(1, MAC_A, IP_A, bytes(6), IP_B)

    # wire: raw packets at every layer.
    for name, data in {
        "eth-arp": eth(BCAST, MAC_A, 0x0806, arp_req),
        "eth-qinq-ipv4": eth(MAC_B, MAC_A, 0x0800, echo, tags=[(0x88A8, 100), (0x8100, 200)]),
        "ipv4-tcp-syn": syn4,
        "ipv4-options": ipv4(IP_A, IP_B, 17, udp(IP_A, IP_B, 53, 53, b"q"), options=b"\x01\x01\x01\x00"),
        "ipv4-udp": dgram,
        "ipv6-tcp-syn": syn6,
        # Outer fragments (src/wire/ip_frag.rs): IPv4 with MF set, IPv6
        # with a Fragment header (RFC 8200 §4.5: next header, reserved,
        # offset | M, identification) right after the fixed header.
        "ipv4-fragment": ipv4(IP_A, IP_B, 115, bytes(16), flags=0x2000),
        "ipv6-fragment": ipv6(a6, b6, 44, bytes(16),
                              ext=struct.pack("!BBHI", 115, 0, (8 << 3) | 1, 0x0A0A0001)),
        "tcp-syn": tcp(IP_A, IP_B, 43210, 22, SYN, MSS_1460),
        "udp": udp(IP_A, IP_B, 1701, 1701, b"\0\3\0\0\0\0\0\1hello"),
        "icmp-echo": icmp_echo(7, 9, b"ping"),
        "arp": arp_req,
    }.items():
        write("wire", name, data)

    # l2tp_data: sel, ours, udp port, extra, then an outer frame; the same
    # bytes also read as template parameters and an inner frame.
    inner = eth(MAC_B, MAC_A, 0x0800, echo)
    l2_ip = u32(0x1E240) + b"\xde\xad\xbe\xef" + b"\x40\x00\x01\x02" + inner
    l2_udp = b"\x00\x03\x00\x00" + u32(0x12345678) + inner
    frame_ip = eth(MAC_B, MAC_A, 0x0800, ipv4(IP_A, IP_B, 115, l2_ip))
    frame_udp = eth(MAC_B, MAC_A, 0x0800, ipv4(IP_A, IP_B, 17, udp(IP_A, IP_B, 1701, 1701, l2_udp)))
    frame_ctl = eth(MAC_B, MAC_A, 0x0800, ipv4(IP_A, IP_B, 115, bytes(4) + HELLO))
    write("l2tp_data", "ip-data", bytes([0x05]) + IP_B + u16(1701) + b"\0" + frame_ip)
    write("l2tp_data", "udp-data", bytes([0x06]) + IP_B + u16(1701) + b"\0" + frame_udp)
    write("l2tp_data", "ip-control", bytes([0x00]) + IP_B + u16(1701) + b"\0" + frame_ctl)
    write("l2tp_data", "template-udp-seq", bytes([0x29]) + IP_A + IP_B + u16(1701) * 2
          + u32(77) + b"\x40\x00" + u16(5) + u32(9) + inner)

    # l2tp_message: control messages, over UDP and over IP.
    for name, data in {
        "cisco-ios-sccrq-over-ip": CISCO_IOS_SCCRQ,
        "sccrq": SCCRQ, "sccrq-cisco": SCCRQ_CISCO, "sccrq-nonce": SCCRQ_NONCE,
        "icrq": ICRQ, "icrq-cookie": ICRQ_COOKIE, "icrq-cisco": ICRQ_CISCO, "iccn": ICCN,
        "cdn": CDN, "stopccn": STOPCCN, "zlb": ZLB, "ack": ACK, "sli": SLI,
        "hidden": HIDDEN, "digest": DIGEST,
    }.items():
        write("l2tp_message", name, data)

    # l2tp_endpoint: config bytes, then [peer|op<<2][step][len][bytes].
    def patched(peer, m, step=1):
        return rec(peer | 2 << 2, step, m)

    dance = (patched(0, SCCRQ) + patched(0, SCCCN) + patched(0, ICRQ) + patched(0, ICCN)
             + patched(0, HELLO, 40) + patched(0, SLI) + patched(0, CDN)
             + patched(0, STOPCCN, 200))
    write("l2tp_endpoint", "session-up-down", b"\x03\x00" + dance)
    write("l2tp_endpoint", "session-cookie-sublayer", b"\x03\x0d" + patched(0, SCCRQ)
          + patched(0, SCCCN) + patched(0, ICRQ_COOKIE) + patched(0, ICCN)
          + rec(0 | 4 << 2, 255) + rec(0 | 4 << 2, 255))
    write("l2tp_endpoint", "digest", b"\x03\x10" + patched(0, SCCRQ_NONCE) + patched(0, SCCCN)
          + patched(0, ICRQ) + patched(0, ICCN) + patched(0, HELLO, 10))
    write("l2tp_endpoint", "challenge", b"\x03\x20" + patched(0, SCCRQ) + patched(0, SCCCN_CHAL)
          + patched(0, ICRQ) + patched(0, ICCN))
    write("l2tp_endpoint", "two-peers-shutdown", b"\x21\x00" + patched(0, SCCRQ_CISCO)
          + patched(1, SCCRQ) + patched(0, SCCCN) + patched(1, SCCCN) + patched(0, ICRQ_CISCO)
          + patched(0, ICCN) + patched(1, ICRQ) + patched(1, ICCN) + rec(1 | 5 << 2, 3)
          + rec(0 | 7 << 2, 3) + patched(2, SCCRQ))
    write("l2tp_endpoint", "raw-cisco-ios", b"\x00\x00" + rec(0, 1, CISCO_IOS_SCCRQ[4:])
          + rec(0, 240))

    # edge_control: config bytes, then [op][step][len][bytes]; deliver both
    # ways until the session is up, then let time pass.
    both = rec(0, 1) + rec(1, 1)
    write("edge_control", "up", b"\x00\x00\x0a" + both * 6 + rec(6, 255) + both * 2)
    write("edge_control", "up-digest-cisco", b"\x07\x0d\x05" + both * 6 + rec(6, 100) + both)
    write("edge_control", "lossy", b"\x18\x01\x01" + rec(0, 1) + rec(3, 1) + rec(6, 12)
          + both * 6 + rec(2, 8) + rec(6, 255) + both * 3)
    write("edge_control", "corrupt", b"\x00\x00\x0a" + rec(0, 1) + rec(5, 1, b"\x20\x01")
          + both * 5 + rec(4, 1, HELLO))

    # edge_codec: sel, ids, cookies, then [kind][len][bytes].
    write("edge_codec", "ip-cookie-sublayer", bytes([0x62]) + u32(0x1001) + u32(0x2002)
          + b"\xaa" * 4 + b"\xbb" * 4 + b"\x01" + u16(len(inner)) + inner + b"\x00"
          + u16(len(l2_ip)) + l2_ip)
    write("edge_codec", "udp", bytes([0x01]) + u32(0x12345678) + u32(0x12345678)
          + b"\x01" + u16(len(inner)) + inner + b"\x00" + u16(len(l2_udp)) + l2_udp
          + b"\x00" + u16(len(frame_ip) - 14) + frame_ip[14:])

    # mss_clamp: sel, max frame / fixed MSS, inner frame.
    write("mss_clamp", "ipv4-auto", b"\x05" + u16(1400) + eth(MAC_B, MAC_A, 0x0800, syn4))
    write("mss_clamp", "ipv4-vlan-fixed", b"\x07" + u16(1200)
          + eth(MAC_B, MAC_A, 0x0800, syn4, tags=[(0x8100, 10)]))
    write("mss_clamp", "ipv6-auto", b"\x05" + u16(1300) + eth(MAC_B, MAC_A, 0x86DD, syn6))
    write("mss_clamp", "ipv6-fragment", b"\x05" + u16(1300) + eth(MAC_B, MAC_A, 0x86DD, syn6_ext))

    # respond: our address, our MAC, the punted frame.
    write("respond", "arp-request", IP_B + MAC_B + eth(BCAST, MAC_A, 0x0806, arp_req))
    write("respond", "icmp-echo", IP_B + MAC_B + eth(MAC_B, MAC_A, 0x0800, echo))

    # show_request: request lines and answers.
    for name, data in {
        "sessions": b"show sessions\n", "macs": b"macs cust100",
        "error": b'{"kind":"error","error":"no such switch"}',
        "counters": b'{"kind":"counters","uptime_secs":5,"tsc_hz":2000000000,"drops":{"malformed":3},'
                    b'"control":{"refused_malformed":1},"workers":[{"id":0,"lcore":3,"rx_packets":9,'
                    b'"busy_cycles":1,"loops":2,"events_lost":0,"commands":1}]}',
        "macs-json": b'{"kind":"macs","macs":[{"switch":"cust100","vlan":null,"mac":"02:00:00:00:00:0a",'
                     b'"member":"pw1","age_secs":3,"is_static":false}]}',
    }.items():
        write("show_request", name, data)

    # config: the example configurations.
    root = os.path.dirname(HERE)
    for f in ["las.example.toml", "pcap-demo.toml", "edge-dynamic.toml", "edge-ip.toml",
              "edge-udp.toml"]:
        with open(os.path.join(root, "configs", f), "rb") as src:
            write("config", f, src.read())


if __name__ == "__main__":
    main()
