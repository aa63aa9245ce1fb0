#!/usr/bin/env python3
"""A minimal "VM" on a macvtap character device, for the internal-macvtap tests.

It opens the device as a hypervisor would and speaks Ethernet on it: answers ARP requests,
IPv6 neighbour solicitations and ICMP/ICMPv6 echo requests for its own addresses, and pings
on command (resolving the peer's MAC by ARP or ND first).

  vm-tap.py DEVICE MAC IPV4 IPV6 [--vnet-hdr clear|strip]

  --vnet-hdr clear   TUNSETIFF(IFF_TAP | IFF_NO_PI): raw frames (default)
  --vnet-hdr strip   keep the macvtap default IFF_VNET_HDR: prefix every written frame with a zero
                     virtio_net_hdr and strip it from every read one

Commands on stdin, one per line; each answer is one JSON line on stdout:
  ping4 DST [SRC]    {"cmd": "ping4", "dst", "src", "ok", "peerMac", "rttMs"}
  ping6 DST [SRC]    {"cmd": "ping6", ...}
  stats              {"cmd": "stats", "arpReplies", "naSent", "echo4Replies", "echo6Replies", "framesIn", "framesOut"}
  quit               (or EOF) prints the stats line and exits
The first line printed is {"event": "ready", "vnetHdr": N} once the device is open.
"""
import fcntl
import ipaddress
import json
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
TUNGETVNETHDRSZ = 0x800454D7
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_ARP, ETH_IP4, ETH_IP6 = 0x0806, 0x0800, 0x86DD
BROADCAST = b"\xff" * 6


def mac_bytes(text):
    return bytes.fromhex(text.replace(":", ""))


def mac_text(raw):
    return ":".join(f"{b:02x}" for b in raw)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


class Vm:
    def __init__(self, device, mac, ip4, ip6, vnet_mode):
        self.mac = mac_bytes(mac)
        self.ip4 = socket.inet_aton(ip4)
        self.ip6 = ipaddress.IPv6Address(ip6).packed
        self.fd = os.open(device, os.O_RDWR | os.O_NONBLOCK)
        self.vnet = 0
        if vnet_mode == "clear":
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", b"", IFF_TAP | IFF_NO_PI))
        else:
            self.vnet = struct.unpack("i", fcntl.ioctl(self.fd, TUNGETVNETHDRSZ, b"\0" * 4))[0]
        self.neigh = {}
        self.replies = {}
        self.stats = {"arpReplies": 0, "naSent": 0, "echo4Replies": 0, "echo6Replies": 0, "framesIn": 0, "framesOut": 0}

    # --- frames ---------------------------------------------------------------------------
    def send(self, dst_mac, ethertype, payload):
        frame = dst_mac + self.mac + struct.pack("!H", ethertype) + payload
        os.write(self.fd, b"\0" * self.vnet + frame)
        self.stats["framesOut"] += 1

    def receive_all(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            frame = data[self.vnet:]
            if len(frame) >= 14:
                self.stats["framesIn"] += 1
                self.handle(frame)

    def pump(self, seconds):
        select.select([self.fd], [], [], seconds)
        self.receive_all()

    # --- protocols ------------------------------------------------------------------------
    def ip4_packet(self, src, dst, proto, body):
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0, src, dst)
        return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + body

    def ip6_packet(self, src, dst, body, hop_limit=64):
        pseudo = src + dst + struct.pack("!I3xB", len(body), 58)
        body = body[:2] + struct.pack("!H", checksum(pseudo + body)) + body[4:]
        return struct.pack("!IHBB", 0x60000000, len(body), 58, hop_limit) + src + dst + body

    def arp(self, op, target_mac, target_ip):
        return struct.pack("!HHBBH", 1, ETH_IP4, 6, 4, op) + self.mac + self.ip4 + target_mac + target_ip

    def handle(self, frame):
        dst, src, ethertype, payload = frame[:6], frame[6:12], struct.unpack("!H", frame[12:14])[0], frame[14:]
        if dst not in (self.mac, BROADCAST) and not dst.startswith(b"\x33\x33"):
            return
        if ethertype == ETH_ARP and len(payload) >= 28:
            op = struct.unpack("!H", payload[6:8])[0]
            sha, spa, tpa = payload[8:14], payload[14:18], payload[24:28]
            self.neigh[spa] = sha
            if op == 1 and tpa == self.ip4:
                self.send(sha, ETH_ARP, self.arp(2, sha, spa))
                self.stats["arpReplies"] += 1
        elif ethertype == ETH_IP4 and len(payload) >= 28 and payload[9] == 1:
            ihl = (payload[0] & 0x0F) * 4
            psrc, pdst, icmp = payload[12:16], payload[16:20], payload[ihl:]
            if icmp[0] == 8 and pdst == self.ip4:
                reply = b"\0\0\0\0" + icmp[4:]
                reply = reply[:2] + struct.pack("!H", checksum(reply)) + reply[4:]
                self.send(src, ETH_IP4, self.ip4_packet(self.ip4, psrc, 1, reply))
                self.stats["echo4Replies"] += 1
            elif icmp[0] == 0:
                self.replies[(4, psrc, pdst, icmp[4:8])] = time.monotonic()
        elif ethertype == ETH_IP6 and len(payload) >= 48 and payload[6] == 58:
            psrc, pdst, icmp = payload[8:24], payload[24:40], payload[40:]
            kind = icmp[0]
            if kind == 135 and icmp[8:24] == self.ip6:
                na = struct.pack("!BBHI", 136, 0, 0, 0x60000000) + self.ip6 + struct.pack("!BB", 2, 1) + self.mac
                self.send(src, ETH_IP6, self.ip6_packet(self.ip6, psrc, na, 255))
                self.stats["naSent"] += 1
            elif kind == 136:
                self.neigh[icmp[8:24]] = src
            elif kind == 128 and pdst == self.ip6:
                reply = struct.pack("!BBH", 129, 0, 0) + icmp[4:]
                self.send(src, ETH_IP6, self.ip6_packet(self.ip6, psrc, reply))
                self.stats["echo6Replies"] += 1
            elif kind == 129:
                self.replies[(6, psrc, pdst, icmp[4:8])] = time.monotonic()

    # --- commands -------------------------------------------------------------------------
    def resolve(self, family, dst, src, timeout=1.0):
        for _ in range(3):
            if dst in self.neigh:
                return self.neigh[dst]
            if family == 4:
                request = struct.pack("!HHBBH", 1, ETH_IP4, 6, 4, 1) + self.mac + src + b"\0" * 6 + dst
                self.send(BROADCAST, ETH_ARP, request)
            else:
                group = b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + dst[13:]
                ns = struct.pack("!BBHI", 135, 0, 0, 0) + dst + struct.pack("!BB", 1, 1) + self.mac
                self.send(b"\x33\x33\xff" + dst[13:], ETH_IP6, self.ip6_packet(src, group, ns, 255))
            deadline = time.monotonic() + timeout
            while dst not in self.neigh and time.monotonic() < deadline:
                self.pump(deadline - time.monotonic())
        return self.neigh.get(dst)

    def ping(self, family, dst_text, src_text=None):
        if family == 4:
            dst = socket.inet_aton(dst_text)
            src = socket.inet_aton(src_text) if src_text else self.ip4
        else:
            dst = ipaddress.IPv6Address(dst_text).packed
            src = ipaddress.IPv6Address(src_text).packed if src_text else self.ip6
        answer = {"cmd": f"ping{family}", "dst": dst_text, "src": src_text or "", "ok": False}
        peer = self.resolve(family, dst, src)
        if peer is None:
            answer["error"] = "no ARP reply" if family == 4 else "no neighbour advertisement"
            return answer
        answer["peerMac"] = mac_text(peer)
        ident = os.getpid() & 0xFFFF
        for seq in range(3):
            tag = struct.pack("!HH", ident, seq)
            body = struct.pack("!BBH", 8 if family == 4 else 128, 0, 0) + tag + b"ovnic-vm-tap" * 4
            if family == 4:
                body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
                self.send(peer, ETH_IP4, self.ip4_packet(src, dst, 1, body))
            else:
                self.send(peer, ETH_IP6, self.ip6_packet(src, dst, body))
            sent = time.monotonic()
            key = (family, dst, src, tag)
            deadline = sent + 1.0
            while key not in self.replies and time.monotonic() < deadline:
                self.pump(deadline - time.monotonic())
            if key in self.replies:
                answer["ok"] = True
                answer["rttMs"] = round((self.replies[key] - sent) * 1000, 3)
                return answer
        answer["error"] = "no echo reply"
        return answer


def main():
    args = sys.argv[1:]
    vnet_mode = "clear"
    if "--vnet-hdr" in args:
        at = args.index("--vnet-hdr")
        vnet_mode = args[at + 1]
        del args[at:at + 2]
    if len(args) != 4 or vnet_mode not in ("clear", "strip"):
        sys.stderr.write(__doc__)
        return 2
    vm = Vm(args[0], args[1], args[2], args[3], vnet_mode)

    def say(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    say({"event": "ready", "vnetHdr": vm.vnet})
    stdin = sys.stdin.fileno()
    buffered = b""
    while True:
        readable, _, _ = select.select([vm.fd, stdin], [], [], 1.0)
        if vm.fd in readable:
            vm.receive_all()
        if stdin not in readable:
            continue
        chunk = os.read(stdin, 4096)
        if not chunk:
            break
        buffered += chunk
        while b"\n" in buffered:
            line, buffered = buffered.split(b"\n", 1)
            words = line.decode().split()
            if not words:
                continue
            if words[0] == "quit":
                say({"cmd": "stats", **vm.stats})
                return 0
            if words[0] in ("ping4", "ping6") and len(words) in (2, 3):
                say(vm.ping(4 if words[0] == "ping4" else 6, words[1], words[2] if len(words) == 3 else None))
            elif words[0] == "stats":
                say({"cmd": "stats", **vm.stats})
            else:
                say({"cmd": words[0], "error": "unknown command"})
    say({"cmd": "stats", **vm.stats})
    return 0


if __name__ == "__main__":
    sys.exit(main())
