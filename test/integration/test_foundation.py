#!/usr/bin/python3
"""Foundation integration tests: the real vmigd, vmigctl and Python client.

Version, devices, status, JSON output, a daemon that is down, every kind
of bad input (and the daemon answering afterwards), bad start-up
configurations, SIGHUP reload, SIGTERM/SIGINT exit 0, sd_notify messages,
socket permissions, concurrent clients, events.

Run by make check (VMIG_BUILDDIR set), or by hand:
    VMIG_BUILDDIR=_build/plain /usr/bin/python3 test/integration/test_foundation.py
"""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmigtest  # noqa: E402
from vmigtest import (Daemon, NotifySocket, TempDir, Vmigctl,  # noqa: E402
                      notify_backend, srcdir, test_plugin, vmig, vmigd_path,
                      wait_for)

pb = vmig.pb

PFS = [("t0", "testdev", "vfs=4"),
       ("bad", "plugin-badabi", "whatever"),
       ("none", "nosuch", "x"),
       ("down", "testdev", "vfs=2,fail=no such device node")]


def plugins():
    return [test_plugin("plugin_good"), test_plugin("plugin_badabi"),
            test_plugin("plugin_nosym")]


class Base(unittest.TestCase):
    config = "[limits]\nmax_outgoing = 3\n"

    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)

    def daemon(self, start=True, **kw):
        kw.setdefault("pfs", PFS)
        kw.setdefault("plugins", plugins())
        kw.setdefault("config", self.config)
        d = Daemon(self.tmp, **kw)
        if start:
            d.start()
            self.addCleanup(self._cleanup, d)
        return d

    def _cleanup(self, d):
        if d.proc is not None and d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()
        d._close_log()


class Info(Base):
    """What the daemon tells about itself, by CLI and by client."""

    def test_version(self):
        d = self.daemon()
        out = d.vmigctl().run("version").stdout
        self.assertIn("vmigd 0.1.0 at " + d.rpc_url, out)
        self.assertIn("control API 1", out)
        v = d.client().get_version()
        self.assertEqual(v.version, "0.1.0")
        self.assertEqual(v.api_version, 1)
        self.assertEqual(v.backend_abi_major, 2)
        self.assertEqual(v.nng_version, vmig._nng.version())
        j = d.vmigctl().json("version")
        self.assertEqual(j["status"]["code"], "STATUS_OK")
        self.assertEqual(j["get_version"]["version"], v.version)
        d.stop()

    def test_pf_opening_is_visible_and_blocks_nothing(self):
        # ABI 2: a PF opens asynchronously. While a slow one opens, the
        # daemon answers, shows it "opening", and READY waits for it.
        n = NotifySocket(self.tmp)
        self.addCleanup(n.close)
        d = self.daemon(start=False, pfs=PFS + [
            ("slow", "testdev", "vfs=1,slow=1500")], env=n.env())
        d.start(wait=False)
        self.addCleanup(self._cleanup, d)

        def answers():
            try:
                with d.client(timeout_ms=2000) as c:
                    return {p.name: p for p in c.list_devices().pfs}
            except vmig.VmigError:
                return None
        wait_for(lambda: answers() is not None, "vmigd to answer")
        pfs = answers()
        self.assertEqual(pfs["slow"].state, pb.PF_OPENING)
        self.assertFalse(pfs["slow"].online)
        self.assertEqual(pfs["t0"].state, pb.PF_ONLINE)
        self.assertIn("opening", d.vmigctl().run("devices").stdout)
        with self.assertRaises(vmig.Unavailable) as e:
            d.client().prepare_incoming("slow/vf1", [dict(
                path="/nonexistent", iova=0, length=4096)])
        self.assertIn("PF slow is still opening", e.exception.message)
        n.sock.setblocking(False)
        try:
            while True:
                n.messages.append(n.sock.recv(4096).decode())
        except BlockingIOError:
            pass
        n.sock.setblocking(True)
        self.assertNotIn("READY=1", "".join(n.messages))
        m = n.wait("READY=1")
        self.assertIn("STATUS=2/5 PFs online, 5 VFs", m)
        self.assertEqual(answers()["slow"].state, pb.PF_ONLINE)

    def test_devices(self):
        d = self.daemon()
        l = d.client().list_devices()
        self.assertEqual([b.name for b in l.backends], ["testdev"])
        pfs = {p.name: p for p in l.pfs}
        self.assertEqual(set(pfs), {"t0", "bad", "none", "down"})
        self.assertTrue(pfs["t0"].online)
        self.assertEqual(pfs["t0"].num_vfs, 4)
        self.assertFalse(pfs["bad"].online)
        self.assertIn("was refused: it was built for backend ABI 1, this "
                      "vmigd speaks ABI 2", pfs["bad"].error)
        self.assertIn("no backend named nosuch", pfs["none"].error)
        self.assertIn("no such device node", pfs["down"].error)
        self.assertEqual([x.name for x in l.devices],
                         ["t0/vf1", "t0/vf2", "t0/vf3", "t0/vf4"])
        dev = l.devices[2]
        self.assertEqual(dev.pf, "t0")
        self.assertEqual(dev.member_id, 3)
        self.assertEqual(dev.mode, pb.MODE_ACTIVE)
        # the test backend names no tracker (ABI 2): every page, always
        self.assertEqual(dev.caps.dirty_tracking, pb.DIRTY_NONE)
        self.assertEqual(dev.caps.tracker, pb.TRACKER_NONE)
        self.assertEqual(pfs["t0"].state, pb.PF_ONLINE)
        self.assertEqual(pfs["bad"].state, pb.PF_OFFLINE)
        self.assertEqual(list(dev.caps.modes), [pb.MODE_ACTIVE,
                                                pb.MODE_STOPPED,
                                                pb.MODE_FROZEN])

        ctl = d.vmigctl()
        out = ctl.run("devices").stdout
        for s in ("testdev", "t0/vf4", "virtio-net", "none",
                  "bad offline: backend plugin-badabi"):
            self.assertIn(s, out)
        j = ctl.json("devices")
        self.assertEqual([x["name"] for x in j["list_devices"]["devices"]],
                         [x.name for x in l.devices])
        self.assertEqual(j["list_devices"]["devices"][0]["mode"],
                         "MODE_ACTIVE")
        one = ctl.json("devices", "t0")["list_devices"]
        self.assertEqual([p["name"] for p in one["pfs"]], ["t0"])
        # An unknown PF: exit 1, the status and a message naming it.
        p = ctl.run("devices", "nope", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("STATUS_NOT_FOUND: PF nope: no such PF (configured: "
                      "t0, bad, none, down)", p.stderr)
        with self.assertRaises(vmig.NotFound) as e:
            d.client().list_devices("nope")
        self.assertEqual(e.exception.code, pb.STATUS_NOT_FOUND)
        self.assertIn("PF nope", e.exception.message)
        # The wrong-ABI and symbol-less plugins were logged, not fatal.
        self.assertIn("plugin_badabi.so: refused", d.log())
        self.assertIn("plugin_nosym.so: refused: it does not export", d.log())
        d.stop()

    def test_status(self):
        d = self.daemon()
        s = d.client().status()
        self.assertEqual(s.pid, d.pid)
        self.assertEqual(s.limits.max_outgoing, 3)
        self.assertEqual(s.limits.max_incoming, 4)
        self.assertEqual(s.limits.max_message_bytes, 16 << 20)
        self.assertEqual(s.rpc_url, d.rpc_url)
        self.assertEqual(s.events_url, d.events_url)
        self.assertEqual(s.config_path, d.config_path)
        self.assertEqual(len(s.jobs_by_phase), 0)
        out = d.vmigctl().run("status").stdout
        self.assertIn(f"pid {d.pid}", out)
        self.assertIn("3 outgoing, 4 incoming", out)
        j = d.vmigctl().json("status")["get_daemon_status"]
        self.assertEqual(j["pid"], d.pid)
        self.assertGreater(j["rpc_requests"], s.rpc_requests)
        d.stop()

    def test_json_is_valid_everywhere(self):
        d = self.daemon()
        for cmd in (["version"], ["devices"], ["devices", "t0"], ["status"]):
            p = d.vmigctl().run(*cmd, json_out=True)
            j = json.loads(p.stdout)
            self.assertEqual(j["status"]["code"], "STATUS_OK", cmd)
        # Errors print the response as JSON too (and exit non-zero).
        p = d.vmigctl().run("devices", "nope", json_out=True, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertEqual(json.loads(p.stdout)["status"]["code"],
                         "STATUS_NOT_FOUND")
        d.stop()

    def test_status_codes_match_the_proto(self):
        for v in pb.StatusCode.DESCRIPTOR.values:
            if v.number == 0:
                continue
            cls = vmig.errors.BY_CODE[v.number]
            self.assertEqual(cls.name, v.name)
            self.assertTrue(issubclass(cls, vmig.VmigError))


class Down(Base):
    """A daemon that is not there: clear errors naming the URL."""

    def test_vmigctl_daemon_down(self):
        url = self.tmp.ipc_url("nobody.sock")
        p = Vmigctl(url).run("version", check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn(f"cannot reach vmigd at {url}", p.stderr)
        self.assertIn("is vmigd running?", p.stderr)
        p = Vmigctl("tcp://127.0.0.1:1").run("status", check=False)
        self.assertEqual(p.returncode, 3)
        self.assertIn("tcp://127.0.0.1:1", p.stderr)

    def test_client_daemon_down(self):
        url = self.tmp.ipc_url("nobody.sock")
        with self.assertRaises(vmig.ConnectError) as e:
            vmig.Client(url)
        self.assertIn(url, str(e.exception))
        self.assertEqual(e.exception.code, pb.STATUS_UNAVAILABLE)

    def test_daemon_stopped_under_the_client(self):
        d = self.daemon()
        c = d.client(timeout_ms=3000)
        c.get_version()
        d.stop()
        with self.assertRaises(vmig.Unavailable):
            c.get_version()

    def test_usage_errors(self):
        ctl = Vmigctl(self.tmp.ipc_url("x.sock"))
        for args, words in (
                (["frobnicate"], "unknown command 'frobnicate'"),
                (["watch", "--count", "0"], "--count 0: not a whole number "
                 "from 1 to"),
                (["--timeout", "abc", "version"], "--timeout abc: not a "
                 "number of milliseconds"),
                (["version", "extra"], "usage: vmigctl [global options] "
                 "version"),
                ([], "usage: vmigctl")):
            p = ctl.run(*args, check=False)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn(words, p.stderr, args)


class BadInput(Base):
    """Each kind of bad input: a clear error; the daemon keeps serving."""
    config = "[daemon]\nmax_message_bytes = 8K\n"

    def assert_serving(self, d):
        self.assertEqual(d.client().get_version().api_version, 1)

    def raw(self, c, data):
        r = pb.Response()
        r.ParseFromString(c.call_raw(data))
        return r

    def test_garbage_and_truncated(self):
        d = self.daemon()
        c = d.client()
        r = self.raw(c, b"\x10\x2a\xff\xff\xff\xff")
        self.assertEqual(r.status.code, pb.STATUS_BAD_REQUEST)
        self.assertEqual(r.request_id, 42)
        self.assertIn("does not decode as vmig.v1.Request", r.status.message)
        good = pb.Request(request_id=5, list_devices=pb.ListDevicesRequest(
            pf="t0")).SerializeToString()
        r = self.raw(c, good[:-1])
        self.assertEqual(r.status.code, pb.STATUS_BAD_REQUEST)
        self.assertEqual(r.request_id, 5)
        self.assert_serving(d)
        d.stop()

    def test_no_call_and_unknown_call(self):
        d = self.daemon()
        c = d.client()
        with self.assertRaises(vmig.Unimplemented) as e:
            c.call(pb.Request())
        self.assertIn("request names no call", e.exception.message)
        # A call from a newer client: field 99 of Request.
        r = self.raw(c, b"\x10\x07\x9a\x06\x00")
        self.assertEqual(r.status.code, pb.STATUS_UNIMPLEMENTED)
        self.assertEqual(r.request_id, 7)
        self.assertIn("unknown call (Request field 99)", r.status.message)
        with self.assertRaises(vmig.Unimplemented) as e:
            c.call(pb.Request(api_version=2,
                              get_version=pb.GetVersionRequest()))
        self.assertIn("api_version 2 is not supported", e.exception.message)
        self.assert_serving(d)
        d.stop()

    def test_too_large(self):
        d = self.daemon(rpc_tcp=True)
        c = d.client()
        req = pb.Request(request_id=11,
                         list_devices=pb.ListDevicesRequest(pf="x" * 10000))
        with self.assertRaises(vmig.ResourceExhausted) as e:
            c.call(req)
        size = len(req.SerializeToString())
        self.assertIn(f"request of {size} bytes is over the limit of 8192 "
                      "bytes (max_message_bytes)", e.exception.message)
        self.assertEqual(e.exception.response.request_id, 11)
        # Over ipc (local callers, trusted by the socket's file mode) even
        # a request over twice the limit is answered ...
        with self.assertRaises(vmig.ResourceExhausted):
            c.call(pb.Request(request_id=12, list_devices=pb.ListDevicesRequest(
                pf="x" * 40000)))
        # ... over tcp, above the hard cap (2 x the limit), nng drops the
        # connection.
        c2 = vmig.Client(d.tcp_url(), timeout_ms=3000)
        with self.assertRaises(vmig.Unavailable):
            c2.call_raw(b"\x00" * 40000)
        c2.close()
        self.assert_serving(d)
        self.assertEqual(vmig.Client(d.tcp_url()).get_version().api_version,
                         1)
        d.stop()

    def test_invalid_utf8(self):
        d = self.daemon()
        r = self.raw(d.client(), b"\x10\x05\x5a\x04\x0a\x02\xff\xfe")
        self.assertEqual(r.status.code, pb.STATUS_INVALID_ARGUMENT)
        self.assertIn("ListDevicesRequest.pf is not valid UTF-8",
                      r.status.message)
        self.assert_serving(d)
        d.stop()

    def test_unknown_pf_and_job_calls(self):
        d = self.daemon()
        c = d.client()
        with self.assertRaises(vmig.NotFound):
            c.list_devices("sim9")
        with self.assertRaises(vmig.InvalidArgument) as e:
            c.call(pb.Request(start_migration=pb.StartMigrationRequest(
                device="t0/vf9")))
        self.assertIn("device t0/vf9: dest_url is empty",
                      e.exception.message)
        # Each error names the device once, wherever it was found: the
        # backend's lookup, the job's own checks, the memory map.
        nowhere = os.path.join(self.tmp.path, "nowhere")
        for dev, regions, words in (
                ("t0/vf9", [dict(path=nowhere, iova=0, length=1 << 20)],
                 "device t0/vf9: no such device on PF t0 (it has 4 VFs)"),
                ("t0/vf1", [], "device t0/vf1: no memory regions"),
                ("t0/vf1", [dict(path=nowhere, iova=0, length=1 << 20)],
                 "device t0/vf1: region 0 (" + nowhere + "): ")):
            for call in (lambda: c.prepare_incoming(dev, regions),
                         lambda: c.start_migration(
                             dev, regions, "tcp://127.0.0.1:1", b"\0")):
                with self.assertRaises(vmig.VmigError) as e:
                    call()
                self.assertIn(words, e.exception.message)
                self.assertEqual(e.exception.message.count("device t0/"),
                                 1, e.exception.message)
        with self.assertRaises(vmig.NotFound) as e:
            c.get_job(42)
        self.assertIn("job 42: no such job", e.exception.message)
        self.assert_serving(d)
        s = c.status()
        self.assertGreaterEqual(s.rpc_errors, 2)
        d.stop()

    def test_many_clients_at_once(self):
        d = self.daemon()
        errors = []

        def work():
            try:
                with d.client() as c:
                    for _ in range(40):
                        if c.get_version().api_version != 1:
                            errors.append("wrong version")
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
        before = d.client().status().rpc_requests
        threads = [threading.Thread(target=work) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        # 320 calls, plus the status call itself.
        self.assertEqual(d.client().status().rpc_requests, before + 321)
        d.stop()


class Fds(Base):
    """A VMM hands device fds over (SCM_RIGHTS on the fd socket next to
    the ipc control socket): they reach the plugin's dev_open / pf_open."""

    def file(self, name, text):
        path = os.path.join(self.tmp.path, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        fd = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, fd)
        return fd

    def raw(self, path, data, fds=()):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(path)
            socket.send_fds(s, [data], list(fds))
            return pb.AttachFdsResponse.FromString(s.recv(4096)).status

    def test_fds_reach_the_plugin(self):
        d = self.daemon(pfs=PFS + [("needy", "testdev",
                                    "vfs=1,need=container")])
        c = d.client()
        path = c.status().fd_socket
        self.assertEqual(path, d.rpc_url[len("ipc://"):] + ".fds")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
        # a PF that needs its fd: offline until it comes, then opened
        pfs = {p.name: p for p in c.list_devices().pfs}
        self.assertIn("no container fd handed over", pfs["needy"].error)
        c.attach_fds("needy", {"container": self.file("c", "box")})
        wait_for(lambda: {p.name: p for p in c.list_devices().pfs}[
            "needy"].online, "the PF to open with its fd")
        with self.assertRaises(vmig.FailedPrecondition) as e:
            c.attach_fds("needy", {"container": self.file("c2", "x")})
        self.assertIn("PF needy is online", e.exception.message)
        # a device's fds: shown by name, given to its next open
        c.attach_fds("t0/vf1", {"device": self.file("d", "vf1-device"),
                                "container": self.file("k", "vf1-box")})
        dev = [x for x in c.list_devices("t0").devices
               if x.name == "t0/vf1"][0]
        self.assertEqual(list(dev.fds), ["device", "container"])
        mem = os.path.join(self.tmp.path, "mem")
        with open(mem, "wb") as f:
            f.truncate(1 << 20)
        prep = c.prepare_incoming("t0/vf1", [dict(path=mem, iova=0,
                                                  length=1 << 20)])
        log = d.log()
        self.assertIn("dev_open vf1: device=vf1-device", log)
        self.assertIn("dev_open vf1: container=vf1-box", log)
        # not while a job holds the device
        with self.assertRaises(vmig.FailedPrecondition) as e:
            c.attach_fds("t0/vf1", {"device": self.file("d2", "y")})
        self.assertIn(f"busy in job {prep.job_id}", e.exception.message)
        c.cancel_job(prep.job_id)
        # bad requests: each answered, the daemon serves on
        cases = [(b"\xff\xff", (), pb.STATUS_BAD_REQUEST, "not an "),
                 (pb.AttachFdsRequest(target="t0/vf2", names=["a", "b"])
                  .SerializeToString(), (self.file("e", "1"),),
                  pb.STATUS_INVALID_ARGUMENT, "2 names for 1 fds"),
                 (pb.AttachFdsRequest(target="t0/vf9", names=["a"])
                  .SerializeToString(), (self.file("f", "1"),),
                  pb.STATUS_NOT_FOUND, "t0/vf9"),
                 (pb.AttachFdsRequest(target="t0/vf2", names=["a"] * 5)
                  .SerializeToString(), [self.file("g", "1")] * 5,
                  pb.STATUS_INVALID_ARGUMENT, "at most 4"),
                 (pb.AttachFdsRequest(names=["a"]).SerializeToString(),
                  (self.file("h", "1"),), pb.STATUS_INVALID_ARGUMENT,
                  "target is empty")]
        for data, fds, code, words in cases:
            st = self.raw(path, data, fds)
            self.assertEqual(st.code, code, st.message)
            self.assertIn(words, st.message)
        self.assertEqual(c.get_version().api_version, 1)
        d.stop()
        self.assertFalse(os.path.exists(path))


class Startup(Base):
    """Bad start-up: a clear message in the log and a non-zero exit."""

    def failing(self, **kw):
        d = self.daemon(start=False, **kw)
        code = d.run_to_exit()
        self.assertNotEqual(code, 0, d.log())
        return d

    def test_missing_plugin_dir(self):
        d = self.daemon(start=False)
        d.args = ["--plugin-dir", os.path.join(self.tmp.path, "nope")]
        self.assertEqual(d.run_to_exit(), 1, d.log())
        self.assertIn("plugin_dir " + os.path.join(self.tmp.path, "nope") +
                      ": No such file or directory", d.log())

    def test_unreadable_config(self):
        d = self.daemon(start=False)
        d.config_path = os.path.join(self.tmp.path, "missing.conf")
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn("missing.conf: cannot read it", d.log())

    def test_bad_config_value(self):
        d = self.failing(config="[limits]\n\nmax_per_pf = 0\n")
        self.assertIn("vmigd.conf:4: [limits] max_per_pf = 0: must be "
                      "between 1 and 1024", d.log())

    def test_bad_option(self):
        d = self.failing(args=["--rpc-workers", "lots"])
        self.assertIn("command line --rpc-workers: [daemon] rpc_workers = "
                      "lots: not a whole number", d.log())

    def test_rpc_url_in_use(self):
        first = self.daemon()
        second = Daemon(self.tmp, name="second", plugins=plugins())
        second.rpc_url = first.rpc_url
        self.assertEqual(second.run_to_exit(), 1)
        self.assertIn("address in use", second.log().lower())
        first.stop()

    def test_rpc_dir_missing(self):
        d = self.daemon(start=False)
        d.rpc_url = "ipc://" + os.path.join(self.tmp.path, "a", "b", "r.sock")
        self.assertEqual(d.run_to_exit(), 1)
        self.assertIn("cannot listen on " + d.rpc_url, d.log())

    def test_check_config(self):
        d = self.daemon(start=False)
        p = subprocess.run(d.command() + ["--check"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("[pf.t0]\nbackend = testdev\nspec = vfs=4", p.stdout)
        self.assertIn("max_outgoing = 3", p.stdout)
        self.assertIn("configuration OK", p.stderr)

    def test_check_fails_where_start_up_would(self):
        d = self.daemon(start=False)
        nope = os.path.join(self.tmp.path, "nope")
        for args, words in (
                (["--plugin-dir", nope],
                 f"plugin_dir {nope}: No such file or directory"),
                (["--rpc-url", "ipc://" + os.path.join(nope, "a", "r.sock")],
                 f"{nope}/a does not exist and neither does {nope}"),
                (["--events-url", "ipc://" + os.path.join(d.config_path,
                                                         "e.sock")],
                 f"events_url ipc://{d.config_path}/e.sock: cannot create "
                 f"a socket in {d.config_path}: not a directory")):
            with self.subTest(args=args):
                p = subprocess.run(d.command() + args + ["--check"],
                                   capture_output=True, text=True)
                self.assertEqual(p.returncode, 1, p.stderr)
                self.assertIn(words, p.stderr)
                self.assertIn("configuration not OK", p.stderr)
        # PFs whose backend will not load: warnings, as start-up logs them
        p = subprocess.run(d.command() + ["--check"], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("[pf.none] backend nosuch: no plugin of that name",
                      p.stderr)
        self.assertIn("[pf.bad] backend plugin-badabi was refused (it was "
                      "built for backend ABI 1, this vmigd speaks ABI 2",
                      p.stderr)
        self.assertIn("configuration OK, 4 warnings", p.stderr)

    def background(self, d, args=()):
        """Start d's command without --foreground; its exit status (the
        daemon's output goes to its log: a pipe would stay open)."""
        cmd = [a for a in d.command() if a != "--foreground"] + list(args)
        with open(d.log_path, "ab") as log:
            return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=log, timeout=60).returncode

    def test_background_start_failure_is_the_exit_status(self):
        d = self.daemon(start=False)
        nope = os.path.join(self.tmp.path, "nope")
        self.assertEqual(self.background(d, ["--plugin-dir", nope]), 1,
                         d.log())
        self.assertIn(f"plugin_dir {nope}: No such file or directory",
                      d.log())

    def test_background_start_answers_once_it_exits(self):
        d = self.daemon(start=False)
        self.assertEqual(self.background(d), 0, d.log())
        # no retry: the socket answers as soon as the command returned
        with vmig.Client(d.rpc_url, timeout_ms=60000) as c:
            pid = c.status().pid
        self.assertNotEqual(pid, 0)
        os.kill(pid, signal.SIGTERM)

        def gone():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    return f.read().split(") ")[1][0] == "Z"
            except FileNotFoundError:
                return True
        wait_for(gone, f"vmigd pid {pid} to stop")
        self.assertIn("stopped", d.log())

    def test_build_tree_plugins_without_plugin_dir(self):
        d = self.daemon(start=False, pfs=[])
        cmd = d.command()
        i = cmd.index("--plugin-dir")
        d.command = lambda: cmd[:i] + cmd[i + 2:]
        d.start()
        backends = d.client().list_devices().backends
        built = os.path.join(vmigtest.builddir(), "plugins", ".libs")
        self.assertIn("virtio-admin", [b.name for b in backends], d.log())
        for b in backends:
            self.assertEqual(os.path.dirname(b.path), built)
        d.stop()

    def test_example_config_is_valid(self):
        example = os.path.join(srcdir(), "systemd", "vmigd.conf")
        p = subprocess.run([vmigd_path(), "--config", example, "--check"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("rpc_url = ipc:///run/vmigd/vmigd.sock", p.stdout)


class Lifecycle(Base):
    """Signals, reload, sd_notify, sockets, events."""

    def test_sigterm_and_sigint_exit_0(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            d = self.daemon(name=f"d{int(sig)}")
            d.client().list_devices()
            self.assertEqual(d.stop(sig), 0)
            self.assertIn("shutting down", d.log())
            self.assertIn("stopped", d.log())
            # Its sockets are gone with it.
            self.assertFalse(os.path.exists(d.rpc_url[len("ipc://"):]))

    def test_socket_mode_0660(self):
        d = self.daemon()
        for url in (d.rpc_url, d.events_url):
            mode = stat.S_IMODE(os.stat(url[len("ipc://"):]).st_mode)
            self.assertEqual(mode, 0o660, url)
        d.stop()

    def test_tcp_listener(self):
        d = self.daemon(rpc_tcp=True)
        url = d.tcp_url()
        self.assertRegex(url, r"^tcp://127\.0\.0\.1:[1-9][0-9]*$")
        self.assertIn("vmigd 0.1.0", Vmigctl(url).run("version").stdout)
        d.stop()

    def test_sighup_reload(self):
        d = self.daemon(pfs=[("t0", "testdev", "vfs=4"),
                             ("down", "testdev", "vfs=2,fail=not yet")])
        c = d.client()
        self.assertEqual(c.status().limits.max_outgoing, 3)
        # New limits, a new PF, a PF fixed, a key that needs a restart.
        d.write_config(pfs=[("t0", "testdev", "vfs=4"),
                            ("down", "testdev", "vfs=2"),
                            ("t1", "testdev", "vfs=2,type=virtio-blk")],
                       extra="[limits]\nmax_outgoing = 5\n"
                             "[daemon]\nlog_level = debug\n"
                             "rpc_workers = 3\n")
        d.signal(signal.SIGHUP)
        wait_for(lambda: c.status().limits.max_outgoing == 5, "the reload")
        # PFs open asynchronously (ABI 2): a new or fixed PF is "opening"
        # for a moment after the reload has applied
        wait_for(lambda: all(p.online for p in c.list_devices().pfs),
                 "every PF online after the reload")
        l = c.list_devices()
        self.assertTrue(all(p.online for p in l.pfs), l.pfs)
        names = [x.name for x in l.devices]
        self.assertIn("t1/vf2", names)
        self.assertIn("down/vf1", names)
        self.assertEqual([x.type for x in l.devices if x.pf == "t1"],
                         ["virtio-blk", "virtio-blk"])
        self.assertIn("[daemon] rpc_workers changed from '16' to '3': it "
                      "takes effect at the next restart", d.log())
        # A broken config: reload refused, the running one stays.
        d.write_config(text="[limits]\nmax_outgoing = zero\n")
        d.signal(signal.SIGHUP)
        d.wait_log("reload failed, the running configuration stays")
        self.assertIn("max_outgoing = zero: not a whole number", d.log())
        self.assertEqual(c.status().limits.max_outgoing, 5)
        self.assertEqual(len(c.list_devices().pfs), 3)
        d.stop()

    def test_events(self):
        # Only PFs that stay online: a reload then publishes one event.
        d = self.daemon(pfs=[("t0", "testdev", "vfs=4")])
        c = d.client()
        self.assertEqual(c.watch_events(), d.events_url)
        # PUB/SUB: what is published before the subscription lands is
        # lost, so trigger until one arrives.
        with c.events(timeout_ms=500) as ev:
            def got():
                d.signal(signal.SIGHUP)
                try:
                    return next(ev)
                except vmig.Timeout:
                    return None
            e = wait_for(got, "a reload event")
        self.assertIn("configuration reloaded", e.message)
        self.assertGreater(e.seq, 0)
        self.assertGreater(e.unix_ms, 0)

        # vmigctl watch: one JSON object per line, --count stops it.
        w = d.vmigctl().popen("watch", "--count", "2", json_out=True)
        wait_for(lambda: d.signal(signal.SIGHUP) or w.poll() is not None,
                 "vmigctl watch to see two events", interval=0.3)
        out, err = w.communicate()
        self.assertEqual(w.returncode, 0, err)
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 2, out)
        for line in lines:
            self.assertIn("configuration reloaded", json.loads(line)["message"])
        seqs = [json.loads(line)["seq"] for line in lines]
        self.assertLess(seqs[0], seqs[1])
        d.stop()

    def test_watch_interrupted_exits_0(self):
        d = self.daemon()
        w = d.vmigctl().popen("watch")
        wait_for(lambda: w.stderr.readline().startswith("vmigctl: watching"),
                 "vmigctl watch to subscribe")
        w.send_signal(signal.SIGINT)
        w.wait(60)
        self.assertEqual(w.returncode, 0)
        w.stdout.close()
        w.stderr.close()
        d.stop()

    def journal_daemon(self, name, stream):
        """A daemon whose JOURNAL_STREAM is stream(log file's stat)."""
        d = self.daemon(start=False, name=name, args=["--debug"])
        open(d.log_path, "ab").close()
        st = os.stat(d.log_path)
        d.env = {"JOURNAL_STREAM": stream(st)}
        d.start()
        self.addCleanup(self._cleanup, d)
        # one line of each priority: a warning (a restart-only key
        # changed) and an error (a reload refused)
        d.write_config(extra="[daemon]\nrpc_workers = 3\n")
        d.signal(signal.SIGHUP)
        d.wait_log("takes effect at the next restart")
        d.write_config(text="[limits]\nmax_outgoing = zero\n")
        d.signal(signal.SIGHUP)
        d.wait_log("reload failed")
        d.stop()
        return d.log().splitlines()

    def test_journald_priorities(self):
        lines = self.journal_daemon(
            "journal", lambda st: f"{st.st_dev}:{st.st_ino}")
        prio = {"error": "<3>", "warn": "<4>", "info": "<6>",
                "debug": "<7>"}
        seen = set()
        for line in lines:
            level = line[3:].split(":", 1)[0]
            self.assertIn(level, prio, line)
            self.assertTrue(line.startswith(prio[level] + level + ": "),
                            line)
            seen.add(level)
        self.assertEqual(seen, set(prio), lines)
        self.assertTrue(any(x.startswith("<3>error: reload failed")
                            for x in lines), lines)

    def test_journal_stream_of_another_file(self):
        # Inherited by a process whose stderr went elsewhere: not ours.
        lines = self.journal_daemon(
            "notjournal", lambda st: f"{st.st_dev}:{st.st_ino + 1}")
        for line in lines:
            self.assertRegex(line, r"^\d\d:\d\d:\d\d\.\d{3} "
                             r"(error|warn|info|debug) vmigd: ")

    @unittest.skipUnless(notify_backend() == "sd_notify",
                         "vmigd built without libsystemd")
    def test_sd_notify(self):
        n = NotifySocket(self.tmp)
        self.addCleanup(n.close)
        d = self.daemon(env=n.env(watchdog_usec=400000))
        m = n.wait("READY=1")
        self.assertIn("STATUS=1/4 PFs online, 4 VFs", m)
        n.wait("WATCHDOG=1")
        d.signal(signal.SIGHUP)
        n.wait("RELOADING=1")
        m = n.wait("READY=1")
        self.assertIn("STATUS=", m)
        d.stop()
        n.wait("STOPPING=1")


if __name__ == "__main__":
    unittest.main(verbosity=2)
