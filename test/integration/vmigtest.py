"""vmigtest: the harness every Python integration test of vmigd imports.

    from vmigtest import Daemon, Vmigctl, TempDir, test_plugin

    with TempDir() as tmp, Daemon(tmp, pfs=[("t0", "testdev", "vfs=4")],
                                  plugins=[test_plugin("plugin_good")]) as d:
        print(d.client().list_devices())
        print(Vmigctl(d.rpc_url).json("devices"))

- builddir()/srcdir(): VMIG_BUILDDIR / VMIG_SRCDIR (make check sets them),
  else guessed from this file's place in the source tree (_build/plain).
- Daemon: a real vmigd with a generated config in a temporary directory,
  IPC sockets inside it, its own plugin directory (symlinks); started,
  waited for until it answers, stopped with SIGTERM and checked to exit 0.
  The log is kept in the directory (Daemon.log()). wrap= runs it under a
  prefix (netns.py: in a network namespace).
- Vmigctl: runs the real vmigctl against a URL.
- NotifySocket: an AF_UNIX datagram socket to pass as NOTIFY_SOCKET.
- The simulated PF (test/sim/vmig-simdev) has its own class, SimPF, in
  simdev.py (written with the simulator); a Daemon takes its PFs as
  (name, backend, spec) tuples, e.g. ("sim0", "virtio-admin",
  "sim:" + sim.socket).

Timeouts here are generous liveness bounds (the machines are shared), never
assertions about speed.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
LIVENESS_S = 60  # how long anything may take before we call it stuck
SIGTERM = signal.SIGTERM  # Daemon.signal() hides the module in the class


def srcdir():
    return os.environ.get("VMIG_SRCDIR") or os.path.dirname(
        os.path.dirname(HERE))


def builddir():
    b = os.environ.get("VMIG_BUILDDIR")
    if b:
        return b
    return os.path.join(srcdir(), "_build", "plain")


# Make the client importable when a test is run by hand.
for _p in (os.path.join(builddir(), "clients", "python"),
           os.path.join(srcdir(), "clients", "python")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import vmig  # noqa: E402  (needs the path above)


def program(rel):
    """A built program: BUILDDIR/rel, which must exist."""
    p = os.path.join(builddir(), rel)
    if not os.access(p, os.X_OK):
        raise FileNotFoundError(f"{p}: not built (run make in {builddir()})")
    return p


def vmigd_path():
    return program("daemon/vmigd")


def vmigctl_path():
    return program("clients/vmigctl")


def test_plugin(name):
    """A test backend built by make check (test/unit/plugin_*.c)."""
    p = os.path.join(builddir(), "test", "unit", ".libs", name + ".so")
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p}: not built (make check builds it)")
    return p


def backend_plugin(name):
    """A real backend plugin, e.g. "virtio-admin", or None if not built."""
    p = os.path.join(builddir(), "plugins", name, ".libs",
                     name.replace("-", "_") + ".so")
    return p if os.path.exists(p) else None


def notify_backend():
    """"sd_notify" or "none": what vmigd was built with."""
    out = subprocess.run([vmigd_path(), "--version"], capture_output=True,
                         text=True, check=True).stdout
    return "sd_notify" if "notify: sd_notify" in out else "none"


def wait_for(pred, what, timeout=LIVENESS_S, interval=0.02):
    """Poll pred() until it returns something true; raise if stuck."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError(f"still waiting after {timeout} s: {what}")
        time.sleep(interval)


class TempDir:
    """A short temporary directory (IPC paths must fit in 107 bytes)."""

    def __init__(self, prefix="vmig-"):
        self.path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")

    def sub(self, name):
        p = os.path.join(self.path, name)
        os.makedirs(p, exist_ok=True)
        return p

    def ipc_url(self, name):
        return "ipc://" + os.path.join(self.path, name)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class DaemonError(AssertionError):
    pass


class Daemon:
    """A vmigd process with its own directory, config, sockets and log."""

    def __init__(self, tmp, name="vmigd", pfs=(), plugins=(), config="",
                 events=True, args=(), env=None, rpc_tcp=False, wrap=()):
        self.name = name
        self.dir = tmp.sub(name)
        self.rpc_url = "ipc://" + os.path.join(self.dir, "rpc.sock")
        self.events_url = ("ipc://" + os.path.join(self.dir, "events.sock")
                           if events else "")
        self.rpc_tcp = rpc_tcp
        self.wrap = list(wrap)  # e.g. ["ip", "netns", "exec", NS]
        self.plugin_dir = os.path.join(self.dir, "plugins")
        os.makedirs(self.plugin_dir, exist_ok=True)
        for p in plugins:
            self.add_plugin(p)
        self.config_path = os.path.join(self.dir, "vmigd.conf")
        self.log_path = os.path.join(self.dir, "vmigd.log")
        self.state_dir = os.path.join(self.dir, "state")
        self.pfs = list(pfs)
        self.extra_config = config
        self.args = list(args)
        self.env = env
        self.proc = None
        self.write_config()

    def add_plugin(self, path):
        dst = os.path.join(self.plugin_dir, os.path.basename(path))
        if not os.path.lexists(dst):
            os.symlink(path, dst)

    def config_text(self, pfs=None, extra=None):
        pfs = self.pfs if pfs is None else pfs
        extra = self.extra_config if extra is None else extra
        text = "; written by vmigtest\n" + extra + "\n"
        for name, backend, spec in pfs:
            text += f"[pf.{name}]\nbackend = {backend}\nspec = {spec}\n"
        return text

    def write_config(self, pfs=None, extra=None, text=None):
        """(Re)write the config file; SIGHUP makes vmigd read it."""
        if pfs is not None:
            self.pfs = list(pfs)
        if extra is not None:
            self.extra_config = extra
        with open(self.config_path, "w") as f:
            f.write(text if text is not None else self.config_text())

    def command(self):
        cmd = self.wrap + [
               vmigd_path(), "--foreground", "--config", self.config_path,
               "--rpc-url", self.rpc_url, "--events-url", self.events_url,
               "--plugin-dir", self.plugin_dir, "--state-dir",
               self.state_dir]
        if self.rpc_tcp:
            cmd += ["--rpc-tcp-url", "tcp://127.0.0.1:0",
                    "--rpc-insecure-tcp", "yes"]
        return cmd + self.args

    def start(self, wait=True):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.update(self.env or {})
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=LIVENESS_S):
        """Until it answers and no PF is still opening (opening is
        asynchronous), or the daemon died: raise with its log."""
        def ready():
            if self.proc.poll() is not None:
                raise DaemonError(f"{self.name} exited with "
                                  f"{self.proc.returncode} before it was "
                                  f"ready:\n{self.log()}")
            try:
                with vmig.Client(self.rpc_url, timeout_ms=2000) as c:
                    pfs = c.list_devices().pfs
                return all(p.state != vmig.pb.PF_OPENING for p in pfs)
            except vmig.VmigError:
                return False
        wait_for(ready, f"{self.name} to answer on {self.rpc_url}", timeout)

    def client(self, **kw):
        return vmig.Client(self.rpc_url, **kw)

    def vmigctl(self):
        return Vmigctl(self.rpc_url)

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=LIVENESS_S):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DaemonError(f"{self.name} did not exit within {timeout} s:"
                              f"\n{self.log()}")

    def stop(self, sig=SIGTERM, expect=0):
        """Signal, wait, check the exit status; returns it."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
        else:
            self.signal(sig)
            code = self.wait_exit()
        self._close_log()
        if expect is not None and code != expect:
            raise DaemonError(f"{self.name} exited with {code}, expected "
                              f"{expect}:\n{self.log()}")
        return code

    def run_to_exit(self, timeout=LIVENESS_S):
        """Start a daemon expected to fail at start-up; its exit status."""
        self.start(wait=False)
        code = self.wait_exit(timeout)
        self._close_log()
        return code

    def _close_log(self):
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=LIVENESS_S):
        return wait_for(lambda: text in self.log(),
                        f"'{text}' in {self.name}'s log", timeout)

    def tcp_url(self):
        """The TCP (or TLS) control URL with its bound port (from the
        log)."""
        def find():
            for line in self.log().splitlines():
                if "rpc: listening on" in line and (
                        " and tcp://" in line or " and tls+tcp://" in line):
                    return line.split(" and ")[1].split(" ")[0]
            return None
        return wait_for(find, "the TCP listener in the log")

    def metrics_url(self):
        """The metrics endpoint with its bound port (from the log)."""
        def find():
            for line in self.log().splitlines():
                if "metrics: serving " in line:
                    return line.split("metrics: serving ")[1].split()[0]
            return None
        return wait_for(find, "the metrics endpoint in the log")

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, exc_type, *exc):
        if self.proc is not None and self.proc.poll() is None:
            if exc_type is None:
                self.stop()
            else:
                self.proc.kill()
                self.proc.wait()
                self._close_log()
                sys.stderr.write(f"--- {self.name} log ---\n{self.log()}\n")
        self._close_log()


class Vmigctl:
    """The real vmigctl, pointed at one daemon."""

    def __init__(self, url, timeout_ms=None):
        self.url = url
        self.timeout_ms = timeout_ms

    def argv(self, *args, json_out=False):
        cmd = [vmigctl_path(), "--connect", self.url]
        if self.timeout_ms:
            cmd += ["--timeout", str(self.timeout_ms)]
        if json_out:
            cmd.append("--json")
        return cmd + list(args)

    def run(self, *args, json_out=False, check=True, timeout=LIVENESS_S):
        p = subprocess.run(self.argv(*args, json_out=json_out),
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"vmigctl {' '.join(args)}: exit "
                                 f"{p.returncode}\n{p.stdout}{p.stderr}")
        return p

    def json(self, *args):
        return json.loads(self.run(*args, json_out=True).stdout)

    def popen(self, *args, json_out=False):
        return subprocess.Popen(self.argv(*args, json_out=json_out),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


class NotifySocket:
    """Stands in for systemd: the datagrams vmigd sends to NOTIFY_SOCKET."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp.path, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []

    def env(self, watchdog_usec=None):
        e = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        return e

    def wait(self, text, timeout=LIVENESS_S):
        """The first message (from now on, or kept) containing text."""
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.messages):
                if text in m:
                    del self.messages[:i + 1]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{text}' on NOTIFY_SOCKET within "
                                   f"{timeout} s (got {self.messages})")
            self.sock.settimeout(left)
            try:
                self.messages.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def close(self):
        self.sock.close()
