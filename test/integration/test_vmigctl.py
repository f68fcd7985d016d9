#!/usr/bin/python3
"""vmigctl's command line: numbers, options, --help, and --json output.

- Every numeric option goes through one strict parser: a sign, a
  fraction, junk, an overflow or a value out of the option's range is a
  usage error (exit 2) that names the option, before any call.
- Global options (--json, --connect, --timeout) are taken anywhere before
  `--`, unless the command has an option of that name (migrate's and
  policy's --timeout are theirs); every command's --help prints its usage
  and never calls the daemon.
- With --json, stdout is JSON only: one object per line for the streams
  (wait, migrate --wait, jobs --watch, watch); progress goes to stderr.
- watch prints a decision's reason once, and a line with numbers for
  progress events.

A command that got past its parsing against a URL where nobody listens
exits 3 (unreachable): that is how the tests below see that a value was
accepted without a daemon.

Run by make check, or by hand:
    VMIG_BUILDDIR=_build/plain /usr/bin/python3 test/integration/test_vmigctl.py
"""

import json
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmigtest import (Daemon, TempDir, Vmigctl, test_plugin,  # noqa: E402
                      vmigctl_path, wait_for, LIVENESS_S)
from test_migration_lib import MigrationCase, DEVICE  # noqa: E402

REGION = "/dev/shm/x,iova=0,size=1M"
MIGRATE = ["migrate", "t0/vf1", "--to", "tcp://127.0.0.1:1", "--token",
           "00", "--region", REGION]
U64_MAX = str(2 ** 64 - 1)


def commands():
    """The command names vmigctl --help lists."""
    out = subprocess.run([vmigctl_path(), "--help"], capture_output=True,
                         text=True, check=True).stdout
    names = []
    for line in out.split("Commands:\n", 1)[1].splitlines():
        if line.startswith("  ") and line.strip():
            names.append(line.split()[0])
    return names


def json_lines(text):
    """Every line of text parsed as one JSON object (fails otherwise)."""
    lines = text.splitlines()
    return [json.loads(line) for line in lines]


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)
        self.nobody = Vmigctl(self.tmp.ipc_url("nobody.sock"))

    def run_ctl(self, *args, **kw):
        return self.nobody.run(*args, check=False, **kw)

    def daemon(self):
        d = Daemon(self.tmp, pfs=[("t0", "testdev", "vfs=4")],
                   plugins=[test_plugin("plugin_good")])
        d.start()
        self.addCleanup(self._stop, d)
        return d

    def _stop(self, d):
        if d.proc.poll() is None:
            d.stop()


class Numbers(Base):
    """One strict, range-checked parser for every numeric option."""

    # (arguments up to the number, option named in the message, good values)
    OPTIONS = [
        (["--timeout"], "--timeout", ["1", "86400000"], "version"),
        (["watch", "--count"], "--count", ["1", "4294967295"], None),
        (MIGRATE + ["--downtime"], "--downtime", ["1", "2000000"], None),
        (MIGRATE + ["--ceiling"], "--ceiling", ["300", "2000000"], None),
        (MIGRATE + ["--bandwidth"], "--bandwidth", ["65536", "1G", "2MiB"],
         None),
        (MIGRATE + ["--timeout"], "--timeout", ["1", "604800"], None),
        (MIGRATE + ["--forced-downtime"], "--forced-downtime", ["1"], None),
        (MIGRATE + ["--max-iterations"], "--max-iterations", ["1"], None),
        (MIGRATE + ["--priority"], "--priority", ["0", "4294967295"], None),
        (["policy", "3", "--downtime"], "--downtime", ["1"], None),
        (["policy", "3", "--bandwidth"], "--bandwidth", ["64K"], None),
        (["policy", "3", "--timeout"], "--timeout", ["60"], None),
    ]
    BAD = ["-3", "-1", U64_MAX, str(2 ** 64), "x", "", " 5", "+5", "5x",
           "1.5", "1e3", "0x10"]

    def test_bad_numbers_are_usage_errors(self):
        for pre, opt, _, tail in self.OPTIONS:
            for bad in self.BAD:
                args = pre + [bad] + ([tail] if tail else [])
                with self.subTest(args=args):
                    p = self.run_ctl(*args)
                    self.assertEqual(p.returncode, 2, p.stderr)
                    self.assertIn(f"{opt} {bad}: not ", p.stderr)
                    self.assertEqual(p.stdout, "")

    def test_zero_where_zero_means_nothing(self):
        for args in (["watch", "--count", "0"],
                     ["--timeout", "0", "version"],
                     MIGRATE + ["--downtime", "0"],
                     ["policy", "3", "--timeout", "0"]):
            with self.subTest(args=args):
                p = self.run_ctl(*args)
                self.assertEqual(p.returncode, 2, p.stderr)

    def test_good_numbers_pass(self):
        for pre, _, goods, tail in self.OPTIONS:
            for good in goods:
                args = pre + [good] + ([tail] if tail else [])
                with self.subTest(args=args):
                    p = self.run_ctl(*args)
                    self.assertEqual(p.returncode, 3, p.stderr)

    def test_ids_and_regions(self):
        for args in (["job", "-1"], ["job", "0"], ["job", "x"],
                     ["wait", U64_MAX + "0"], ["cancel", "+7"],
                     ["switchover", "7K"],
                     ["prepare", "t0/vf1", "--region",
                      "/dev/shm/x,iova=-1,size=1M"],
                     ["prepare", "t0/vf1", "--region",
                      "/dev/shm/x,iova=0,size=0"],
                     ["prepare", "t0/vf1", "--region",
                      "/dev/shm/x,iova=0,size=17179869184G"],
                     ["prepare", "t0/vf1", "--region",
                      "/dev/shm/x,iova=0,size=1M,page=4294967296"]):
            with self.subTest(args=args):
                p = self.run_ctl(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
        for args in (["job", U64_MAX], ["prepare", "t0/vf1", "--region",
                     "/dev/shm/x,iova=0x100000000,size=16M,page=4K"]):
            with self.subTest(args=args):
                self.assertEqual(self.run_ctl(*args).returncode, 3)


class Options(Base):
    """Global options anywhere before --; --help everywhere."""

    def test_every_command_has_help_without_the_daemon(self):
        names = commands()
        self.assertIn("migrate", names)
        for name in names:
            for flag in ("--help", "-h"):
                with self.subTest(command=name, flag=flag):
                    p = self.run_ctl(name, flag)
                    self.assertEqual(p.returncode, 0, p.stderr)
                    self.assertTrue(p.stdout.startswith(
                        f"usage: vmigctl [global options] {name}"), p.stdout)
                    self.assertEqual(p.stderr, "")
        # after other arguments too, and even after a bad one
        p = self.run_ctl(*MIGRATE, "--downtime", "x", "--help")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--forced-downtime", p.stdout)

    def test_global_options_after_the_command(self):
        d = self.daemon()
        ctl = [vmigctl_path()]
        for args in (["devices", "--json"], ["devices", "-j"],
                     ["devices", "t0", "--json"],
                     ["devices", "--connect", d.rpc_url, "--json"],
                     ["devices", f"--connect={d.rpc_url}", "--json"],
                     ["status", "--timeout", "5000", "--json"],
                     ["status", "-t5000", "-j"],
                     [f"-c{d.rpc_url}", "status", "--timeout=5000", "-j"]):
            with self.subTest(args=args):
                full = ctl + args
                if d.rpc_url not in " ".join(args):
                    full = ctl + ["--connect", d.rpc_url] + args
                p = subprocess.run(full, capture_output=True, text=True,
                                   timeout=LIVENESS_S)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertEqual(json.loads(p.stdout)["status"]["code"],
                                 "STATUS_OK")

    def test_command_options_win_over_global_ones(self):
        # 700000 is a valid global --timeout (ms) but not migrate's (s):
        p = self.run_ctl(*MIGRATE, "--timeout", "700000")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--timeout 700000: not a number of seconds from 1 "
                      "to 604800", p.stderr)
        p = self.run_ctl("--timeout", "700000", *MIGRATE)
        self.assertEqual(p.returncode, 3, p.stderr)

    def test_nothing_after_double_dash_is_an_option(self):
        d = self.daemon()
        p = d.vmigctl().run("cancel", "7", "--", "--json", check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("job 7: no such job", p.stderr)
        self.assertEqual(p.stdout, "")
        p = d.vmigctl().run("cancel", "7", "--json", "--", "--help",
                            check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(json.loads(p.stdout)["status"]["code"],
                         "STATUS_NOT_FOUND")

    def test_unknown_options(self):
        for args, words in ((["--bogus", "version"], "--bogus"),
                            (["devices", "--bogus"], "--bogus"),
                            (["version", "--json", "extra"], "extra")):
            with self.subTest(args=args):
                p = self.run_ctl(*args)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)


class Streams(MigrationCase):
    """--json output of the streams, with a real migration to show."""

    VFS = 2

    def ctl(self, host):
        return Vmigctl(host.daemon.rpc_url)

    def test_json_streams_are_json_lines(self):
        self.pair(1)
        watch = self.ctl(self.src).popen("watch", json_out=True)
        wait_for(lambda: watch.stderr.readline().startswith(
            "vmigctl: watching"), "vmigctl watch to subscribe")
        prep = self.prepare(1, dict(verify=True))
        migrate = self.ctl(self.src).popen(
            "migrate", DEVICE % 1, "--to", prep.stream_url, "--token",
            prep.token.hex(), "--region",
            f"{self.src.mem[1]},iova=0x100000000,size=16M", "--bulk",
            "--verify", "--wait", json_out=True)
        # jobs --watch ends once no job is live: start it once one exists
        wait_for(lambda: self.src.client.list_jobs(True),
                 "the source job")
        p = self.ctl(self.src).run("jobs", "--watch", json_out=True)
        snaps = json_lines(p.stdout)
        self.assertGreaterEqual(len(snaps), 1, p.stdout)
        self.assertEqual(snaps[-1]["list_jobs"]["jobs"][0]["phase"],
                         "PHASE_COMPLETED")

        out, err = migrate.communicate(timeout=LIVENESS_S)
        self.assertEqual(migrate.returncode, 0, out + err)
        objs = json_lines(out)
        self.assertGreaterEqual(len(objs), 2, out)
        jid = int(objs[0]["start_migration"]["job_id"])
        self.assertEqual(objs[-1]["get_job"]["job"]["phase"],
                         "PHASE_COMPLETED")
        for o in objs[1:]:
            self.assertEqual(int(o["get_job"]["job"]["id"]), jid)
        self.assertIn(f"job {jid}", err, "progress goes to stderr")

        # wait on a finished job: one line, the final state
        p = self.ctl(self.src).run("wait", str(jid), json_out=True)
        objs = json_lines(p.stdout)
        self.assertEqual(len(objs), 1, p.stdout)
        self.assertEqual(objs[0]["get_job"]["job"]["phase"],
                         "PHASE_COMPLETED")

        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=LIVENESS_S)
        self.assertEqual(watch.returncode, 0, err)
        kinds = [e.get("kind") for e in json_lines(out)]
        self.assertIn("KIND_PHASE", kinds)
        self.assertIn("KIND_DECISION", kinds)

    def test_watch_prints_reasons_once_and_progress_numbers(self):
        self.pair(1)
        watch = self.ctl(self.src).popen("watch")
        wait_for(lambda: watch.stderr.readline().startswith(
            "vmigctl: watching"), "vmigctl watch to subscribe")
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)
        decisions = [d.reason for d in self.src.client.get_job(jid).decisions]
        watch.send_signal(signal.SIGINT)
        out, err = watch.communicate(timeout=LIVENESS_S)
        self.assertEqual(watch.returncode, 0, err)
        lines = out.splitlines()
        self.assertTrue(decisions)
        for reason in decisions:
            hits = [x for x in lines if " decision " in x and reason in x]
            self.assertEqual(len(hits), 1, f"{reason!r} in:\n{out}")
        for line in lines:
            for reason in decisions:
                self.assertLessEqual(line.count(reason), 1, line)
        for line in lines:
            # "HH:MM:SS.mmm #seq job N sim0/vf1 <something>"
            self.assertGreater(len(line.split()), 5, f"{line!r} in:\n{out}")
        self.assertTrue(any(" progress " in x for x in lines), out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
