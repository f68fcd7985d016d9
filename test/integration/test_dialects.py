#!/usr/bin/python3
"""A VF on a PF of each virtio dialect (the draft admin commands, virtio
1.4 device parts, the control-virtqueue proposal) migrates end to end
through two vmigd and two simulated PFs of that dialect: every DMA
workload, memory and device state verified byte for byte. The plugin has
one core; what differs is the dialect the PF's HELLO names (dialect.h),
and for v1.4, which has no dirty tracking, the engine's untracked path
(every mapped page dirty: the policy switches over at once)."""
import sys
import unittest

import vmigtest
from test_migration_lib import (DEVICE, LIVENESS_S, Host, MigrationCase,
                                TempDir, file_digest, pb, phase_name)

DIALECTS = ("draft", "v14", "cvq")
WORKLOADS = ("hot", "stream", "burst", "idle")


class DialectCase(MigrationCase):
    VFS = 1

    def setUp(self):
        # hosts are made per dialect in the tests
        self.tmp = TempDir()
        self.src = self.dst = None

    def hosts(self, src_dialect, dst_dialect):
        self._close(False)
        self.tmp = TempDir()
        self.src = Host(self.tmp, "src", self.VFS, self.SRC_CONFIG,
                        self.SPEC_OPTS, self.LOG_LEVEL,
                        sim_args=("--dialect", src_dialect))
        self.dst = Host(self.tmp, "dst", self.VFS, self.DST_CONFIG,
                        self.SPEC_OPTS, self.LOG_LEVEL,
                        sim_args=("--dialect", dst_dialect))

    def migrate_verified(self, workload, policy=None):
        """One VF with workload, migrated; both jobs completed and
        verified, memory and device state equal."""
        params = dict(rate="8M", fraction="0.05") if workload == "hot" \
            else dict(rate="8M") if workload != "idle" else {}
        self.pair(1, workload, **params)
        self.src.sim.cvq(1, mac="02:aa:00:00:00:02", rx=33, vlan=10,
                         uc="02:aa:00:00:00:09", mc="01:00:5e:00:00:07")
        jid, prep = self.start_migration(1, policy)
        sjob = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(sjob.phase, pb.PHASE_COMPLETED,
                         f"source: {phase_name(sjob.phase)}: {sjob.error}")
        self.assertTrue(sjob.verified)
        djob = self.dst.client.wait_job(prep.job_id, timeout=LIVENESS_S)
        self.assertEqual(djob.phase, pb.PHASE_COMPLETED,
                         f"destination: {phase_name(djob.phase)}: "
                         f"{djob.error}")
        self.assertTrue(djob.verified)
        self.assertEqual(file_digest(self.src.mem[1]),
                         file_digest(self.dst.mem[1]), "memory differs")
        self.assertEqual(self.src.sim.digest(1), self.dst.sim.digest(1),
                         "device state differs")
        sst, dstt = self.src.sim.state(1), self.dst.sim.state(1)
        for k in ("writes", "bytes", "hash", "kind"):
            self.assertEqual(sst[k], dstt[k], k)
        self.assertEqual(dstt["recording"], 0)
        self.assertEqual(sst["recording"], 0)
        return sjob, djob

    def test_each_dialect_every_workload(self):
        for d in DIALECTS:
            for w in WORKLOADS:
                with self.subTest(dialect=d, workload=w):
                    self.hosts(d, d)
                    dev = self.src.device(1)
                    self.assertTrue(dev.caps.interface.endswith(
                        {"draft": "draft", "v14": "v1.4",
                         "cvq": "v1"}[d]), dev.caps.interface)
                    policy = None
                    if d == "v14":
                        # no dirty tracking: every mapped page is dirty,
                        # so the policy switches over at once; give the
                        # whole memory room within the ceiling
                        self.assertEqual(dev.caps.tracker, pb.TRACKER_NONE)
                        policy = dict(max_downtime_ms=10000)
                    else:
                        self.assertEqual(dev.caps.tracker,
                                         pb.TRACKER_DEVICE)
                    sjob, _ = self.migrate_verified(w, policy)
                    self.assertGreater(sjob.stats.device_state_bytes, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
