#!/usr/bin/python3
"""README's "Trying it by hand": the block a person pastes, run as it is.

The block is taken from README.md (the first indented block after the
heading) and run by bash -eu -o pipefail in the source tree, with B the
build tree under test and TMPDIR a directory of the test's own (the block
makes its sockets there with mktemp -t). It must run to its end and show
what the README says: both daemons started, the job completed and
verified, the decision among the events, the source VF stopped and free
after release, the destination's active.

Run by make check, or by hand:
    VMIG_BUILDDIR=_build/plain /usr/bin/python3 test/integration/test_readme.py
"""

import glob
import os
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmigtest import TempDir, builddir, srcdir, vmig, LIVENESS_S  # noqa: E402
from test_migration_lib import skip_unless_built  # noqa: E402

HEADING = "## Trying it by hand"


def readme_block():
    """The first indented code block after HEADING, dedented."""
    with open(os.path.join(srcdir(), "README.md")) as f:
        lines = f.read().split(HEADING + "\n", 1)[1].splitlines()
    block = []
    for line in lines:
        if line.startswith("    "):
            block.append(line[4:])
        elif block and line.strip() == "":
            block.append("")
        elif block:
            break
    return "\n".join(block).strip() + "\n"


class Readme(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        skip_unless_built()

    def setUp(self):
        self.tmp = TempDir()
        self.proc = None

    def tearDown(self):
        # on failure: the simulators are in bash's process group, the
        # daemons (detached) answer with their pid
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for sock in glob.glob(os.path.join(self.tmp.path, "*", "*.sock")):
            if os.path.basename(sock) not in ("src.sock", "dst.sock"):
                continue
            try:
                with vmig.Client("ipc://" + sock, timeout_ms=2000) as c:
                    os.kill(c.status().pid, signal.SIGTERM)
            except (vmig.VmigError, OSError):
                pass
        for t in glob.glob(os.path.join(self.tmp.path, "vmig-try.*")):
            for m in glob.glob("/dev/shm/" + os.path.basename(t) + "-*"):
                os.unlink(m)
        self.tmp.cleanup()

    def test_the_block_runs(self):
        block = readme_block()
        self.assertIn("src migrate pf0/vf1", block)
        env = dict(os.environ, B=os.path.abspath(builddir()),
                   TMPDIR=self.tmp.path)
        env.pop("VMIG_URL", None)
        self.proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", block], cwd=srcdir(),
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True)
        out, _ = self.proc.communicate(timeout=4 * LIVENESS_S)
        self.assertEqual(self.proc.returncode, 0, out)
        for words in ("src: vmigd started", "dst: vmigd started",
                      "job 1: outgoing pf0/vf1, completed, verified",
                      " decision switchover: ", "pf0/vf1 released"):
            self.assertIn(words, out)
        after = out.split("pf0/vf1 released\n", 1)[1].splitlines()
        vf1 = [line.split() for line in after if line.startswith("pf0/vf1 ")]
        self.assertEqual([x[2] for x in vf1], ["stopped", "active"], out)
        # the block cleaned up after itself
        self.assertEqual(glob.glob(os.path.join(self.tmp.path, "*")), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
