#!/usr/bin/env python3
"""The relay ranking of src/rank.rs, reimplemented from its documentation with the standard
library only, as other languages' matchmakers would: checks every line of rank-v1.txt (the
file named as the argument, else the one beside this script) and prints
"N scores and M rankings checked"; exits 1 on any difference.
"""
import hashlib
import math
import os
import struct
import sys

DOMAIN = b"udp-relay rank v1\0"


def score(guid: bytes, relay_id: int, weight: int):
    """h, u and the score of one relay for one GUID (16 bytes, big-endian)."""
    digest = hashlib.sha256(DOMAIN + guid + struct.pack(">I", relay_id)).digest()
    h = struct.unpack(">Q", digest[:8])[0]
    u = (2 * (h >> 12) + 1) / 2.0**53
    return h, u, (0.0 if weight == 0 else -weight / math.log(u))


def rank(guid: bytes, relays):
    """Relay ids, best first: score descending, then relay id ascending."""
    return [r for r, _ in sorted(relays, key=lambda rw: (-score(guid, *rw)[2], rw[0]))]


def bits(x: float) -> str:
    return struct.pack(">d", x).hex()


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "rank-v1.txt")
    scores = rankings = bad = 0
    with open(path) as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            guid = bytes.fromhex(fields[1].replace("-", ""))
            if fields[0] == "score":
                h, u, s = score(guid, int(fields[2]), int(fields[3]))
                scores += 1
                if (f"{h:016x}", bits(u), bits(s)) != tuple(fields[4:7]):
                    bad += 1
                    print("differs:", line.strip())
            elif fields[0] == "rank":
                relays = [tuple(map(int, p.split(":"))) for p in fields[2].split(",")]
                rankings += 1
                if ",".join(map(str, rank(guid, relays))) != fields[3]:
                    bad += 1
                    print("differs:", line.strip())
    print(f"{scores} scores and {rankings} rankings checked, {bad} differ")
    return 1 if bad or not rankings else 0


if __name__ == "__main__":
    sys.exit(main())
