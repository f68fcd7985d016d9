#!/usr/bin/python3
"""test_soak: the same VF migrated again and again between two daemons.

A daemon on a host migrates for months. Each round migrates a VF under
a hot workload, checks memory and device state byte for byte, then
makes the source VF run again (`release`, then `release --resume`) for
the next round. After the first rounds (warm-up: allocator arenas, nng's
threads, the history file) both daemons must come back to the same
number of open file descriptors after every round, and their resident
memory may not keep growing: a leak of a socket, an eventfd, a mapping
or a job's buffers shows here long before a host runs out. (It found
that every finished job kept its working state, ~0.6 MiB for a 16 MiB
VM, for as long as the job was kept: 160 MiB at the 256 kept.)

make check runs 40 rounds; VMIG_SOAK_ROUNDS=N runs more
(`VMIG_SOAK_ROUNDS=1000 make check TESTS=test/integration/test_soak.py`).
No timing is asserted. In a sanitizer build only the fds are compared:
ASan's quarantine holds freed memory, and LeakSanitizer checks at exit.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmigtest  # noqa: E402
from test_migration_lib import MigrationCase, DEVICE, MiB  # noqa: E402

ROUNDS = int(os.environ.get("VMIG_SOAK_ROUNDS", "40"))
WARMUP = 4
# Resident memory a daemon may gain after the warm-up, whatever the
# rounds: one migration of a 16 MiB VM maps 16 MiB; a leak of that per
# round passes this within a few rounds.
RSS_SLACK = 12 * MiB


def sanitized():
    """An ASan build keeps freed memory in quarantine (256 MiB by default):
    its RSS says nothing of leaks, and LeakSanitizer checks them at exit."""
    out = subprocess.run(["ldd", vmigtest.vmigd_path()], text=True,
                         capture_output=True).stdout
    return "libasan" in out


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


class Soak(MigrationCase):
    VFS = 1

    def sample(self):
        return {h.name: (open_fds(h.daemon.pid), rss(h.daemon.pid))
                for h in (self.src, self.dst)}

    def test_migrate_again_and_again(self):
        self.assertGreaterEqual(ROUNDS, WARMUP + 2)
        check_rss = not sanitized()
        self.pair(1, "hot")
        base = None
        for r in range(ROUNDS):
            jid, prep = self.start_migration(1)
            self.assert_completed(1, jid, prep)
            # the source VF runs again: its VM "came back" for the next
            # round; the destination VF stays held (writes nothing)
            self.src.client.release_device(DEVICE % 1)       # stopped
            self.src.client.release_device(DEVICE % 1, resume=True)
            self.assertEqual(self.src.sim.mode(1), "active")
            self.assertEqual(self.src.device(1).job_id, 0)
            now = self.sample()
            if r + 1 == WARMUP:
                base = now
            elif base is not None:
                for name, (fds, mem) in now.items():
                    self.assertEqual(
                        fds, base[name][0],
                        f"round {r + 1}: {name} vmigd has {fds} fds open, "
                        f"{base[name][0]} after round {WARMUP}")
                    if check_rss:
                        self.assertLess(
                            mem - base[name][1], RSS_SLACK,
                            f"round {r + 1}: {name} vmigd grew by "
                            f"{(mem - base[name][1]) / MiB:.1f} MiB since "
                            f"round {WARMUP}")
        for h in (self.src, self.dst):
            done = [j for j in h.client.list_jobs(include_finished=True)
                    if j.id != 0]
            # every round's job, up to the JOB_FINISHED_MAX kept
            self.assertGreaterEqual(len(done), min(ROUNDS, 256), h.name)
        print(f"soak: {ROUNDS} rounds; fds and RSS after round {WARMUP} "
              f"-> last: {base} -> {self.sample()}", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
