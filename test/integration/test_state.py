#!/usr/bin/python3
"""The state directory of the real vmigd: created mode 0700 with its
journal directory before the control socket answers, an unusable one
stops vmigd at start-up with a message naming it, a journal file that
does not check out is reported and moved aside (never acted upon) and the
daemon starts anyway, and the history log is created and survives a
restart. What the engine writes there, and the recovery that reads it,
is tested with real migrations in test_migration_faults.py.

Run by make check, or by hand:
    VMIG_BUILDDIR=_build/plain /usr/bin/python3 test/integration/test_state.py
"""

import os
import stat
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmigtest import Daemon, TempDir  # noqa: E402


class State(unittest.TestCase):
    def setUp(self):
        self.tmp = TempDir()
        self.addCleanup(self.tmp.cleanup)

    def test_created_0700_with_journal_and_history(self):
        with Daemon(self.tmp) as d:
            mode = stat.S_IMODE(os.stat(os.path.join(d.state_dir,
                                                     "journal")).st_mode)
            self.assertEqual(mode, 0o700)
            self.assertTrue(os.path.exists(os.path.join(d.state_dir,
                                                        "history.log")))
            self.assertIn("0 unfinished jobs in the journal", d.log())
        # a second start reads the same directory
        with Daemon(self.tmp) as d:
            self.assertIn("0 finished jobs in the history", d.log())

    def test_unusable_state_dir_stops_startup(self):
        blocker = os.path.join(self.tmp.path, "a-file")
        open(blocker, "w").close()
        d = Daemon(self.tmp, args=["--state-dir", blocker + "/state"])
        self.assertEqual(d.run_to_exit(), 1, d.log())
        self.assertIn(f"state_dir {blocker}/state", d.log())
        self.assertIn("Not a directory", d.log())

    def test_garbage_journal_reported_and_moved_aside(self):
        d = Daemon(self.tmp)
        jdir = os.path.join(d.state_dir, "journal")
        os.makedirs(jdir)
        with open(os.path.join(jdir, "job-12.rec"), "wb") as f:
            f.write(b"VMJR" + os.urandom(200))
        with open(os.path.join(jdir, ".job-13.tmp"), "wb") as f:
            f.write(b"VMJR\x01\x00")
        with d:
            log = d.log()
            self.assertIn("job-12.rec", log)
            self.assertIn("not trusted, moved to job-12.rec.bad", log)
            self.assertIn("1 refused", log)
            self.assertTrue(os.path.exists(os.path.join(jdir,
                                                        "job-12.rec.bad")))
            self.assertFalse(os.path.exists(os.path.join(jdir,
                                                         ".job-13.tmp")))
            self.assertFalse(os.path.exists(os.path.join(jdir,
                                                         "job-12.rec")))
            d.client().get_version()

    def test_garbage_history_skipped(self):
        d = Daemon(self.tmp)
        os.makedirs(d.state_dir)
        with open(os.path.join(d.state_dir, "history.log"), "wb") as f:
            f.write(os.urandom(300))
        with d:
            self.assertIn("history", d.log())
            self.assertIn("skipped", d.log())
        self.assertEqual(os.path.getsize(os.path.join(d.state_dir,
                                                      "history.log")), 0)


if __name__ == "__main__":
    unittest.main()
