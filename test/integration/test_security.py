#!/usr/bin/python3
"""Who may call the real vmigd (README.md, "Security").

ipc://: a caller of another uid (vmigctl run as nobody through setpriv)
is refused every call with STATUS_PERMISSION_DENIED and a log line, even
when the socket's mode lets it connect; with the default mode it cannot
connect at all; rpc_read_group lets its members make read-only calls
only (the fast lane's GetJob included), rpc_group every call (and owns
the socket file). tcp://: refused at start-up without TLS unless
rpc_insecure_tcp = yes; tls+tcp://: no client certificate, one from
another CA and an expired one are refused, the right one is accepted
(Python client and vmigctl), and a SIGHUP with another client CA takes
effect for new connections. Certificates are made here with openssl.

Run by make check, or by hand:
    VMIG_BUILDDIR=_build/plain /usr/bin/python3 test/integration/test_security.py
"""

import os
import shutil
import signal
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from certs import CA, have_openssl  # noqa: E402
from vmigtest import (Daemon, TempDir, Vmigctl, test_plugin, vmig,  # noqa
                      vmigctl_path, wait_for)

NOBODY = 65534
NOGROUP = 65534
PFS = [("t0", "testdev", "vfs=2")]


def can_switch_uid():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def as_nobody(url, *args):
    """vmigctl as uid/gid 65534 with no other groups."""
    return subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}",
         "--clear-groups", vmigctl_path(), "--connect", url, "--timeout",
         "10000", *args], capture_output=True, text=True, timeout=60)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        # nobody must reach the socket through the directories
        os.chmod(self.tmp.path, 0o755)

    def daemon(self, config="", args=(), start=True):
        d = Daemon(self.tmp, pfs=PFS, plugins=[test_plugin("plugin_good")],
                   config=config, args=list(args))
        if start:
            d.start()
            self.addCleanup(self._cleanup, d)
        return d

    def _cleanup(self, d):
        if d.proc is not None and d.proc.poll() is None:
            d.stop()


@unittest.skipUnless(can_switch_uid(), "needs root and setpriv to call as "
                     "another uid")
class Ipc(Base):
    def test_other_uid_refused_every_call(self):
        d = self.daemon("[security]\nrpc_socket_mode = 0666\n")
        for args in (("version",), ("devices",), ("job", "1"),
                     ("cancel", "1")):
            p = as_nobody(d.rpc_url, *args)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("STATUS_PERMISSION_DENIED", p.stderr)
            self.assertIn(f"uid {NOBODY}", p.stderr)
        log = d.wait_log("permission denied: uid 65534 gid 65534")
        self.assertTrue(log)
        self.assertIn("neither root nor vmigd's user", d.log())
        # the owner still gets everything
        self.assertEqual(d.vmigctl().run("version").returncode, 0)
        self.assertEqual(d.vmigctl().run("status").returncode, 0)

    def test_default_mode_keeps_others_out(self):
        d = self.daemon()
        mode = stat.S_IMODE(os.stat(d.rpc_url[len("ipc://"):]).st_mode)
        self.assertEqual(mode, 0o660)
        p = as_nobody(d.rpc_url, "version")
        self.assertEqual(p.returncode, 3, p.stdout + p.stderr)

    def test_read_group_makes_read_only_calls_only(self):
        d = self.daemon(f"[security]\nrpc_read_group = {NOGROUP}\n")
        # auto mode: the read group must be able to connect
        mode = stat.S_IMODE(os.stat(d.rpc_url[len("ipc://"):]).st_mode)
        self.assertEqual(mode, 0o666)
        for args in (("version",), ("devices",), ("status",)):
            p = as_nobody(d.rpc_url, *args)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # GetJob (answered off the loop) is read-only: the answer is hers
        p = as_nobody(d.rpc_url, "job", "99")
        self.assertEqual(p.returncode, 1)
        self.assertIn("STATUS_NOT_FOUND", p.stderr)
        # calls that change something are not, and do nothing
        for args in (("cancel", "99"), ("release", "t0/vf1"),
                     ("switchover", "99")):
            p = as_nobody(d.rpc_url, *args)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("STATUS_PERMISSION_DENIED", p.stderr)
            self.assertIn("read-only calls only", p.stderr)
        self.assertIn("is in rpc_read_group", d.log())

    def test_group_makes_every_call_and_owns_the_socket(self):
        d = self.daemon(f"[security]\nrpc_group = {NOGROUP}\n")
        st = os.stat(d.rpc_url[len("ipc://"):])
        self.assertEqual(st.st_gid, NOGROUP)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o660)
        p = as_nobody(d.rpc_url, "cancel", "99")
        self.assertEqual(p.returncode, 1)
        self.assertIn("STATUS_NOT_FOUND", p.stderr)
        self.assertEqual(as_nobody(d.rpc_url, "version").returncode, 0)

    def test_unknown_group_stops_startup(self):
        d = self.daemon("[security]\nrpc_group = no-such-group-vmig\n",
                        start=False)
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn("rpc_group = no-such-group-vmig: no such group",
                      d.log())


@unittest.skipUnless(can_switch_uid(), "needs root and setpriv to call as "
                     "another uid")
class FdSocket(Base):
    """The fd socket (api_fds.c) authorizes like the ipc control socket:
    a caller of another uid is answered PERMISSION_DENIED even when the
    socket's mode lets it connect, and its fds are not kept."""

    def as_nobody_raw(self, path, data):
        code = ("import socket, sys\n"
                "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
                "s.connect(sys.argv[1])\n"
                "s.send(bytes.fromhex(sys.argv[2]))\n"
                "print(s.recv(4096).hex())\n")
        p = subprocess.run(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}",
             "--clear-groups", "/usr/bin/python3", "-c", code, path,
             data.hex()], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return vmig.pb.AttachFdsResponse.FromString(
            bytes.fromhex(p.stdout.strip())).status

    def test_other_uid_refused(self):
        d = self.daemon("[security]\nrpc_socket_mode = 0666\n")
        path = d.rpc_url[len("ipc://"):] + ".fds"
        os.chmod(path, 0o666)   # as if an operator had opened it up
        req = vmig.pb.AttachFdsRequest(target="t0/vf1").SerializeToString()
        st = self.as_nobody_raw(path, req)
        self.assertEqual(st.code, vmig.pb.STATUS_PERMISSION_DENIED,
                         st.message)
        self.assertIn(f"uid {NOBODY}", st.message)
        self.assertIn("AttachFds refused to uid 65534", d.log())
        # the owner is still served
        path = os.path.join(self.tmp.path, "devfd")
        with open(path, "w") as f:
            f.write("vf1-device\n")
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        d.client().attach_fds("t0/vf1", {"device": fd})


class StreamPolicy(Base):
    """[security] stream_allow / stream_require_tls applied at
    StartMigration: a URL the policy refuses is PERMISSION_DENIED before
    any device is touched (no job, the VF free and as it was)."""

    def start(self, d, url):
        mem = os.path.join(self.tmp.path, "mem")
        with open(mem, "wb") as f:
            f.truncate(1 << 20)
        return d.client().call(vmig.pb.Request(
            start_migration=vmig.pb.StartMigrationRequest(
                device="t0/vf1", dest_url=url, token=b"x" * 32,
                regions=[vmig.pb.MemoryRegion(path=mem, iova=0,
                                              length=1 << 20)])))

    def test_allow_list(self):
        d = self.daemon("[security]\nstream_allow = 10.0.0.0/8, "
                        "dst1.example\n")
        for url in ("tcp://192.0.2.7:5000", "tcp://dst2.example:5000"):
            with self.assertRaises(vmig.PermissionDenied) as cm:
                self.start(d, url)
            self.assertIn("does not send memory there",
                          cm.exception.message)
            self.assertIn(url, cm.exception.message)
        self.assertIn("StartMigration refused: stream URL", d.log())
        c = d.client()
        self.assertEqual(list(c.list_jobs(include_finished=True)), [])
        self.assertEqual([x.job_id for x in c.list_devices().devices
                          if x.name == "t0/vf1"], [0])

    def test_require_tls(self):
        d = self.daemon("[security]\nstream_require_tls = yes\n")
        with self.assertRaises(vmig.PermissionDenied) as cm:
            self.start(d, "tcp://127.0.0.1:5000")
        self.assertIn("not tls+tcp://", cm.exception.message)


class PlainTcp(Base):
    def test_refused_without_insecure(self):
        d = self.daemon(args=["--rpc-tcp-url", "tcp://127.0.0.1:0"],
                        start=False)
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn("a plain TCP control listener lets anyone", d.log())
        self.assertIn("rpc_insecure_tcp = yes", d.log())

    def test_insecure_warns_and_serves(self):
        d = self.daemon(args=["--rpc-tcp-url", "tcp://127.0.0.1:0",
                              "--rpc-insecure-tcp", "yes"])
        with vmig.Client(d.tcp_url()) as c:
            c.get_version()
        self.assertIn("rpc_insecure_tcp = yes: anyone who can reach", d.log())


@unittest.skipUnless(have_openssl(), "needs openssl to make certificates")
class Tls(Base):
    def setUp(self):
        super().setUp()
        self.ca = CA(self.tmp.path, "ca")
        self.other = CA(self.tmp.path, "other-ca")
        self.server = self.ca.issue("vmigd", server=True)
        self.good = self.ca.issue("operator")

    def tls_daemon(self, client_ca=None):
        return self.daemon(
            "[security]\n"
            f"tls_ca_file = {self.ca.cert}\n"
            f"tls_cert_file = {self.server.cert}\n"
            f"tls_key_file = {self.server.key}\n" +
            (f"rpc_client_ca_file = {client_ca}\n" if client_ca else ""),
            args=["--rpc-tcp-url", "tls+tcp://127.0.0.1:0"])

    def client(self, url, cert=None):
        kw = dict(tls_ca=self.ca.cert, tls_server_name="localhost")
        if cert is not None:
            kw.update(tls_cert=cert.cert, tls_key=cert.key)
        return vmig.Client(url, timeout_ms=5000, **kw)

    def assertRefused(self, url, cert):
        with self.assertRaises(vmig.ConnectError) as e:
            with self.client(url, cert) as c:
                c.get_version()
        self.assertIn("TLS", str(e.exception))

    def test_certificates(self):
        d = self.tls_daemon()
        url = d.tcp_url()
        self.assertTrue(url.startswith("tls+tcp://127.0.0.1:"), url)
        self.assertRefused(url, None)
        self.assertRefused(url, self.other.issue("stranger"))
        self.assertRefused(url, self.ca.issue("old", expired=True))
        with self.client(url, self.good) as c:
            self.assertTrue(c.get_version().version)
        # vmigctl too
        p = Vmigctl(url).run("--tls-ca", self.ca.cert, "--tls-cert",
                             self.good.cert, "--tls-key", self.good.key,
                             "--tls-server-name", "localhost", "version",
                             check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = Vmigctl(url).run("--tls-ca", self.ca.cert, "--tls-server-name",
                             "localhost", "version", check=False)
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_tls_without_files_stops_startup(self):
        d = self.daemon(args=["--rpc-tcp-url", "tls+tcp://127.0.0.1:0"],
                        start=False)
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn("needs [security] tls_cert_file", d.log())
        d = self.daemon("[security]\n"
                        f"tls_ca_file = {self.ca.cert}\n"
                        f"tls_cert_file = {self.server.cert}\n"
                        f"tls_key_file = {self.ca.cert}\n",
                        args=["--rpc-tcp-url", "tls+tcp://127.0.0.1:0"],
                        start=False)
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn(self.server.cert, d.log())

    def test_reload_takes_a_new_client_ca(self):
        d = self.tls_daemon()
        url = d.tcp_url()
        newcomer = self.other.issue("newcomer")
        with self.client(url, self.good) as c:
            c.get_version()
        self.assertRefused(url, newcomer)
        d.write_config(extra=d.extra_config +
                       f"rpc_client_ca_file = {self.other.cert}\n")
        d.signal(signal.SIGHUP)
        d.wait_log("listens with the new TLS credentials")
        wait_for(lambda: "configuration reloaded" in d.log(), "the reload")
        with self.client(url, newcomer) as c:
            c.get_version()
        self.assertRefused(url, self.good)
        # a reload with the same files changes nothing
        d.signal(signal.SIGHUP)
        wait_for(lambda: d.log().count("configuration reloaded") == 2,
                 "the second reload")
        self.assertEqual(d.log().count("with the new TLS credentials"), 1)


if __name__ == "__main__":
    unittest.main()
