"""simdev: start and drive the simulated virtio PF (test/sim/vmig-simdev).

From a shell, one control line to a simulator started by hand (README's
"Trying it by hand"); prints the reply, exits 0 on "ok":

    /usr/bin/python3 test/integration/simdev.py CONTROL_SOCKET attach 1 ...

    from simdev import SimPF

    with SimPF(vfs=4) as sim:            # temp dir, sockets, ready, control
        sim.attach(1, "/dev/shm/vm1", 64 << 20, 0x100000000)
        sim.workload(1, "hot", fraction=0.1, rate="20M")
        print(sim.state(1)["writes"], sim.digest(1))
        spec = sim.spec                  # "sim:/tmp/.../pf.sock" for vmigd

- SimPF.socket is the admin-queue socket (what a vmigd PF spec names),
  SimPF.control the control socket; both live in a private temp dir.
- cmd(line) sends one control line and returns what follows "ok"; an
  "err ..." reply raises SimError with the reason. The helpers below are
  one line each; test/sim/README.md is the protocol.
- stop() sends "quit", waits, and kills only if the process is stuck. The
  simulator also dies with its parent (tests never leave one behind).

Self-contained on purpose (no vmig client import): any test may use it.
Timeouts are liveness bounds, never assertions about speed.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
LIVENESS_S = 60


class SimError(Exception):
    """The simulator answered "err <reason>"."""


def builddir():
    b = os.environ.get("VMIG_BUILDDIR")
    if b:
        return b
    src = os.environ.get("VMIG_SRCDIR") or os.path.dirname(
        os.path.dirname(HERE))
    return os.path.join(src, "_build", "plain")


def simdev_path():
    p = os.path.join(builddir(), "test", "sim", "vmig-simdev")
    if not os.access(p, os.X_OK):
        raise FileNotFoundError(f"{p}: not built (run make in {builddir()})")
    return p


def _pdeathsig():
    # Die with the test process, as the C harness does.
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _value(v):
    try:
        return int(v, 10)
    except ValueError:
        return v


class SimPF:
    def __init__(self, vfs=4, admin_queues=1, queue_size=None, name=None,
                 args=(), log_level="warn", precopy=True, workdir=None):
        self.vfs = vfs
        self.argv = [simdev_path(), "--vfs", str(vfs),
                     "--admin-queues", str(admin_queues),
                     "--log-level", log_level]
        if queue_size is not None:
            self.argv += ["--queue-size", str(queue_size)]
        if name is not None:
            self.argv += ["--name", name]
        if not precopy:
            self.argv += ["--no-precopy"]
        self.argv += list(args)
        self._own_dir = workdir is None
        self.dir = workdir or tempfile.mkdtemp(prefix="vmig-simpy.")
        self.socket = os.path.join(self.dir, "pf.sock")
        self.control = os.path.join(self.dir, "ctl.sock")
        self.proc = None
        self._ctl = None
        self._buf = b""

    @property
    def spec(self):
        return "sim:" + self.socket

    # -------------------------------------------------------- lifecycle

    def start(self, timeout=LIVENESS_S):
        argv = self.argv + ["--socket", self.socket,
                            "--control", self.control]
        self.log = open(os.path.join(self.dir, "simdev.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=self.log,
                                     preexec_fn=_pdeathsig)
        deadline = time.monotonic() + timeout
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            r, _, _ = select.select([self.proc.stdout], [], [],
                                    max(left, 0))
            if not r:
                self.stop()
                raise TimeoutError("vmig-simdev did not get ready")
            c = os.read(self.proc.stdout.fileno(), 1)
            if not c:
                rc = self.proc.wait()
                raise SimError(f"vmig-simdev exited {rc} before ready: "
                               f"{self.logtext()}")
            line += c
        if not line.startswith(b"vmig-simdev ready"):
            raise SimError(f"unexpected first line {line!r}")
        self._ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ctl.settimeout(timeout)
        self._ctl.connect(self.control)
        return self

    @classmethod
    def connect(cls, control, timeout=LIVENESS_S):
        """The control channel of a simulator started elsewhere."""
        sim = cls.__new__(cls)
        sim.proc = None
        sim.control = control
        sim._buf = b""
        sim._ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sim._ctl.settimeout(timeout)
        sim._ctl.connect(control)
        return sim

    def stop(self, timeout=LIVENESS_S):
        if self.proc is None:
            return None
        if self._ctl is not None:
            try:
                self._ctl.sendall(b"quit\n")
            except OSError:
                pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None
        self.proc.stdout.close()
        self.proc = None
        self.log.close()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def logtext(self):
        try:
            with open(os.path.join(self.dir, "simdev.log")) as f:
                return f.read()
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----------------------------------------------------------- control

    def raw(self, line):
        """Send one line; return the whole reply line (ok ... / err ...)."""
        self._ctl.sendall(line.encode() + b"\n")
        while b"\n" not in self._buf:
            chunk = self._ctl.recv(4096)
            if not chunk:
                raise SimError("control connection closed")
            self._buf += chunk
        reply, self._buf = self._buf.split(b"\n", 1)
        return reply.decode()

    def cmd(self, line):
        reply = self.raw(line)
        if reply == "ok" or reply.startswith("ok "):
            return reply[3:]
        if reply.startswith("err "):
            raise SimError(reply[4:])
        raise SimError(f"malformed reply {reply!r}")

    def info(self):
        return dict((k, _value(v)) for k, v in
                    (w.split("=", 1) for w in self.cmd("info").split()))

    def attach(self, vf, path, size, iova, offset=0):
        self.cmd(f"attach {vf} {path} {size} {iova:#x} {offset}")

    def detach(self, vf):
        self.cmd(f"detach {vf}")

    def workload(self, vf, kind, **params):
        kv = " ".join(f"{k}={v}" for k, v in params.items())
        self.cmd(f"workload {vf} {kind} {kv}".rstrip())

    def schedule(self, vf, phases, repeat=False):
        """A workload as phases: [(kind, {key: value}, ms or None)], each
        for its ms (None: the last one, for good), from the first again
        when repeat."""
        words = []
        for kind, params, ms in phases:
            if words:
                words.append("then")
            words.append(kind)
            words += [f"{k}={v}" for k, v in params.items()]
            if ms is not None:
                words.append(f"for={ms}")
        if repeat:
            words.append("repeat")
        self.cmd(f"workload {vf} " + " ".join(words))

    def hold(self, vf):
        self.cmd(f"hold {vf}")

    def release(self, vf):
        self.cmd(f"release {vf}")

    def step(self, vf, n):
        return _value(self.cmd(f"step {vf} {n}").split("=", 1)[1])

    def mode(self, vf, mode=None):
        if mode is None:
            return self.cmd(f"mode {vf}")
        self.cmd(f"mode {vf} {mode}")
        return mode

    def state(self, vf):
        text = self.cmd(f"state {vf}")
        head, _, last = text.partition(" last_error=")
        raw = dict(w.split("=", 1) for w in head.split())
        st = dict((k, _value(v)) for k, v in raw.items())
        st["hash"] = int(raw["hash"], 16)
        st["last_error"] = "" if last == "-" else last
        return st

    def digest(self, vf, any_dialect=False):
        """The VF's device state digest as its dialect reads it; with
        any_dialect, one that is the same whichever dialect the PF
        speaks (what a cross-dialect migration must keep)."""
        return int(self.cmd(f"digest {vf}" + (" any" if any_dialect
                                                else "")), 16)

    def memdigest(self, vf):
        return int(self.cmd(f"memdigest {vf}"), 16)

    def cvq(self, vf, **params):
        kv = " ".join(f"{k}={v}" for k, v in params.items())
        self.cmd(f"cvq {vf} {kv}")

    def fault(self, *words, **params):
        kv = " ".join(f"{k}={v}" for k, v in params.items())
        return self.cmd(" ".join(("fault",) + words + ((kv,) if kv else ())))

    def faults(self):
        return self.cmd("fault list")

    def echo(self, on):
        self.cmd("echo " + ("on" if on else "off"))

    def wait_for(self, vf, key, pred, timeout=LIVENESS_S):
        """Poll state until pred(state[key]); a liveness bound only."""
        deadline = time.monotonic() + timeout
        while True:
            st = self.state(vf)
            if pred(st[key]):
                return st
            if time.monotonic() > deadline:
                raise TimeoutError(f"vf{vf} {key}={st[key]} never became "
                                   f"what we waited for")
            time.sleep(0.01)


def memfile(tmpdir, name, size):
    """A zeroed guest-memory file in /dev/shm (or tmpdir if absent)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") else tmpdir
    path = os.path.join(base, f"vmig-{os.getpid()}-{name}")
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def main(argv):
    if len(argv) < 3:
        sys.stderr.write("usage: simdev.py CONTROL_SOCKET COMMAND [ARG...]"
                         "\n(test/sim/README.md lists the commands)\n")
        return 2
    try:
        sim = SimPF.connect(argv[1])
        reply = sim.raw(" ".join(argv[2:]))
    except (OSError, SimError) as e:
        sys.stderr.write(f"simdev.py: {argv[1]}: {e}\n")
        return 1
    sim._ctl.close()
    print(reply)
    return 0 if reply == "ok" or reply.startswith("ok ") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
