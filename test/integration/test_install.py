#!/usr/bin/python3
"""test_install: `make install DESTDIR=...` installs what a third-party
plugin or client needs, where its #includes expect it (issue 9, item 8).

One install into a temporary root, then, using nothing but that tree:
- the layout: <vmig/backend.h>, <vmig/client.h> and the generated
  <vmig/vmig.pb-c.h> it includes, libvmigclient.a, the pkg-config files,
  the .proto files, the Python package with vmig_pb2 inside it; no
  libtool archive (.la) beside the plugins;
- a tiny backend plugin (test/install/tiny_plugin.c) built with
  `pkg-config --cflags vmig-backend`, loaded by the installed vmigd;
- a tiny C client (test/install/tiny_client.c) built with `pkg-config
  --cflags --libs vmigclient`, the installed vmigctl and the installed
  Python package, all talking to that vmigd.
"""

import os
import shlex
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from vmigtest import Daemon, TempDir  # noqa: E402


def find(root, tail):
    """Paths under root ending in tail (a relative path)."""
    out = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if p.endswith("/" + tail):
                out.append(p)
    return out


class InstalledDaemon(Daemon):
    """A Daemon run from the installed tree instead of the build."""

    def __init__(self, tmp, vmigd, **kw):
        self.vmigd = vmigd
        super().__init__(tmp, **kw)

    def command(self):
        return [self.vmigd] + super().command()[1:]


class InstallTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir()
        cls.root = cls.tmp.sub("root")
        env = dict(os.environ)
        # our own make, not a child of make check's job server
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            env.pop(k, None)
        p = subprocess.run(["make", "-C", vmigtest.builddir(), "install",
                            "DESTDIR=" + cls.root], env=env,
                           capture_output=True, text=True)
        if p.returncode != 0:
            cls.tmp.cleanup()
            raise AssertionError(f"make install failed:\n{p.stdout}"
                                 f"{p.stderr}")
        vmigd = find(cls.root, "sbin/vmigd")
        assert len(vmigd) == 1, f"installed vmigd: {vmigd}"
        cls.vmigd = vmigd[0]
        # DESTDIR + prefix: the installed tree as a third party sees it
        cls.prefix = os.path.dirname(os.path.dirname(cls.vmigd))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def one(self, tail):
        found = find(self.root, tail)
        self.assertEqual(len(found), 1, f"{tail}: installed as {found}")
        return found[0]

    def pkg_config(self, *args):
        pc = os.path.dirname(self.one("pkgconfig/vmigclient.pc"))
        env = dict(os.environ, PKG_CONFIG_PATH=pc,
                   PKG_CONFIG_SYSROOT_DIR=self.root)
        env.pop("PKG_CONFIG_LIBDIR", None)
        p = subprocess.run(["pkg-config"] + list(args), env=env,
                           capture_output=True, text=True, check=True)
        return shlex.split(p.stdout)

    def cc(self, *args):
        cc = shlex.split(os.environ.get("VMIG_CC") or "cc")
        san = shlex.split(os.environ.get("VMIG_SAN_CFLAGS", ""))
        cmd = cc + san + ["-Wall", "-Wextra", "-Wno-unused-parameter",
                            "-Werror"] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, f"{' '.join(cmd)}:\n{p.stderr}")

    def test_layout(self):
        inc = os.path.join(self.prefix, "include")
        for h in ("backend.h", "client.h", "vmig.pb-c.h"):
            self.assertTrue(os.path.exists(os.path.join(inc, "vmig", h)),
                            f"include/vmig/{h} not installed")
        self.assertFalse(os.path.exists(os.path.join(inc, "vmigd")),
                         "headers went to include/vmigd")
        las = [os.path.join(d, f) for d, _, fs in os.walk(self.root)
               for f in fs if f.endswith(".la")]
        self.assertEqual(las, [], "libtool archives installed")
        self.one("libvmigclient.a")
        self.one("pkgconfig/vmig-backend.pc")
        self.one("vmigd/proto/vmig.proto")
        self.one("vmigd/proto/stream.proto")
        self.one("vmig/__init__.py")
        self.one("vmig/vmig_pb2.py")
        # pkg-config puts PKG_CONFIG_SYSROOT_DIR before the path
        plugindir = self.pkg_config("--variable=plugindir", "vmig-backend")
        self.assertEqual(
            os.path.dirname(self.one("plugins/virtio_admin.so")),
            plugindir[0], "vmig-backend.pc's plugindir")

    def test_third_party_plugin_and_clients(self):
        src = os.path.join(vmigtest.srcdir(), "test", "install")
        tmp = self.tmp
        plugins = tmp.sub("plugins")
        tiny = os.path.join(plugins, "tiny.so")
        self.cc("-shared", "-fPIC", *self.pkg_config("--cflags",
                                                     "vmig-backend"),
                "-o", tiny, os.path.join(src, "tiny_plugin.c"))
        client = os.path.join(tmp.path, "tiny_client")
        self.cc(*self.pkg_config("--cflags", "vmigclient"), "-o", client,
                os.path.join(src, "tiny_client.c"),
                *self.pkg_config("--libs", "vmigclient"))

        with InstalledDaemon(tmp, self.vmigd, name="installed",
                             pfs=[("t0", "tiny", "vfs=2")],
                             plugins=[tiny, self.one(
                                 "plugins/virtio_admin.so")]) as d:
            out = subprocess.run([client, d.rpc_url], capture_output=True,
                                 text=True, timeout=vmigtest.LIVENESS_S)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            self.assertIn("backend tiny", lines)
            self.assertIn("backend virtio-admin", lines)
            self.assertIn("pf t0 online tiny", lines)
            self.assertIn("device t0/vf2", lines)

            vmigctl = self.one("bin/vmigctl")
            out = subprocess.run([vmigctl, "--connect", d.rpc_url,
                                  "devices"], capture_output=True, text=True,
                                 timeout=vmigtest.LIVENESS_S)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("t0/vf1", out.stdout)

            # only the installed package on the path, not the build's
            pydir = os.path.dirname(os.path.dirname(
                self.one("vmig/__init__.py")))
            env = dict(os.environ, PYTHONPATH=pydir)
            out = subprocess.run(
                [sys.executable, "-c",
                 "import sys, vmig\n"
                 "c = vmig.Client(sys.argv[1])\n"
                 "print(vmig.pb.__name__, c.get_version().api_version)\n",
                 d.rpc_url], capture_output=True, text=True, env=env,
                timeout=vmigtest.LIVENESS_S)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(out.stdout.split(), ["vmig.vmig_pb2", "1"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
