#!/usr/bin/python3
"""test_top: `vmigctl top` as a person sees it, in a real terminal: tmux
(a private server), keys sent with send-keys, the screen read with
capture-pane.

Two migrations run from the source: vf1 held slow (pre-copy, pages
flowing), vf2 converged and waiting for a manual switchover (with the
policy's decisions). The screen must show both, with a progress bar,
rates, predicted against target downtime and the last decision; be
redrawn in place (one header, new numbers, never more lines than the
terminal has); be coloured unless NO_COLOR or --no-color; quit on q and
on Ctrl-C leaving the last screen readable. Away from a terminal it
prints plain snapshots.
"""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from test_migration_lib import MigrationCase, LIVENESS_S  # noqa: E402
from vmig import pb  # noqa: E402

COLS, ROWS = 132, 16
SGR_COLOUR = re.compile(r"\x1b\[[0-9;]*3[1-6]m")
BAR = re.compile(r"\[[#.]{10,}\]\s+\d+%")


class Tmux:
    """A tmux server of our own (its socket in the test's directory)."""

    def __init__(self, tmp):
        self.sock = os.path.join(tmp.path, "tmux.sock")

    def run(self, *args, check=True):
        p = subprocess.run(["tmux", "-S", self.sock] + list(args),
                           capture_output=True, text=True,
                           timeout=LIVENESS_S)
        if check and p.returncode != 0:
            raise AssertionError(f"tmux {' '.join(args)}: {p.stderr}")
        return p

    def start(self, name, argv, env):
        self.run("new-session", "-d", "-s", name, "-x", str(COLS), "-y",
                 str(ROWS), *[f"-e{k}={v}" for k, v in env.items()],
                 " ".join(argv))
        # keep the pane (and its last screen) after the program exits
        self.run("set-option", "-t", name, "remain-on-exit", "on")

    def screen(self, name, escapes=False):
        args = ["capture-pane", "-p", "-t", name]
        if escapes:
            args.append("-e")
        return self.run(*args).stdout

    def dead(self, name):
        p = self.run("display-message", "-p", "-t", name, "#{pane_dead}")
        return p.stdout.strip() == "1"

    def kill(self):
        self.run("kill-server", check=False)


class Top(MigrationCase):
    VFS = 2

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if shutil.which("tmux") is None:
            raise unittest.SkipTest("tmux is not installed (bootstrap "
                                    "installs it)")

    def setUp(self):
        super().setUp()
        self.tmux = Tmux(self.tmp)
        # vf1: slow, pages flowing; vf2: converged, waiting for us
        self.pair(1, "hot")
        self.pair(2, "hot")
        self.jid1, _ = self.start_slow_migration(1)
        self.jid2, _ = self.start_migration(
            2, dict(switchover=pb.SWITCHOVER_MANUAL))
        self.wait_phase(self.src.client, self.jid2,
                        pb.PHASE_SWITCHOVER_READY)

    def tearDown(self):
        # before the base class removes the directory with its socket
        self.tmux.kill()
        super().tearDown()

    def argv(self, *extra):
        return [vmigtest.vmigctl_path(), "--connect", self.src.daemon.rpc_url,
                "top", "--interval", "200"] + list(extra)

    def wait_screen(self, name, pred, what):
        last = [""]

        def ok():
            last[0] = self.tmux.screen(name)
            return pred(last[0])
        try:
            vmigtest.wait_for(ok, what, interval=0.1)
        except TimeoutError:
            raise AssertionError(f"{what}; the screen:\n{last[0]}")
        return last[0]

    def check_screen(self, s):
        lines = s.rstrip("\n").split("\n")
        self.assertLessEqual(len(lines), ROWS, s)
        self.assertEqual(sum(1 for ln in lines if ln.startswith("vmigd ")),
                         1, f"one header, redrawn in place:\n{s}")
        self.assertTrue(any(ln.split()[:3] == ["JOB", "DIR", "DEVICE"]
                            for ln in lines), s)
        row1 = [ln for ln in lines if "sim0/vf1" in ln]
        row2 = [ln for ln in lines if "sim0/vf2" in ln]
        self.assertEqual(len(row1), 1, s)
        self.assertEqual(len(row2), 1, s)
        self.assertIn("precopy", row1[0])
        self.assertRegex(row1[0], BAR)
        self.assertRegex(row1[0], r"B/s +\S+ \S*B/s")
        self.assertIn("switchover-ready", row2[0])
        # predicted against target downtime: "N/300 ms"
        self.assertRegex(row2[0], r"\d+/300 ms")
        # the last decision under vf2's row
        after = lines[lines.index(row2[0]) + 1]
        self.assertRegex(after, r"^\s+last: \S+: ", s)
        for ln in lines:
            self.assertLessEqual(len(ln), COLS, ln)

    def test_live_screen_in_colour_quits_on_q(self):
        self.tmux.start("top", self.argv(), {"NO_COLOR": ""})
        first = self.wait_screen(
            "top", lambda s: "sim0/vf2" in s and "last:" in s,
            "both jobs on the screen")
        self.check_screen(first)
        sent = re.search(r"sim0/vf1.*?%\s+(\S+ \S+)", first).group(1)
        # redrawn in place: vf1's bytes move, the layout stays
        later = self.wait_screen(
            "top", lambda s: re.search(r"sim0/vf1.*?%\s+(\S+ \S+)",
                                       s).group(1) != sent,
            "vf1's bytes to move on the screen")
        self.check_screen(later)
        coloured = self.tmux.screen("top", escapes=True)
        self.assertRegex(coloured, SGR_COLOUR)

        self.tmux.run("send-keys", "-t", "top", "q")
        vmigtest.wait_for(lambda: self.tmux.dead("top"), "top to quit on q")
        # the last screen stays (tmux's "Pane is dead" may scroll it by
        # a line), the shell's cursor below it
        last = self.tmux.screen("top")
        self.assertIn("sim0/vf1", last)
        self.assertIn("last: ", last)

    def test_no_color_and_ctrl_c(self):
        self.tmux.start("plain", self.argv(), {"NO_COLOR": "1"})
        s = self.wait_screen("plain", lambda s: "last:" in s,
                             "the screen without colour")
        self.check_screen(s)
        self.assertNotRegex(self.tmux.screen("plain", escapes=True),
                            SGR_COLOUR)
        self.tmux.run("send-keys", "-t", "plain", "C-c")
        vmigtest.wait_for(lambda: self.tmux.dead("plain"),
                          "top to quit on Ctrl-C")

        self.tmux.start("flag", self.argv("--no-color"), {"NO_COLOR": ""})
        self.wait_screen("flag", lambda s: "last:" in s,
                         "the screen with --no-color")
        self.assertNotRegex(self.tmux.screen("flag", escapes=True),
                            SGR_COLOUR)

    def test_not_a_terminal(self):
        p = subprocess.run(self.argv("--count", "2"), capture_output=True,
                           text=True, timeout=LIVENESS_S)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("\x1b", p.stdout)
        self.assertEqual(p.stdout.count("\nvmigd ") +
                         p.stdout.startswith("vmigd "), 2, p.stdout)
        self.assertEqual(p.stdout.count("sim0/vf2"), 2, p.stdout)
        self.assertIn("switchover-ready", p.stdout)
        # one snapshot without --count
        p = subprocess.run(self.argv(), capture_output=True, text=True,
                           timeout=LIVENESS_S)
        self.assertEqual(p.stdout.count("sim0/vf1"), 1, p.stdout)

        for bad in (["--interval", "5"], ["--count", "0"], ["--count", "-3"],
                    ["--colour"], ["extra"]):
            p = subprocess.run(self.argv(*bad), capture_output=True,
                               text=True, timeout=LIVENESS_S)
            self.assertEqual(p.returncode, 2, f"{bad}: {p.stderr}")
        p = subprocess.run([vmigtest.vmigctl_path(), "--connect",
                            self.src.daemon.rpc_url, "--json", "top"],
                           capture_output=True, text=True,
                           timeout=LIVENESS_S)
        self.assertEqual(p.returncode, 2, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
