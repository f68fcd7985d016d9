#!/usr/bin/python3
"""test_debs: the Debian packages, installed into a throw-away root and
run from their installed paths.

    test/package/test_debs.py DEBDIR BUILDDIR

DEBDIR holds the .debs (./bootstrap packages builds them), BUILDDIR a
build tree for the simulated PF (test/sim/vmig-simdev, not packaged).
Every .deb is unpacked (dpkg-deb -x) into one root; then, in a mount
namespace of its own (unshare -m, as root), that root's /usr and /etc
are laid over the machine's with overlayfs, so the packaged files sit
at the paths they were built for while the machine itself is not
touched. There:

- the layout: vmigd, its plugin in /usr/lib/<triplet>/vmigd/plugins,
  the conffile, unit, sysusers and tmpfiles snippets, the man pages,
  the Python package, the C client and the plugin header;
- the postinst's systemd-sysusers creates the user and group vmigd;
- two installed vmigd, started with the packaged configuration and NO
  --plugin-dir (the packaged default must find the plugin), each with
  a simulated PF, migrate a VF with the installed vmigctl; the
  installed Python package and a C client built against
  libvmigclient-dev (pkg-config) call them; a plugin built against
  vmigd-dev compiles; the metrics endpoint answers;
- mandoc lints the installed man pages.
"""

import glob
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
LIVENESS_S = 60


def sh(*cmd, **kw):
    """Run a command; its stdout; raise with its output on failure."""
    p = subprocess.run(list(cmd), capture_output=True, text=True,
                       timeout=kw.pop("timeout", LIVENESS_S * 5), **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)}: exit {p.returncode}\n"
                             f"{p.stdout}{p.stderr}")
    return p.stdout


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}")


def wait_for(pred, what, timeout=LIVENESS_S):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"still waiting after {timeout} s: {what}")
        time.sleep(0.05)


# ------------------------------------------------------------ outside

def outside(debdir, builddir):
    debs = sorted(d for d in glob.glob(os.path.join(debdir, "*.deb"))
                  if "-dbgsym_" not in d)
    names = sorted(os.path.basename(d).split("_")[0] for d in debs)
    check(names == ["libvmigclient-dev", "python3-vmig", "vmigctl",
                    "vmigd", "vmigd-dev"], f"five packages: {names}")
    tmp = tempfile.mkdtemp(prefix="vmig-debs-", dir="/tmp")
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(root)
        for d in debs:
            sh("dpkg-deb", "-x", d, root)
        ctl = os.path.join(tmp, "vmigd.control")
        sh("dpkg-deb", "-e", [d for d in debs if os.path.basename(d)
                              .startswith("vmigd_")][0], ctl)
        # overlayfs wants its upper and work directories on one fs
        mounts = []
        for top in ("usr", "etc"):
            up, work = (os.path.join(tmp, f"{top}.{x}")
                        for x in ("upper", "work"))
            os.makedirs(up)
            os.makedirs(work)
            mounts.append(
                f"mount -t overlay overlay -o lowerdir={root}/{top}:/{top},"
                f"upperdir={up},workdir={work} /{top}")
        inner = " && ".join(mounts) + " && exec " + " ".join(
            shlex.quote(a) for a in ["/usr/bin/python3", __file__,
                                     "--inside", root, ctl, builddir, tmp])
        p = subprocess.run(["unshare", "-m", "--propagation", "private",
                            "sh", "-c", inner], timeout=LIVENESS_S * 10)
        return p.returncode
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------ inside

def triplet():
    return sh("dpkg-architecture", "-qDEB_HOST_MULTIARCH").strip()


def layout(root):
    lib = f"/usr/lib/{triplet()}"
    for path in ("/usr/sbin/vmigd", "/usr/bin/vmigctl",
                 f"{lib}/vmigd/plugins/virtio_admin.so",
                 "/etc/vmigd/vmigd.conf",
                 "/usr/lib/sysusers.d/vmigd.conf",
                 "/usr/lib/tmpfiles.d/vmigd.conf",
                 "/usr/share/man/man8/vmigd.8.gz",
                 "/usr/share/man/man5/vmigd.conf.5.gz",
                 "/usr/share/man/man1/vmigctl.1.gz",
                 "/usr/share/doc/vmigd/README.md",
                 "/usr/lib/python3/dist-packages/vmig/vmig_pb2.py",
                 "/usr/lib/python3/dist-packages/vmig/migrate.py",
                 "/usr/include/vmig/client.h",
                 "/usr/include/vmig/vmig.pb-c.h",
                 "/usr/include/vmig/backend.h",
                 f"{lib}/libvmigclient.a",
                 f"{lib}/pkgconfig/vmigclient.pc",
                 f"{lib}/pkgconfig/vmig-backend.pc",
                 "/usr/share/vmigd/proto/vmig.proto"):
        check(os.path.exists(path), f"installed {path}")
    check(os.path.exists(os.path.join(root, "lib/systemd/system/"
                                      "vmigd.service")),
          "the unit in /lib/systemd/system")
    las = glob.glob(f"{lib}/vmigd/plugins/*.la")
    check(las == [], "no libtool archive beside the plugin")


def sysusers(ctl):
    postinst = open(os.path.join(ctl, "postinst")).read()
    check("systemd-sysusers" in postinst and "vmigd.conf" in postinst,
          "postinst runs systemd-sysusers vmigd.conf")
    check(os.path.exists(os.path.join(ctl, "conffiles")) and
          "/etc/vmigd/vmigd.conf" in open(os.path.join(ctl, "conffiles"))
          .read(), "/etc/vmigd/vmigd.conf is a conffile")
    # what the postinst does, in the namespace's /etc
    sh("systemd-sysusers", "vmigd.conf")
    out = sh("getent", "passwd", "vmigd")
    check(out.startswith("vmigd:") and "nologin" in out,
          f"system user vmigd: {out.strip()}")
    check(sh("getent", "group", "vmigd").startswith("vmigd:"),
          "system group vmigd")


class Installed:
    """An installed vmigd: packaged config and plugin directory."""

    def __init__(self, tmp, name, sim_spec):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.url = f"ipc://{self.dir}/rpc.sock"
        self.log = os.path.join(self.dir, "vmigd.log")
        # only the sockets move out of /run; config and plugins are
        # the packaged defaults
        self.proc = subprocess.Popen(
            ["/usr/sbin/vmigd", "--foreground", "--rpc-url", self.url,
             "--events-url", f"ipc://{self.dir}/events.sock",
             "--metrics-listen", "127.0.0.1:0",
             "--pf", f"sim0=virtio-admin:{sim_spec}"],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: self.answers(), f"{name} to answer")

    def answers(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"vmigd exited {self.proc.returncode}:\n"
                                 + open(self.log).read())
        return subprocess.run(["/usr/bin/vmigctl", "--connect", self.url,
                               "version"], capture_output=True).returncode \
            == 0

    def ctl(self, *args):
        return sh("/usr/bin/vmigctl", "--connect", self.url, *args)

    def metrics_url(self):
        for line in open(self.log):
            if "metrics: serving " in line:
                return line.split("metrics: serving ")[1].split()[0]
        raise AssertionError("no metrics line in the log")

    def stop(self):
        self.proc.terminate()
        code = self.proc.wait(LIVENESS_S)
        check(code == 0, f"vmigd stopped with status {code}")


def run_daemons(tmp, builddir):
    os.environ["VMIG_BUILDDIR"] = builddir
    sys.path.insert(0, os.path.join(SRC, "test", "integration"))
    from simdev import SimPF
    size = 8 << 20
    sims, daemons, mem = [], [], []
    try:
        for name in ("src", "dst"):
            sim = SimPF(vfs=1, name=name + "pf")
            sim.start()
            sims.append(sim)
            path = f"/dev/shm/vmig-debs-{os.getpid()}-{name}"
            with open(path, "wb") as f:
                f.write(os.urandom(size) if name == "src" else
                        bytes(size))
            mem.append(path)
            sim.attach(1, path, size, 0x100000000)
            daemons.append(Installed(tmp, name, sim.spec + ",timeout=30000"))
        src, dst = daemons
        log = open(src.log).read()
        plugdir = f"/usr/lib/{triplet()}/vmigd/plugins"
        check(f"from {plugdir}" in log, f"the default plugin_dir {plugdir}")
        check("sim0/vf1" in src.ctl("devices"),
              "installed vmigctl lists the simulated VF")

        sims[0].workload(1, "hot")
        region = f"--region"
        prep = dst.ctl("prepare", "sim0/vf1", region,
                       f"{mem[1]},iova=0x100000000,size={size}", "--verify")
        fields = dict(line.split(None, 1) for line in prep.splitlines()
                      if " " in line)
        out = src.ctl("migrate", "sim0/vf1", "--to", fields["url"].strip(),
                      "--token", fields["token"].strip(), region,
                      f"{mem[0]},iova=0x100000000,size={size}", "--bulk",
                      "--verify", "--wait")
        check("completed" in out, "a VF migrated between installed "
              "daemons: " + out.strip().splitlines()[-1])

        # the installed Python package only (not a build tree's)
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        out = sh("/usr/bin/python3", "-c",
                 "import sys, vmig\n"
                 "c = vmig.Client(sys.argv[1])\n"
                 "jobs = c.list_jobs(include_finished=True)\n"
                 "print(vmig.__file__, vmig.pb.JobPhase.Name(jobs[0].phase))",
                 src.url, env=env)
        check(out.split() == ["/usr/lib/python3/dist-packages/vmig/"
                              "__init__.py", "PHASE_COMPLETED"],
              f"python3-vmig: {out.strip()}")

        # a C client built against libvmigclient-dev alone
        client = os.path.join(tmp, "tiny_client")
        flags = sh("pkg-config", "--cflags", "--libs", "vmigclient").split()
        sh("cc", "-Wall", "-Werror", "-o", client,
           os.path.join(SRC, "test", "install", "tiny_client.c"), *flags)
        out = sh(client, dst.url)
        check("device sim0/vf1" in out, "libvmigclient-dev: a C client")
        plugin = os.path.join(tmp, "tiny.so")
        sh("cc", "-shared", "-fPIC", "-Wall", "-Werror",
           *sh("pkg-config", "--cflags", "vmig-backend").split(),
           "-Wno-unused-parameter", "-o", plugin,
           os.path.join(SRC, "test", "install", "tiny_plugin.c"))
        check(sh("pkg-config", "--variable=plugindir", "vmig-backend")
              .strip() == plugdir, "vmigd-dev: a plugin, and its directory")

        # a page is up to METRICS_REFRESH_MS (1 s) old: the steps above
        # may all fit in that
        done = ('vmigd_migrations_total{direction="outgoing",'
                'result="completed",reason="none"} 1')

        def counted():
            return done in urllib.request.urlopen(
                src.metrics_url(), timeout=LIVENESS_S).read().decode()
        wait_for(counted, "the metrics to count the migration")
        check(counted(), "the metrics count the migration")
        for d in daemons:
            d.stop()
        daemons = []
    finally:
        for d in daemons:
            d.proc.kill()
            sys.stderr.write(open(d.log).read()[-4000:])
        for s in sims:
            s.stop()
        for p in mem:
            os.unlink(p)


def man_lint():
    for page in ("man8/vmigd.8.gz", "man5/vmigd.conf.5.gz",
                 "man1/vmigctl.1.gz"):
        p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                            "/usr/share/man/" + page], capture_output=True,
                           text=True)
        check(p.returncode == 0, f"mandoc -T lint {page}: "
              f"{p.stdout.strip() or 'clean'}")


def inside(root, ctl, builddir, tmp):
    layout(root)
    sysusers(ctl)
    man_lint()
    run_daemons(tmp, builddir)
    print("the installed packages work")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--inside":
        sys.exit(inside(*sys.argv[2:]))
    if len(sys.argv) != 3:
        sys.exit("usage: test_debs.py DEBDIR BUILDDIR")
    if os.geteuid() != 0:
        sys.exit("test_debs.py: needs root (unshare -m, overlayfs)")
    sys.exit(outside(os.path.abspath(sys.argv[1]),
                     os.path.abspath(sys.argv[2])))
