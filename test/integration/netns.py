"""netns: two network namespaces joined by a veth pair, for tests that
break the network the way it breaks in a data centre.

    from netns import NetPair, netns_unavailable
    why = netns_unavailable()           # None, or why the tests must skip
    with NetPair() as net:
        net.wrap("b")                   # ["ip", "netns", "exec", NAME]
        net.addr("b")                   # "10.x.y.2"
        net.cut(); net.restore()        # the link down, and up again
        net.netem(delay_ms=200, loss_pct=1)   # tc netem on both ends
        net.rate("8mbit")               # tc tbf on both ends
        net.bpf_loss(1)                 # tc clsact BPF drops, both ends
        with net.relay("b", host, port, delay_ms=200) as r:
            r.url                       # tcp://ADDR:PORT, 200 ms each way

Without sch_netem (bpf_loss_unavailable(), netem_unavailable() say
why), loss comes from netloss.bpf.c on each end's egress (real drops,
1 packet in 100 at random) and latency from delayrelay.py, a userspace
TCP relay in a namespace that holds every chunk 200 ms each way (the
application's latency; TCP itself sees a short round trip).

Side "a" is 10.x.y.1, side "b" 10.x.y.2 (x.y from the pid, so tests of
several runs at once do not collide); both namespaces have their loopback
up. Processes started with wrap(side) live in that namespace; UNIX
sockets (ipc:// URLs, the simulators' sockets) are files and work across
namespaces. Everything is removed on exit, also when a test failed.
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

_PROBED = {}


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True,
                          check=check)


def _probe(key, fn):
    if key not in _PROBED:
        _PROBED[key] = fn()
    return _PROBED[key]


def _probe_netns():
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "needs iproute2 (ip)"
    name = f"vmigprobe{os.getpid()}"
    p = _ip("netns", "add", name, check=False)
    if p.returncode != 0:
        return f"network namespaces unavailable: {p.stderr.strip()}"
    try:
        p = _ip("-n", name, "link", "add", "pa", "type", "veth", "peer",
                "name", "pb", check=False)
        if p.returncode != 0:
            return f"veth pairs unavailable: {p.stderr.strip()}"
    finally:
        _ip("netns", "del", name, check=False)
    return None


def _probe_tc(what, *commands):
    """Run each tc command (a list) on a veth "pa" in a scratch namespace:
    None when all work, else why not (what names the feature)."""
    why = netns_unavailable()
    if why:
        return why
    if shutil.which("tc") is None:
        return "needs iproute2 (tc)"
    name = f"vmigqd{os.getpid()}"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "add", "pa", "type", "veth", "peer", "name",
            "pb")
        _ip("-n", name, "link", "set", "pa", "up")
        for args in commands:
            p = subprocess.run(["ip", "netns", "exec", name, "tc", *args],
                               capture_output=True, text=True)
            if p.returncode != 0:
                return f"{what} unavailable in this kernel: " \
                    f"{p.stderr.strip()}"
    finally:
        _ip("netns", "del", name, check=False)
    return None


def _probe_qdisc(kind, *args):
    return _probe_tc(f"tc qdisc {kind}",
                     ["qdisc", "add", "dev", "pa", "root", kind, *args])


def netns_unavailable():
    """None when namespaces and veth pairs work here, else why not."""
    return _probe("netns", _probe_netns)


def netem_unavailable():
    """None when tc netem works here (sch_netem), else why not."""
    return _probe("netem", lambda: _probe_qdisc("netem", "delay", "1ms"))


def tbf_unavailable():
    return _probe("tbf", lambda: _probe_qdisc(
        "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms"))


def _bpf_include():
    """-I for <asm/types.h>: clang -target bpf does not look in the
    multiarch directory by itself."""
    try:
        ma = subprocess.run(["cc", "-print-multiarch"], capture_output=True,
                            text=True).stdout.strip()
    except OSError:
        ma = ""
    return [f"-I/usr/include/{ma}"] if ma else []


def bpf_loss_object(pct, outdir):
    """netloss.bpf.c compiled for pct % loss into outdir; its path.
    Raises RuntimeError with clang's message."""
    out = os.path.join(outdir, f"netloss{pct}.o")
    p = subprocess.run(["clang", "-O2", "-target", "bpf",
                        f"-DLOSS_PCT={int(pct)}", *_bpf_include(), "-c",
                        os.path.join(HERE, "netloss.bpf.c"), "-o", out],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"clang -target bpf: {p.stderr.strip()}")
    return out


def _probe_bpf_loss():
    if shutil.which("clang") is None:
        return "needs clang (-target bpf)"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            obj = bpf_loss_object(1, tmp)
        except RuntimeError as e:
            return str(e)
        return _probe_tc("tc clsact with cls_bpf",
                         ["qdisc", "add", "dev", "pa", "clsact"],
                         ["filter", "add", "dev", "pa", "egress", "bpf",
                          "direct-action", "obj", obj, "sec", "tc"])


def bpf_loss_unavailable():
    """None when a tc clsact BPF program can drop packets here, else why
    not."""
    return _probe("bpf_loss", _probe_bpf_loss)


class Relay:
    """delayrelay.py in a namespace: connections to .url reach
    target_addr:target_port delay_ms later each way."""

    def __init__(self, wrap, listen_addr, target_addr, target_port,
                 delay_ms):
        self.proc = subprocess.Popen(
            wrap + [sys.executable, os.path.join(HERE, "delayrelay.py"),
                    listen_addr, target_addr, str(target_port),
                    str(delay_ms)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "port":
            self.close()
            raise RuntimeError(f"delayrelay did not start: {line}")
        self.url = f"tcp://{listen_addr}:{line[1]}"

        self.relayed = None     # (bytes to target, bytes back) at close

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                out = self.proc.stdout.read().split()
                self.proc.wait(timeout=10)
                if len(out) == 3 and out[0] == "relayed":
                    self.relayed = (int(out[1]), int(out[2]))
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NetPair:
    def __init__(self):
        pid = os.getpid()
        self.ns = {"a": f"vmig{pid}a", "b": f"vmig{pid}b"}
        self.dev = {"a": "veth0", "b": "veth1"}
        sub = (pid >> 8) & 0xff, pid & 0xfc
        self._addr = {"a": f"10.{sub[0]}.{sub[1]}.1",
                      "b": f"10.{sub[0]}.{sub[1]}.2"}
        self.made = False
        self._tmp = None

    def setup(self):
        why = netns_unavailable()
        if why:
            raise RuntimeError(why)
        for s in "ab":
            _ip("netns", "add", self.ns[s])
        self.made = True
        _ip("-n", self.ns["a"], "link", "add", self.dev["a"], "type", "veth",
            "peer", "name", self.dev["b"], "netns", self.ns["b"])
        for s in "ab":
            _ip("-n", self.ns[s], "addr", "add", self._addr[s] + "/30", "dev",
                self.dev[s])
            _ip("-n", self.ns[s], "link", "set", self.dev[s], "up")
            _ip("-n", self.ns[s], "link", "set", "lo", "up")
        return self

    def cleanup(self):
        if self.made:
            for s in "ab":
                _ip("netns", "del", self.ns[s], check=False)
            self.made = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self):
        return self.setup()

    def __exit__(self, *exc):
        self.cleanup()

    def wrap(self, side):
        """The command prefix that runs a program in side's namespace."""
        return ["ip", "netns", "exec", self.ns[side]]

    def addr(self, side):
        return self._addr[side]

    def _tc(self, side, *args, check=True):
        return subprocess.run(self.wrap(side) + ["tc", *args],
                              capture_output=True, text=True, check=check)

    def cut(self):
        """The link goes down on both ends: nothing passes, and nobody
        is told (no RST, no FIN): a cable pulled, a switch dead."""
        for s in "ab":
            _ip("-n", self.ns[s], "link", "set", self.dev[s], "down")

    def restore(self):
        for s in "ab":
            _ip("-n", self.ns[s], "link", "set", self.dev[s], "up")
            self._tc(s, "qdisc", "del", "dev", self.dev[s], "root",
                     check=False)
            self._tc(s, "qdisc", "del", "dev", self.dev[s], "clsact",
                     check=False)

    def netem(self, delay_ms=0, loss_pct=0.0):
        """tc netem on both ends: delay_ms each way, loss_pct of packets
        dropped each way."""
        args = []
        if delay_ms:
            args += ["delay", f"{delay_ms}ms"]
        if loss_pct:
            args += ["loss", f"{loss_pct}%"]
        for s in "ab":
            self._tc(s, "qdisc", "replace", "dev", self.dev[s], "root",
                     "netem", *args)

    def rate(self, rate):
        """tc tbf on both ends: the link at `rate` (e.g. "8mbit")."""
        for s in "ab":
            self._tc(s, "qdisc", "replace", "dev", self.dev[s], "root",
                     "tbf", "rate", rate, "burst", "64kbit", "latency",
                     "400ms")

    def bpf_loss(self, pct):
        """netloss.bpf.c on both ends' egress: pct % of the packets each
        way dropped at random (tc clsact, cls_bpf)."""
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="vmig-netns-")
        obj = bpf_loss_object(pct, self._tmp.name)
        for s in "ab":
            # one MSS per packet: a veth hands TCP's 64 KiB GSO packets
            # through whole, and one drop would lose 45 packets' worth
            _ip("-n", self.ns[s], "link", "set", self.dev[s],
                "gso_max_segs", "1")
            self._tc(s, "qdisc", "replace", "dev", self.dev[s], "clsact")
            self._tc(s, "filter", "replace", "dev", self.dev[s], "egress",
                     "bpf", "direct-action", "obj", obj, "sec", "tc")

    def dropped(self, side):
        """Packets the clsact qdisc on side's end dropped so far."""
        out = self._tc(side, "-s", "qdisc", "show", "dev", self.dev[side],
                       check=False).stdout
        block = out.split("qdisc clsact", 1)[1:]
        if block and "dropped " in block[0]:
            return int(block[0].split("dropped ", 1)[1].split(",")[0])
        return 0

    def relay(self, side, target_addr, target_port, delay_ms):
        """A Relay in side's namespace on its address, to target."""
        return Relay(self.wrap(side), self.addr(side), target_addr,
                     target_port, delay_ms)
