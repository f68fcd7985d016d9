"""vfiosim: a simulated VFIO host for the integration tests and the demo.

One VfioHost is what a real host with VFIO VFs would be: a simulated
kernel (test/sim/vfio/vmig-simvfio), one VMM per VF (vfsim-vmm, under the
interposer: it opens the VF, maps the VM's memory file for its DMA and
hands its fds to whoever asks, as a running VM's VMM holds its VF), and a
vmigd with the vfio plugin, itself under the interposer (LD_PRELOAD), so
the plugin's real open/ioctl/read/write reach the simulated kernel.

    host = VfioHost(tmp, "src", vfs=2, dev="mig=v2", open="vfio",
                    fill="random")
    host.sim.cmd("workload 1 hot rate=8M")
    ...
    host.close(failed)

The daemon's PF ("v0") lists the VMMs' sockets (vfio-fd:SOCK, the plugin
asks each VMM for its fds), or, with attach=True, waits for the fds to
come through vmigd's fd socket (hand_over(), as a VMM would push them).
Timeouts are liveness bounds, never assertions about speed.
"""

import os
import select
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from simdev import SimPF, SimError, _pdeathsig, _value  # noqa: E402
from vmigtest import Daemon, LIVENESS_S  # noqa: E402

MiB = 1 << 20
IOVA = 0x100000000
PF = "v0"


def built(rel):
    return vmigtest.program(rel)


def preload_lib():
    p = os.path.join(vmigtest.builddir(), "test", "sim", "vfio", ".libs",
                     "vfsim_preload.so")
    if not os.path.exists(p):
        raise FileNotFoundError(f"{p}: not built")
    return p


def preload_env(sim_socket):
    """LD_PRELOAD for a process whose VFIO calls go to the simulator. A
    sanitizer build's runtime must come first in the list."""
    libs = [preload_lib()]
    out = subprocess.run(["ldd", vmigtest.vmigd_path()], text=True,
                         capture_output=True).stdout
    for line in out.splitlines():
        if "libasan" in line and "=>" in line:
            libs.insert(0, line.split("=>")[1].split()[0])
    return {"LD_PRELOAD": " ".join(libs), "VFSIM_SOCKET": sim_socket}


def _ready(proc, prefix, timeout=LIVENESS_S):
    """Read the first stdout line; it must start with prefix."""
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        r, _, _ = select.select([proc.stdout], [], [],
                                max(deadline - time.monotonic(), 0))
        if not r:
            raise TimeoutError(f"{prefix}: not ready")
        c = os.read(proc.stdout.fileno(), 1)
        if not c:
            raise SimError(f"{prefix}: exited {proc.wait()} before ready")
        line += c
    if not line.startswith(prefix.encode()):
        raise SimError(f"{prefix}: unexpected first line {line!r}")
    return line.decode()


class SimVfio(SimPF):
    """vmig-simvfio: SimPF's control plumbing, its own start."""

    def __init__(self, workdir, devs, kernel=None, args=()):
        SimPF.__init__(self, workdir=workdir)
        self.sysfs = os.path.join(workdir, "sysfs")
        self.argv = [built("test/sim/vfio/vmig-simvfio"), "--sysfs",
                     self.sysfs, "--log-level", "warn"]
        if kernel:
            self.argv += ["--kernel", kernel]
        for d in devs:
            self.argv += ["--dev", d]
        self.argv += list(args)

    def start(self, timeout=LIVENESS_S):
        self.log = open(os.path.join(self.dir, "simdev.log"), "wb")
        self.proc = subprocess.Popen(
            self.argv + ["--socket", self.socket, "--control", self.control],
            stdout=subprocess.PIPE, stderr=self.log, preexec_fn=_pdeathsig)
        try:
            _ready(self.proc, "vmig-simvfio ready", timeout)
        except Exception:
            self.proc.kill()
            raise
        self._ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._ctl.settimeout(timeout)
        self._ctl.connect(self.control)
        return self

    def state(self, vf):
        return dict((k, _value(v)) for k, v in
                    (w.split("=", 1) for w in self.cmd(f"state {vf}").split()))


class Vmm:
    """vfsim-vmm: holds one VF, its memory mapped at IOVA, serves its fds."""

    def __init__(self, sim, spec, mem, size, sock, iova=IOVA):
        self.sock = sock
        self.log = open(sock + ".log", "wb")
        env = dict(os.environ)
        env.update(preload_env(sim.socket))
        self.proc = subprocess.Popen(
            [built("test/sim/vfio/vfsim-vmm"), "--listen", sock, "--spec",
             spec, "--sysfs", sim.sysfs, "--mem", f"{mem},{iova},{size}"],
            stdout=subprocess.PIPE, stderr=self.log, env=env,
            preexec_fn=_pdeathsig)
        try:
            _ready(self.proc, "vfsim-vmm ready")
        except Exception:
            self.stop()
            raise

    def fds(self):
        """Ask for the fds as vmigd's vfio-fd: does: {name: fd}, line."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(LIVENESS_S)
            s.connect(self.sock)
            s.sendall(b"vmig-vfio 1\n")
            msg, fds, _, _ = socket.recv_fds(s, 1024, 4)
        line = msg.decode().strip()
        if not line.startswith("ok "):
            raise SimError(f"VMM refused: {line}")
        kv = dict(w.split("=", 1) for w in line[3:].split())
        return dict(zip(kv["fds"].split(","), fds)), kv

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
        self.log.close()


class VfioKernel:
    """A simulated kernel with a VF per dev, each held by its VMM with
    the VM's memory (a file in /dev/shm) mapped at iova."""

    def __init__(self, dir, name, devs, open="vfio", kernel=None,
                 sim_args=(), fill=None, mem=8 * MiB, one_memory=False,
                 iova=IOVA):
        self.name = name
        self.dir = dir
        self.memsize = mem
        self.iova = iova
        self.vmms = []
        self.mem = {}
        self.sim = SimVfio(self.dir, devs, kernel, sim_args)
        self.sim.start()
        try:
            for vf in range(1, len(devs) + 1):
                # one_memory: a VM whose VFs all DMA into its one memory
                self.mem[vf] = self.mem[1] if one_memory and vf > 1 else \
                    self._memfile(vf, fill)
                self.vmms.append(Vmm(
                    self.sim, f"{open}:0000:3b:00.{vf}", self.mem[vf], mem,
                    os.path.join(self.dir, f"vmm{vf}.sock"), iova))
        except Exception:
            self.close(True)
            raise

    def _memfile(self, vf, fill):
        path = os.path.join("/dev/shm", f"vmigv-{os.getpid()}-{self.name}"
                            f"-vf{vf}")
        with open(path, "wb") as f:
            if fill == "random":
                for _ in range(self.memsize // MiB):
                    f.write(os.urandom(MiB))
            else:
                f.truncate(self.memsize)
        return path

    def spec(self, attach=False):
        """The vmigd PF spec: every VMM's socket (or attach)."""
        return "attach" if attach else ",".join(f"vfio-fd:{v.sock}"
                                                for v in self.vmms)

    def env(self):
        return preload_env(self.sim.socket)

    def regions(self, vf):
        return [dict(path=self.mem[vf], iova=self.iova, length=self.memsize)]

    def close(self, failed=False):
        for v in self.vmms:
            v.stop()
        self.sim.stop()
        if failed:
            sys.stderr.write(f"--- {self.name} simulator ---\n"
                             f"{self.sim.logtext()[-5000:]}\n")
        for p in set(self.mem.values()):
            try:
                os.unlink(p)
            except OSError:
                pass


class VfioHost(VfioKernel):
    """A VfioKernel with `vfs` VFs and a vmigd whose PF PF holds them."""

    def __init__(self, tmp, name, vfs=1, dev="mig=v2", attach=False,
                 spec_opts="", daemon_args=(), **kw):
        self.daemon = None
        VfioKernel.__init__(self, tmp.sub(name + "-vfio"), name,
                            [dev] * vfs if isinstance(dev, str) else
                            list(dev), **kw)
        try:
            self.daemon = Daemon(
                tmp, name, pfs=[(PF, "vfio", self.spec(attach) + spec_opts)],
                plugins=[vfio_plugin()], env=self.env(),
                args=["--log-level", "debug"] + list(daemon_args))
            self.daemon.start()
            self.client = self.daemon.client()
        except Exception:
            self.close(True)
            raise

    def hand_over(self, vf=1, target=PF):
        """Get the VMM's fds and push them to vmigd's fd socket, as a VMM
        would; the PF opens with them."""
        fds, kv = self.vmms[vf - 1].fds()
        try:
            self.client.attach_fds(target, fds)
        finally:
            for fd in fds.values():
                os.close(fd)
        return kv

    def device(self, vf):
        name = f"{PF}/vf{vf}"
        for d in self.client.list_devices().devices:
            if d.name == name:
                return d
        raise AssertionError(f"{self.name}: no {name} in ListDevices")

    def pf(self):
        for p in self.client.list_devices().pfs:
            if p.name == PF:
                return p
        raise AssertionError(f"{self.name}: no PF {PF}")

    def close(self, failed=False):
        err = None
        try:
            if self.daemon is not None:
                try:
                    self.client.close()
                except Exception:
                    pass
                try:
                    self.daemon.stop(expect=0)
                except Exception as e:
                    err = e
                if failed:
                    sys.stderr.write(f"--- {self.name} vmigd log ---\n"
                                     f"{self.daemon.log()[-30000:]}\n")
        finally:
            VfioKernel.close(self, failed)
        if err is not None:
            raise err


def vfio_plugin():
    p = vmigtest.backend_plugin("vfio")
    if p is None:
        raise FileNotFoundError("the vfio plugin is not built")
    return p
