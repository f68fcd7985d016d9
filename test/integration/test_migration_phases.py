#!/usr/bin/python3
"""test_migration_phases: workloads that change over time (the simulator's
phase schedules, test/sim/README.md) migrated with verify, byte for byte:
a burst that goes quiet, a hot set moving through memory, sparse small
writes over most pages, and a device idle at first that writes hard once
the migration is under way. The same shapes are rows of
test/bench/converge.py; here only correctness is checked (memory files
and device state equal, both sides' digests compared by the daemons)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_migration_lib import MEM, MigrationCase  # noqa: E402

MiB = 1 << 20
W = MEM // 8    # the moving hot set's window
LINK = 8 * MiB  # the job's bandwidth limit: a bulk copy of 2 s


def moving_hot():
    first = ("hot", dict(rate="4M", fraction=1, size=4096, length=W,
                         offset=0), 100)
    return [first] + [("hot", dict(offset=i * W), 100) for i in range(1, 6)]


PHASED = [
    ("burst_then_quiet",
     [("burst", dict(bytes="1M", every=50, size=4096), 400),
      ("idle", {}, None)], False),
    ("moving_hot_set", moving_hot(), True),
    # 512 64-byte writes a second, each a page of its own: 2 MiB/s of
    # pages dirtied at 32 KiB/s written
    ("sparse_small_writes",
     [("hot", dict(rate="32K", fraction=0.9, size=64), None)], False),
    # idle for the first half of the bulk copy (16 MiB at LINK: 2 s),
    # then hard: the policy sees a quiet device turn busy mid-migration
    ("idle_then_hard",
     [("idle", {}, 1000),
      ("hot", dict(rate="4M", fraction=0.3, size=4096), None)], False),
]


class PhasedWorkloads(MigrationCase):
    VFS = len(PHASED)

    def test_each_migrates_byte_for_byte(self):
        for vf, (name, phases, repeat) in enumerate(PHASED, 1):
            with self.subTest(workload=name):
                self.pair(vf, workload=None)
                self.src.sim.schedule(vf, phases, repeat=repeat)
                if phases[0][0] != "idle":
                    self.src.sim.wait_for(vf, "writes", lambda w: w > 0)
                jid, prep = self.start_migration(
                    vf, dict(max_downtime_ms=1000, bandwidth_limit_bps=LINK))
                sjob, _ = self.assert_completed(vf, jid, prep)
                src, dst = self.src.sim.state(vf), self.dst.sim.state(vf)
                self.assertEqual(dst["writes"], src["writes"])
                self.assertEqual(dst["hash"], src["hash"])
                self.assertEqual(dst["kind"], src["kind"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
