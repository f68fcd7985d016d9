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
import vmig

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
        self.src_dialect, self.dst_dialect = src_dialect, dst_dialect
        self.src = Host(self.tmp, "src", self.VFS, self.SRC_CONFIG,
                        self.SPEC_OPTS, self.LOG_LEVEL,
                        sim_args=("--dialect", src_dialect))
        self.dst = Host(self.tmp, "dst", self.VFS, self.DST_CONFIG,
                        self.SPEC_OPTS, self.LOG_LEVEL,
                        sim_args=("--dialect", dst_dialect))

    def migrate_verified(self, workload, policy=None, prep=None):
        """One VF with workload, migrated; both jobs completed and
        verified, memory and device state equal."""
        params = dict(rate="8M", fraction="0.05") if workload == "hot" \
            else dict(rate="8M") if workload != "idle" else {}
        if prep is None:
            self.pair(1, workload, **params)
        self.src.sim.cvq(1, mac="02:aa:00:00:00:02", rx=33, vlan=10,
                         uc="02:aa:00:00:00:09", mc="01:00:5e:00:00:07")
        if prep is None:
            prep = self.prepare(1, dict(verify=True))
        jid, prep = self.start_migration(1, policy, prep)
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
        # across dialects, the state as one layout (the native images
        # differ); within one, the dialect's own image
        cross = self.src_dialect != self.dst_dialect
        self.assertEqual(self.src.sim.digest(1, any_dialect=cross),
                         self.dst.sim.digest(1, any_dialect=cross),
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


    def prepare_from(self, vf):
        """PrepareIncoming naming the source VF's interface (its
        dialect), so an incompatible pair is refused before anything is
        touched."""
        return self.dst.client.prepare_incoming(
            DEVICE % vf, self.dst.regions(vf), policy=dict(verify=True),
            vm=f"vm{vf}",
            source_interfaces=[self.src.device(vf).caps.interface])

    def test_cross_dialect_pairs(self):
        # the canonical state on the wire, converted at each end; v1.4
        # as a destination only (its avail indexes stay in guest memory)
        for a, b in (("draft", "v14"), ("draft", "cvq"), ("cvq", "draft"),
                     ("cvq", "v14")):
            with self.subTest(src=a, dst=b):
                self.hosts(a, b)
                self.pair(1, "hot", rate="8M", fraction="0.05")
                prep = self.prepare_from(1)
                self.migrate_verified("hot", prep=prep)

    def test_incompatible_pair_refused_before_any_device_is_touched(self):
        for a, b in (("v14", "draft"), ("v14", "cvq")):
            with self.subTest(src=a, dst=b):
                self.hosts(a, b)
                self.pair(1, "hot", rate="8M", fraction="0.05")
                dmode = self.dst.sim.state(1)["mode"]
                cmds = self.dst.sim.state(1)["cmds"]
                with self.assertRaises(vmig.FailedPrecondition) as cm:
                    self.prepare_from(1)
                msg = str(cm.exception)
                self.assertIn("queue avail index", msg)
                self.assertIn("used ring", msg)
                # nothing touched on the destination: same mode, no
                # command reached its PF; the source never heard of it
                st = self.dst.sim.state(1)
                self.assertEqual(st["mode"], dmode)
                self.assertEqual(st["cmds"], cmds)
                self.assertEqual(self.dst.device(1).job_id, 0)
                # without the interfaces, the Hello refuses it: the
                # source VF was only read, never stopped
                prep = self.prepare(1, dict(verify=True))
                jid, _ = self.start_migration(1, prep=prep)
                sjob = self.src.client.wait_job(jid, timeout=LIVENESS_S)
                self.assertEqual(sjob.phase, pb.PHASE_FAILED)
                self.assertIn("queue avail index", sjob.error)
                sst = self.src.sim.state(1)
                self.assertEqual(sst["recording"], 0)
                self.assertEqual(self.src.device(1).job_id, 0)
                n = sst["writes"]
                self.src.sim.wait_for(1, "writes", lambda w: w > n)

    def test_vmigctl_devices_and_compat(self):
        self.hosts("v14", "cvq")
        out = self.src.daemon.vmigctl().run("devices").stdout
        self.assertIn("virtio-admin/v1.4", out)
        self.assertIn("virtio-cvq/v1", self.dst.daemon.vmigctl().run(
            "devices").stdout)
        # v1.4 -> control-vq: refused, the field named; exit 1
        src = f"{DEVICE % 1}@{self.src.daemon.rpc_url}"
        p = self.dst.daemon.vmigctl().run("compat", src, DEVICE % 1,
                                          check=False)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("not compatible: queue avail index", p.stdout)
        # control-vq -> v1.4: compatible, with its condition
        dst = f"{DEVICE % 1}@{self.src.daemon.rpc_url}"
        p = self.dst.daemon.vmigctl().run("compat", DEVICE % 1, dst)
        self.assertIn("(virtio-cvq/v1) -> ", p.stdout)
        self.assertIn("compatible if device-owned descriptors must be "
                      "empty", p.stdout)
        # the same through the client; the same interface: compatible
        r = self.dst.client.check_compat(DEVICE % 1, "virtio-cvq/v1")
        self.assertTrue(r.compatible)
        self.assertEqual(r.conditions, "")
        r = self.dst.client.check_compat(DEVICE % 1, "vfio/v2")
        self.assertFalse(r.compatible)
        self.assertIn("not a virtio dialect", r.reason)


if __name__ == "__main__":
    unittest.main(verbosity=2)
