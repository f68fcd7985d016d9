#!/usr/bin/python3
"""delayrelay: a TCP relay that holds every chunk DELAY_MS before passing
it on, in both directions: latency for kernels without sch_netem.

    delayrelay.py LISTEN_ADDR TARGET_ADDR TARGET_PORT DELAY_MS [WINDOW]

Listens on LISTEN_ADDR (an ephemeral port, printed on stdout as
"port N"), and relays each connection it accepts to TARGET_ADDR:PORT.
What one side sends reaches the other DELAY_MS later, in order; at most
WINDOW bytes (default 4 MiB) are held per direction, after which the
relay stops reading, so the sender feels the link's bandwidth-delay
product as it would on a long link. An end's FIN is passed on after the
bytes before it; an error closes both. Runs until its stdin closes,
then prints "relayed UP DOWN": the bytes passed to the target and back.

What it is not: TCP between a sender and the relay sees a short round
trip, so TCP's own behaviour over a long one (slow start, loss recovery
at 400 ms RTT) is not emulated; the application sees its peer's bytes
(and answers) DELAY_MS late each way.
"""

import collections
import socket
import sys
import threading
import time

CHUNK = 64 * 1024
TOTAL = {"up": 0, "down": 0}
TOTAL_LOCK = threading.Lock()


class Direction:
    """Bytes from one socket to the other, each chunk held delay_s."""

    def __init__(self, src, dst, delay_s, window, on_error, name):
        self.src, self.dst = src, dst
        self.name = name
        self.delay_s = delay_s
        self.window = window
        self.on_error = on_error
        self.q = collections.deque()
        self.held = 0
        self.cv = threading.Condition()
        for fn in (self.read, self.write):
            threading.Thread(target=fn, daemon=True).start()

    def read(self):
        try:
            while True:
                with self.cv:
                    while self.held >= self.window:
                        self.cv.wait()
                data = self.src.recv(CHUNK)
                with self.cv:
                    self.q.append((time.monotonic() + self.delay_s, data))
                    self.held += len(data)
                    self.cv.notify_all()
                if not data:
                    return      # EOF: passed on after what came before
        except OSError:
            self.on_error()

    def write(self):
        try:
            while True:
                with self.cv:
                    while not self.q:
                        self.cv.wait()
                    due, data = self.q[0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                if not data:
                    self.dst.shutdown(socket.SHUT_WR)
                    return
                self.dst.sendall(data)
                with TOTAL_LOCK:
                    TOTAL[self.name] += len(data)
                with self.cv:
                    self.q.popleft()
                    self.held -= len(data)
                    self.cv.notify_all()
        except OSError:
            self.on_error()


def relay(conn, target, delay_s, window):
    try:
        up = socket.create_connection(target)
    except OSError:
        conn.close()
        return
    for s in (conn, up):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def broken():
        for s in (conn, up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
    Direction(conn, up, delay_s, window, broken, "up")
    Direction(up, conn, delay_s, window, broken, "down")


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    listen_addr, target = argv[0], (argv[1], int(argv[2]))
    delay_s = int(argv[3]) / 1000
    window = int(argv[4]) if len(argv) == 5 else 4 << 20
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((listen_addr, 0))
    ls.listen(16)

    def accept():
        while True:
            conn, _ = ls.accept()
            relay(conn, target, delay_s, window)
    threading.Thread(target=accept, daemon=True).start()
    print(f"port {ls.getsockname()[1]}", flush=True)
    sys.stdin.read()
    with TOTAL_LOCK:
        print(f"relayed {TOTAL['up']} {TOTAL['down']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
