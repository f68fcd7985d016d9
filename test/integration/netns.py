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

Side "a" is 10.x.y.1, side "b" 10.x.y.2 (x.y from the pid, so tests of
several runs at once do not collide); both namespaces have their loopback
up. Processes started with wrap(side) live in that namespace; UNIX
sockets (ipc:// URLs, the simulators' sockets) are files and work across
namespaces. Everything is removed on exit, also when a test failed.
"""

import os
import shutil
import subprocess

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


def _probe_qdisc(kind, *args):
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
        p = subprocess.run(["ip", "netns", "exec", name, "tc", "qdisc", "add",
                            "dev", "pa", "root", kind, *args],
                           capture_output=True, text=True)
        if p.returncode != 0:
            return (f"tc qdisc {kind} unavailable in this kernel: "
                    f"{p.stderr.strip()}")
    finally:
        _ip("netns", "del", name, check=False)
    return None


def netns_unavailable():
    """None when namespaces and veth pairs work here, else why not."""
    return _probe("netns", _probe_netns)


def netem_unavailable():
    """None when tc netem works here (sch_netem), else why not."""
    return _probe("netem", lambda: _probe_qdisc("netem", "delay", "1ms"))


def tbf_unavailable():
    return _probe("tbf", lambda: _probe_qdisc(
        "tbf", "rate", "1mbit", "burst", "32kbit", "latency", "400ms"))


class NetPair:
    def __init__(self):
        pid = os.getpid()
        self.ns = {"a": f"vmig{pid}a", "b": f"vmig{pid}b"}
        self.dev = {"a": "veth0", "b": "veth1"}
        sub = (pid >> 8) & 0xff, pid & 0xfc
        self._addr = {"a": f"10.{sub[0]}.{sub[1]}.1",
                      "b": f"10.{sub[0]}.{sub[1]}.2"}
        self.made = False

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
