#!/usr/bin/python3
"""A recording key provider for Go ocicrypt's key-provider protocol (stdlib
only; the gRPC mode needs python3-grpcio).

Usage:
  keyprovider_capture.py cmd RECORD_DIR [--reply-encoding E] [--delay S]
      one request on stdin, one reply on stdout (ocicrypt's `cmd` provider)
  keyprovider_capture.py grpc RECORD_DIR --port-file FILE [--port N] [--reply-encoding E]
                         [--delay S]
      service keyprovider.KeyProviderService (WrapKey, UnWrapKey) on
      127.0.0.1:N (N=0: any free port, written to FILE once serving) until
      SIGTERM or SIGINT

The wrap is a toy, reversible by anyone, and protects nothing: it exists to
record what a client sends and to give it something it can unwrap again.
  keywrap:   annotation = MARKER + base64(optsdata)
  keyunwrap: optsdata = base64-decode(annotation minus MARKER); an
             annotation without MARKER is refused (exit status 1, or gRPC
             INVALID_ARGUMENT)
Reply encodings of the bytes fields (--reply-encoding): base64 (padded, as
Go writes []byte; the default), array (JSON array of byte values, as Rust
providers write Vec<u8>), unpadded (base64 without '=', which Go rejects),
null. --delay S: wait S seconds (after recording) before replying, as a
provider that hangs; a cmd provider marks its PID in RECORD_DIR/sleeping/
meanwhile.

Every exchange is recorded in RECORD_DIR as NNN-TRANSPORT-OP.request.json
(the exact JSON bytes received) and NNN-TRANSPORT-OP.reply.json (the exact
bytes sent back); gRPC also keeps the protobuf messages as .request.pb and
.reply.pb. NNN counts up from 001 in the order the requests arrived; a
file RECORD_DIR/.lock serialises concurrent providers.
"""

import argparse
import base64
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ocitest import varint  # noqa: E402

MARKER = b"layercrypt-capture-wrap:"
SERVICE = "keyprovider.KeyProviderService"
DELAY = 0


class Refused(Exception):
    pass


def encode_bytes(data, encoding):
    if encoding == "null":
        return None
    if encoding == "array":
        return list(data)
    text = base64.b64encode(data).decode()
    return text.rstrip("=") if encoding == "unpadded" else text


def decode_bytes(value, what):
    """A Go []byte from JSON: a padded base64 string (what Go writes) or an
    array of byte values."""
    if isinstance(value, list):
        return bytes(value)
    if not isinstance(value, str):
        raise Refused(f"{what} is {value!r}, not base64 text or a byte array")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as e:
        raise Refused(f"{what} is not base64: {e}")


def reply(request, encoding):
    """The reply (JSON bytes) to one request (JSON bytes)."""
    try:
        msg = json.loads(request)
    except ValueError as e:
        raise Refused(f"the request is not JSON: {e}")
    op = msg.get("op")
    if op == "keywrap":
        params = msg.get("keywrapparams") or {}
        opts = decode_bytes(params.get("optsdata"), "keywrapparams.optsdata")
        annotation = MARKER + base64.b64encode(opts)
        out = {"keywrapresults": {"annotation": encode_bytes(annotation, encoding)}}
    elif op == "keyunwrap":
        params = msg.get("keyunwrapparams") or {}
        annotation = decode_bytes(params.get("annotation"), "keyunwrapparams.annotation")
        if not annotation.startswith(MARKER):
            raise Refused("the annotation was not made by this provider")
        opts = decode_bytes(annotation[len(MARKER):].decode(), "the wrapped optsdata")
        out = {"keyunwrapresults": {"optsdata": encode_bytes(opts, encoding)}}
    else:
        raise Refused(f"unknown op {op!r}")
    return json.dumps(out, separators=(",", ":")).encode()


class Recorder:
    def __init__(self, directory):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        self.lock = threading.Lock()

    def record(self, transport, op, files):
        """Writes files {suffix: bytes} under the next free number."""
        import fcntl
        os.makedirs(self.dir, exist_ok=True)
        with self.lock, open(os.path.join(self.dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent cmd providers
            taken = {n[:3] for n in os.listdir(self.dir) if n[:3].isdigit()}
            n = 1
            while f"{n:03d}" in taken:
                n += 1
            stem = os.path.join(self.dir, f"{n:03d}-{transport}-{op}")
            for suffix, data in files.items():
                with open(stem + suffix, "wb") as f:
                    f.write(data)


def op_of(request):
    try:
        return str(json.loads(request).get("op", "unknown"))
    except (ValueError, AttributeError):
        return "unparsable"


def run_cmd(recorder, encoding):
    request = sys.stdin.buffer.read()
    try:
        out, err = reply(request, encoding), None
    except Refused as e:
        out, err = b"", str(e)
    files = {".request.json": request, ".reply.json": out}
    recorder.record("cmd", op_of(request), files)
    if DELAY:
        sleeping = os.path.join(recorder.dir, "sleeping")
        os.makedirs(sleeping, exist_ok=True)
        mark = os.path.join(sleeping, str(os.getpid()))
        open(mark, "w").close()
        time.sleep(DELAY)
        os.remove(mark)
    if err is not None:
        print(f"keyprovider_capture: {err}", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(out)
    return 0


def pb_field1(message):
    """The bytes of field 1 of keyProviderKeyWrapProtocolInput (the only
    field; others are skipped as protobuf readers do)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
    from containerd_client import parse  # needs grpc, as the gRPC mode does
    try:
        fields = parse(message)
    except (ValueError, IndexError) as e:
        raise Refused(f"the request is not a protobuf message: {e}")
    return ([v for f, wt, v in fields if f == 1 and wt == 2] or [b""])[-1]


def run_grpc(recorder, encoding, port, port_file):
    from concurrent import futures

    import grpc

    def handler(method):
        def handle(message, context):
            request = b""
            try:
                request = pb_field1(message)
                out, err = reply(request, encoding), None
            except Refused as e:
                out, err = b"", str(e)
            response = b"\x0a" + varint(len(out)) + out if out else b""
            recorder.record("grpc", op_of(request), {
                ".request.json": request, ".reply.json": out,
                ".request.pb": message, ".reply.pb": response})
            time.sleep(DELAY)
            if err is not None:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{method}: {err}")
            return response
        return grpc.unary_unary_rpc_method_handler(handle)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        SERVICE, {"WrapKey": handler("WrapKey"), "UnWrapKey": handler("UnWrapKey")})])
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    if not bound:
        print(f"keyprovider_capture: cannot listen on 127.0.0.1:{port}", file=sys.stderr)
        return 1
    server.start()
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"{bound}\n")
    os.rename(tmp, port_file)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=1).wait()
    os._exit(0)  # not waiting for handlers still in their --delay


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("cmd", "grpc"))
    ap.add_argument("record_dir")
    ap.add_argument("--reply-encoding", default="base64",
                    choices=("base64", "array", "unpadded", "null"))
    ap.add_argument("--delay", type=float, default=0)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    args = ap.parse_args()
    global DELAY
    DELAY = args.delay
    recorder = Recorder(args.record_dir)
    if args.mode == "cmd":
        return run_cmd(recorder, args.reply_encoding)
    if not args.port_file:
        ap.error("grpc needs --port-file")
    return run_grpc(recorder, args.reply_encoding, args.port, args.port_file)


if __name__ == "__main__":
    sys.exit(main())
