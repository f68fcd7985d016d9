"""streampeer: a fake vmigd peer speaking the stream protocol, for tests.

    from streampeer import Peer, frame

    # a fake destination: the source daemon dials it
    with Peer() as fake:
        url = fake.listen()
        ... StartMigration(dest_url=url, ...) on the real source ...
        f, payload = fake.expect("hello")
        fake.send_raw(b"garbage")

    # a fake source: dials a prepared real destination
    with Peer() as fake:
        fake.dial(prepared.stream_url)
        fake.send(frame(hello=hello_for(dev, regions, prepared.token)))
        f, _ = fake.expect("hello_ack")
        fake.send(frame(pages=...), payload)

The wire format is proto/stream.proto's (and daemon/frame.h's): one nng
PAIR1 message per frame, le32 header_length | Frame | payload. Everything
here is built by hand so a test can break any part of it on purpose.
Timeouts are liveness bounds, never assertions about speed.
"""

import socket
import struct
import sys

sys.dont_write_bytecode = True

from vmig import _nng  # noqa: E402  (vmigtest puts it on the path)

try:
    import stream_pb2 as spb
except ImportError as e:  # pragma: no cover - depends on the build
    raise ImportError(
        "stream_pb2 (generated from proto/stream.proto) was not found: "
        "build the tree (make) and put BUILDDIR/clients/python on "
        "PYTHONPATH") from e

LIVENESS_MS = 60000
RECV_MAX = 64 << 20
PAGE = 4096


def data_dial(url, token, connection=0):
    """A data connection (daemon/datalink.c) to HelloAck.data_url,
    greeted with the token: a plain socket, frames sent with encode()."""
    host, port = url[len("tcp://"):].rsplit(":", 1)
    sock = socket.create_connection((host.strip("[]"), int(port)),
                                    timeout=LIVENESS_MS / 1000)
    sock.sendall(encode(frame(data_hello=spb.DataHello(
        token=bytes(token), connection=connection))))
    return sock


def lz4_literals(data):
    """An LZ4 block (its block format, daemon/compress.c) of literals
    only: it decodes to data, made without liblz4."""
    n = len(data)
    out = bytearray([min(n, 15) << 4])
    if n >= 15:
        rest = n - 15
        while rest >= 255:
            out.append(255)
            rest -= 255
        out.append(rest)
    return bytes(out) + bytes(data)


def _lz4_len(n):
    out = bytearray()
    while n >= 255:
        out.append(255)
        n -= 255
    out.append(n)
    return bytes(out)


def lz4_fills(*fills):
    """An LZ4 block of runs of one byte each, fills = (byte, count), ...
    (count >= 10): per run one literal and a match at offset 1; the
    block ends in 5 literals, as the format wants."""
    out = bytearray()
    for i, (b, n) in enumerate(fills):
        m = n - 1 - (5 if i == len(fills) - 1 else 0)
        out.append(0x10 | min(m - 4, 15))
        out.append(b)
        out += struct.pack("<H", 1)
        if m - 4 >= 15:
            out += _lz4_len(m - 4 - 15)
    out.append(0x50)
    out += bytes([fills[-1][0]]) * 5
    return bytes(out)


class PeerError(AssertionError):
    pass


class PeerTimeout(PeerError):
    pass


def frame(**kind):
    """A Frame with one kind set: frame(hello=spb.Hello(...))."""
    return spb.Frame(**kind)


def encode(f, payload=b""):
    """le32 header length | packed Frame | payload."""
    hdr = f.SerializeToString()
    return struct.pack("<I", len(hdr)) + hdr + bytes(payload)


def decode(msg):
    """(Frame, payload) from one message; PeerError if malformed."""
    if len(msg) < 4:
        raise PeerError(f"message of {len(msg)} bytes has no header length")
    (n,) = struct.unpack_from("<I", msg)
    if 4 + n > len(msg):
        raise PeerError(f"header length {n} is over the message's "
                        f"{len(msg) - 4} bytes")
    f = spb.Frame()
    f.ParseFromString(msg[4:4 + n])
    return f, msg[4 + n:]


def kind(f):
    return f.WhichOneof("kind")


PROTOCOL = 2        # STREAM_PROTOCOL_VERSION (daemon/frame.h)


def device_layout(device, source_device="fake/vf1"):
    """A Hello's description of one device (a vmig.v1.Device)."""
    return spb.DeviceLayout(source_device=source_device,
                            device_type=device.type,
                            interface=device.caps.interface,
                            state_max_bytes=device.caps.state_max_bytes)


def hello_for(device, mem_regions, token, page_size=PAGE, verify=False,
              source_device="fake/vf1", job_id=4242, version=PROTOCOL):
    """A Hello a real source would send for this destination device (a
    vmig.v1.Device from ListDevices) and these regions (dicts with iova
    and length, as given to PrepareIncoming)."""
    regions = [spb.RegionLayout(index=i, iova=r.get("iova", 0),
                                length=r["length"])
               for i, r in enumerate(mem_regions)]
    return spb.Hello(protocol_version=version, token=bytes(token),
                     source_job_id=job_id,
                     devices=[device_layout(device, source_device)],
                     regions=regions, page_size=page_size, verify=verify)


class Peer:
    """One PAIR1 socket: listen (fake destination) or dial (fake source),
    then send and receive frames or raw bytes."""

    def __init__(self, recv_max=RECV_MAX):
        self.sock = _nng.Socket("pair1")
        self.sock.set_size(_nng.OPT_RECVMAXSZ, recv_max)
        self.url = None
        self.received = []      # every (Frame, payload) received

    def listen(self, url="tcp://127.0.0.1:0"):
        self.url = self.sock.listen(url)
        return self.url

    def dial(self, url):
        # quick redials: the destination may close and reopen nothing, but
        # the first attempt must not wait a second for the retry
        self.sock.set_ms(_nng.OPT_RECONNMINT, 20)
        self.sock.set_ms(_nng.OPT_RECONNMAXT, 200)
        self.sock.dial(url, block=False)
        self.url = url

    def send_raw(self, data, timeout_ms=LIVENESS_MS):
        try:
            self.sock.send(data, timeout_ms=timeout_ms)
        except _nng.NngError as e:
            if e.errno == _nng.NNG_ETIMEDOUT:
                raise PeerTimeout(f"{self.url}: nobody took a message "
                                  f"within {timeout_ms} ms") from None
            raise

    def send(self, f, payload=b"", timeout_ms=LIVENESS_MS):
        self.send_raw(encode(f, payload), timeout_ms)

    def recv_raw(self, timeout_ms=LIVENESS_MS):
        try:
            return self.sock.recv(timeout_ms=timeout_ms)
        except _nng.NngError as e:
            if e.errno == _nng.NNG_ETIMEDOUT:
                raise PeerTimeout(f"{self.url}: no message within "
                                  f"{timeout_ms} ms") from None
            raise

    def recv(self, timeout_ms=LIVENESS_MS):
        f, payload = decode(self.recv_raw(timeout_ms))
        self.received.append((f, payload))
        return f, payload

    def expect(self, want, timeout_ms=LIVENESS_MS, skip=("ack",)):
        """The next frame that is not in skip; PeerError unless it is of
        kind want."""
        while True:
            f, payload = self.recv(timeout_ms)
            k = kind(f)
            if k in skip and k != want:
                continue
            if k != want:
                raise PeerError(f"expected a {want} frame, got {k}: {f}")
            return f, payload

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
