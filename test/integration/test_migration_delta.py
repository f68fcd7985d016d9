#!/usr/bin/python3
"""test_migration_delta: byte-exact page deltas from write records
(daemon/out_delta.c, PageDelta frames) on a real pair of daemons.

- Sparse small writes (64 bytes, each on a page of its own, over 90 % of
  the pages) migrated by the adaptive policy, which sends deltas, and by
  the baseline, which sends whole pages as QEMU does: per write the device
  made during the migration, the adaptive job's bytes beyond the bulk copy
  are under a quarter of the baseline's (whole pages cost 4096 bytes a
  write, a delta 64 + 16). Both byte for byte.
- A page written again while its delta is in flight: small writes to a
  few pages at a high rate, so that every round sends them as deltas
  while the device keeps rewriting them, over the stream while whole pages
  go over the data connections; byte for byte (a delta overtaken by an
  older copy, or an older delta by a newer copy, changes the digest).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_migration_lib import MEM, MigrationCase, pb  # noqa: E402

MiB = 1 << 20
LINK = 8 * MiB  # the job's bandwidth limit: a bulk copy of 2 s


class Deltas(MigrationCase):
    VFS = 3

    def migrate(self, vf, phases, policy):
        """Migrate vf under phases; (source job, device writes during)."""
        self.pair(vf, workload=None)
        self.src.sim.schedule(vf, phases, repeat=False)
        self.src.sim.wait_for(vf, "writes", lambda w: w > 0)
        w0 = self.src.sim.state(vf)["writes"]
        jid, prep = self.start_migration(
            vf, dict(max_downtime_ms=1000, bandwidth_limit_bps=LINK,
                     **policy))
        sjob, _ = self.assert_completed(vf, jid, prep)
        src, dst = self.src.sim.state(vf), self.dst.sim.state(vf)
        self.assertEqual(dst["writes"], src["writes"])
        self.assertEqual(dst["hash"], src["hash"])
        return sjob, src["writes"] - w0

    def test_sparse_small_writes_cost_bytes_not_pages(self):
        sparse = [("hot", dict(rate="32K", fraction=0.9, size=64), None)]
        cost = {}
        for vf, (name, conv) in enumerate(
                [("adaptive", pb.CONVERGE_ADAPTIVE),
                 ("baseline", pb.CONVERGE_BASELINE)], 1):
            sjob, writes = self.migrate(vf, sparse, dict(convergence=conv))
            self.assertGreater(writes, 0)
            extra = max(0, sjob.stats.bytes_sent - MEM)
            cost[name] = extra / writes
            print(f"{name}: {sjob.stats.bytes_sent} bytes sent, "
                  f"{writes} writes, {cost[name]:.0f} bytes a write beyond "
                  f"the bulk copy", file=sys.stderr)
        self.assertLess(cost["adaptive"] * 4, cost["baseline"],
                        f"bytes beyond the bulk copy per device write: {cost}")

    def test_page_rewritten_while_its_delta_is_in_flight(self):
        # 64-byte writes to 8 pages (fraction of 16 MiB), 256 KiB/s: each
        # page rewritten hundreds of times a second, through every round
        hot = [("hot", dict(rate="256K", fraction=8 * 4096 / MEM,
                            size=64), None)]
        sjob, writes = self.migrate(3, hot, {})
        self.assertGreater(writes, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
