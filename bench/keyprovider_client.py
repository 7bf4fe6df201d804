#!/usr/bin/python3
"""A minimal keyprovider.KeyProviderService client that times UnWrapKey
calls, for bench/keyprovider_bench.sh.

Usage: keyprovider_client.py ADDR REQUEST RUNS [--tls CA CERT KEY]

REQUEST is the JSON of one keyunwrap request (what Go ocicrypt and
layercrypt send), sent as protobuf field 1. Prints two lines, in ms:
  warm  MEDIAN P10 P90 FASTEST   RUNS calls on one open channel: the
        server's handling plus loopback and this client's (Python) overhead,
        so an upper bound on the server's own time;
  fresh MEDIAN P10 P90 FASTEST   RUNS calls, each on a new channel: adds the
        TCP connect, HTTP/2 set-up and, with --tls, the mutual TLS handshake
        (what a new process pays on its first call).
Every reply is checked to carry keyunwrapresults.
"""
import argparse
import json
import os
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tools"))
from ocitest import varint  # noqa: E402

METHOD = "/keyprovider.KeyProviderService/UnWrapKey"


def field1(message):
    """The bytes of field 1 of a reply (0x0a, varint length, bytes)."""
    if not message or message[0] != 0x0A:
        raise SystemExit(f"keyprovider_client: unexpected reply {message[:40]!r}")
    n, shift, i = 0, 0, 1
    while True:
        b = message[i]
        n |= (b & 0x7F) << shift
        i += 1
        shift += 7
        if not b & 0x80:
            return message[i:i + n]


def stats(ms):
    ms = sorted(ms)
    pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return f"{pick(0.5):.3f} {pick(0.1):.3f} {pick(0.9):.3f} {ms[0]:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("addr")
    ap.add_argument("request")
    ap.add_argument("runs", type=int)
    ap.add_argument("--tls", nargs=3, metavar=("CA", "CERT", "KEY"))
    args = ap.parse_args()
    with open(args.request, "rb") as f:
        body = f.read()
    message = b"\x0a" + varint(len(body)) + body

    def channel():
        if not args.tls:
            return grpc.insecure_channel(args.addr)
        ca, cert, key = (open(p, "rb").read() for p in args.tls)
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                             certificate_chain=cert)
        return grpc.secure_channel(args.addr, creds)

    def call(ch):
        reply = ch.unary_unary(METHOD)(message, timeout=30)
        if "keyunwrapresults" not in json.loads(field1(reply)):
            raise SystemExit("keyprovider_client: the reply has no keyunwrapresults")

    warm = []
    with channel() as ch:
        call(ch)  # connect once
        for _ in range(args.runs):
            t = time.perf_counter()
            call(ch)
            warm.append((time.perf_counter() - t) * 1000)
    fresh = []
    for _ in range(args.runs):
        t = time.perf_counter()
        with channel() as ch:
            call(ch)
        fresh.append((time.perf_counter() - t) * 1000)
    print("warm", stats(warm))
    print("fresh", stats(fresh))


if __name__ == "__main__":
    main()
