#!/usr/bin/env python3
"""VFIO VFs migrated end to end by two vmigd with the vfio plugin, each
host a simulated VFIO kernel (vmig-simvfio) reached through the
interposer, each VF held by its VMM (vfsim-vmm), which maps the VM's
memory for the VF's DMA and hands vmigd its fds. Every migration is
checked byte for byte: the memory files, and the simulated devices'
state (digest) on both hosts. One test per interface and dirty source:
v2 with DMA logging, v2 through iommufd with HWPT dirty tracking, v2
without pre-copy, v1 with the type1 container (every mapped page
dirty: the policy says iterating gains nothing), and the fds pushed
through vmigd's fd socket instead of asked from the VMM."""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import file_digest  # noqa: E402
from vfiosim import VfioHost, PF, MiB  # noqa: E402
from vmigtest import TempDir, LIVENESS_S, Vmigctl  # noqa: E402
from vmig import pb  # noqa: E402


class VfioCase(unittest.TestCase):
    DEV = "mig=v2"
    OPEN = "vfio"
    KERNEL = None
    SIM_ARGS = ()
    VFS = 1
    ATTACH = False

    def setUp(self):
        self.tmp = TempDir()
        self.src = self.dst = None
        kw = dict(vfs=self.VFS, dev=self.DEV, open=self.OPEN,
                  kernel=self.KERNEL, sim_args=self.SIM_ARGS,
                  attach=self.ATTACH)
        try:
            self.src = VfioHost(self.tmp, "src", fill="random", **kw)
            self.dst = VfioHost(self.tmp, "dst", **kw)
        except Exception:
            self.close(True)
            raise

    def failed(self):
        res = self._outcome.result
        return any(t is self for t, _ in res.errors + res.failures)

    def close(self, failed):
        for h in (self.src, self.dst):
            if h is not None:
                h.close(failed)
        self.tmp.cleanup()

    def tearDown(self):
        self.close(self.failed())

    def workload(self, vf=1, kind="hot", **params):
        kv = " ".join(f"{k}={v}" for k, v in params.items())
        self.src.sim.cmd(f"workload {vf} {kind} {kv}".rstrip())
        # the destination VF writes nothing once it runs: files compare
        self.dst.sim.cmd(f"hold {vf}")

    def migrate(self, vfs=(1,), policy=None):
        devs = [f"{PF}/vf{v}" for v in vfs]
        prep = self.dst.client.prepare_incoming(
            devs[0], self.dst.regions(vfs[0]), policy=dict(verify=True),
            group=devs[1:])
        pol = dict(verify=True, bulk_copy=True, **(policy or {}))
        ids = self.src.client.start_migration(
            devs[0], self.src.regions(vfs[0]), prep.stream_url, prep.token,
            policy=pol, group=devs[1:], all_ids=True)
        jobs = [self.src.client.wait_job(i, timeout=LIVENESS_S)
                for i in ids]
        djobs = [self.dst.client.wait_job(i, timeout=LIVENESS_S)
                 for i in prep.job_ids]
        for j in jobs + djobs:
            self.assertEqual(j.phase, pb.PHASE_COMPLETED, j.error)
            self.assertTrue(j.verified)
        return jobs, djobs

    def assert_same(self, vf=1):
        self.assertEqual(file_digest(self.src.mem[vf]),
                         file_digest(self.dst.mem[vf]),
                         f"vf{vf}: memory files differ")
        self.assertEqual(self.src.sim.cmd(f"digest {vf}"),
                         self.dst.sim.cmd(f"digest {vf}"),
                         f"vf{vf}: device state differs")

    def reasons(self, job):
        return [d.reason for d in job.decisions]


class V2DmaLogging(VfioCase):
    def test_devices_lists_interface_and_dirty_source(self):
        d = self.src.device(1)
        self.assertEqual(d.caps.interface, "vfio/v2")
        self.assertEqual(d.caps.dirty_tracking, pb.DIRTY_DMA_LOGGING)
        self.assertEqual(d.caps.tracker, pb.TRACKER_DEVICE)
        self.assertEqual(d.caps.state_kind, pb.STATE_STREAM)
        self.assertTrue(d.caps.precopy_info)
        self.assertTrue(d.caps.p2p_quiesce)
        self.assertEqual(d.mode, pb.MODE_ACTIVE)
        out = Vmigctl(self.src.daemon.rpc_url).run("devices").stdout
        line = [x for x in out.splitlines() if x.startswith(f"{PF}/vf1")]
        self.assertEqual(len(line), 1, out)
        self.assertIn("vfio/v2", line[0])
        self.assertIn("dma-logging", line[0])

    def test_migrate(self):
        self.workload(1, "hot", rate="8M")
        jobs, djobs = self.migrate()
        self.assert_same()
        s = jobs[0].stats
        self.assertGreater(s.device_state_bytes, 0)
        st = self.src.sim.state(1)
        self.assertEqual(st["state"], "STOP_COPY", st)
        self.assertEqual(st["log"], 0, "DMA logging left on")
        self.assertEqual(self.dst.sim.state(1)["state"], "RUNNING")
        self.assertGreater(st["writes"], 0)


if __name__ == "__main__":
    unittest.main()
