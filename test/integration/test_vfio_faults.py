#!/usr/bin/env python3
"""VFIO faults, injected into the simulated kernel (vmig-simvfio's
"fault" command) under two vmigd with the vfio plugin: an arc that
leaves the device in ERROR (the plugin resets it, the only way out, and
the job fails saying so), a data_fd that hands out a few hundred bytes
per read (the stream survives), a DMA logging report that fails once
(that read marks every page, logging restarts, the migration completes
verified) or for good (the job fails: nothing tracks the writes any
more). Whatever fails, the source VF runs again and nothing is left
stopped."""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_vfio_migration import VfioCase  # noqa: E402
from vfiosim import PF, MiB  # noqa: E402
from vmigtest import LIVENESS_S  # noqa: E402
from vmig import pb  # noqa: E402


class Faults(VfioCase):
    def start(self, policy=None):
        prep = self.dst.client.prepare_incoming(
            f"{PF}/vf1", self.dst.regions(1), policy=dict(verify=True))
        jid = self.src.client.start_migration(
            f"{PF}/vf1", self.src.regions(1), prep.stream_url, prep.token,
            policy=dict(verify=True, bulk_copy=True, **(policy or {})))
        return jid, prep

    def assert_failed_and_running(self, jid, prep, *words):
        j = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(j.phase, pb.PHASE_FAILED, j.error)
        for w in words:
            self.assertIn(w, j.error)
        d = self.dst.client.wait_job(prep.job_id, timeout=LIVENESS_S)
        self.assertIn(d.phase, (pb.PHASE_FAILED, pb.PHASE_CANCELLED))
        st = self.src.sim.state(1)
        self.assertEqual(st["state"], "RUNNING", st)
        self.assertEqual(st["log"], 0, "DMA logging left on")
        self.assertEqual(self.src.device(1).job_id, 0)
        self.assertEqual(self.src.device(1).mode, pb.MODE_ACTIVE)
        # the VF still writes into the VM's memory
        n = st["writes"]
        self.src.sim.wait_for(1, "writes", lambda w: w > n)
        self.assertEqual(self.dst.sim.state(1)["state"], "STOP")
        self.assertEqual(self.dst.device(1).job_id, 0)
        return j

    def test_arc_into_error_is_reset(self):
        self.workload(1, "hot", rate="8M")
        self.src.sim.cmd("fault fail op=arc:PRE_COPY_P2P>STOP_COPY "
                         "errno=EIO error=1 count=1")
        jid, prep = self.start()
        j = self.assert_failed_and_running(jid, prep, "ERROR",
                                           "VFIO_DEVICE_RESET")
        self.assertEqual(self.src.sim.state(1)["resets"], 1)
        # and it migrates once the fault is gone
        self.dst.sim.cmd("hold 1")
        jobs, _ = self.migrate()
        self.assert_same()

    def test_short_data_reads(self):
        self.workload(1, "hot", rate="8M")
        self.src.sim.cmd("fault short op=data_read max=333")
        jobs, _ = self.migrate()
        self.assert_same()
        self.assertGreater(jobs[0].stats.device_state_bytes, 333)

    def test_dirty_report_fails_once(self):
        self.workload(1, "hot", rate="8M")
        self.src.sim.cmd("fault fail op=dmalog_report errno=EIO count=1")
        jobs, _ = self.migrate()
        self.assert_same()
        log = self.src.daemon.log()
        self.assertIn("a DMA logging report failed", log)
        self.assertIn("DMA logging restarted", log)

    def test_dirty_report_fails_for_good(self):
        self.workload(1, "hot", rate="8M")
        # slow, so the job is in pre-copy when logging breaks
        jid, prep = self.start(dict(bandwidth_limit_bps=4 * MiB))
        self.src.client.wait_job(
            jid, timeout=LIVENESS_S,
            until=lambda j: j.phase == pb.PHASE_PRECOPY)
        self.src.sim.cmd("fault fail op=dmalog_start errno=EIO")
        self.src.sim.cmd("fault fail op=dmalog_report errno=EIO")
        self.assert_failed_and_running(jid, prep, "does not restart",
                                       "no longer tracked")


if __name__ == "__main__":
    unittest.main()
