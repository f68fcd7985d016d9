#!/usr/bin/python3
"""test_migration_cancel: CancelJob in every phase it can land in.

On the source: QUEUED, SETUP, PRECOPY, SWITCHOVER_READY, STOPCOPY end
CANCELLED with the source VF running again and its write recording
stopped, the destination job ended and its VF stopped and released, no
device left stopped or frozen; RESUMING refuses the cancel and completes.
On the destination: the source rolls back. A phase that passes too quickly
to aim at is held open with a simulator `fault delay` on one command.
A daemon told to stop (SIGTERM) cancels its jobs and exits once they have
rolled back; a job over its completion timeout rolls back by itself.
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import (MigrationCase, phase_name,  # noqa: E402
                                LIVENESS_S, SLOW_BPS)
from vmig import pb  # noqa: E402
import vmig  # noqa: E402

# A delayed device command stays out this long; the test acts as soon as
# the simulator reports it arrived, so this is only the room it has.
DELAY_MS = 4000


class CancelBase(MigrationCase):
    VFS = 2

    def cancel(self, jid, expect_phase):
        """CancelJob; the answer's phase is where it landed."""
        phase = self.src.client.cancel_job(jid, reason="test")
        self.assertEqual(phase, expect_phase, f"cancel landed in "
                         f"{phase_name(phase)}, not "
                         f"{phase_name(expect_phase)}")

    def assert_cancelled(self, vf, jid, djid):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_CANCELLED,
                         f"{phase_name(job.phase)}: {job.error}")
        self.assertIn("cancelled", job.error)
        self.assertIn("test", job.error)
        self.assert_source_rolled_back(vf)
        self.assert_dest_rolled_back(vf, djid)
        self.assert_no_device_stuck(self.src)
        self.assert_no_device_stuck(self.dst, skip=(vf,))
        # the VF can be migrated again at once
        with self.assertRaises(vmig.FailedPrecondition):
            self.src.client.cancel_job(jid)

    def migrate_again(self, vf):
        jid, prep = self.start_migration(vf)
        self.assert_completed(vf, jid, prep)


class CancelSource(CancelBase):
    def test_setup(self):
        self.pair(1, "hot")
        before = self.src.sim.info()["faulted"]
        self.src.sim.fault("delay", op="WRITE_RECORDS_START", ms=DELAY_MS,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_faulted(self.src.sim, before)
        self.cancel(jid, pb.PHASE_SETUP)
        self.assert_cancelled(1, jid, prep.job_id)
        self.migrate_again(1)

    def test_precopy(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.cancel(jid, pb.PHASE_PRECOPY)
        self.assert_cancelled(1, jid, prep.job_id)
        self.migrate_again(1)

    def test_switchover_ready(self):
        self.pair(1, "hot")
        jid, prep = self.start_migration(
            1, dict(switchover=pb.SWITCHOVER_MANUAL))
        self.wait_phase(self.src.client, jid, pb.PHASE_SWITCHOVER_READY)
        self.cancel(jid, pb.PHASE_SWITCHOVER_READY)
        self.assert_cancelled(1, jid, prep.job_id)
        self.migrate_again(1)

    def test_stopcopy(self):
        # DEV_MODE_SET is the first stop-copy command (stop) on the source
        self.pair(1, "hot")
        before = self.src.sim.info()["faulted"]
        self.src.sim.fault("delay", op="DEV_MODE_SET", ms=DELAY_MS, count=1,
                           vf=1)
        jid, prep = self.start_migration(1)
        self.wait_faulted(self.src.sim, before)
        self.cancel(jid, pb.PHASE_STOPCOPY)
        self.assert_cancelled(1, jid, prep.job_id)
        self.migrate_again(1)

    def test_resuming_is_too_late(self):
        # DEV_CTX_WRITE on the destination holds the source in RESUMING
        self.pair(1, "hot")
        before = self.dst.sim.info()["faulted"]
        self.dst.sim.fault("delay", op="DEV_CTX_WRITE", ms=DELAY_MS,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_faulted(self.dst.sim, before)
        self.wait_phase(self.src.client, jid, pb.PHASE_RESUMING)
        with self.assertRaises(vmig.FailedPrecondition) as cm:
            self.src.client.cancel_job(jid)
        self.assertIn("resuming", cm.exception.message)
        with self.assertRaises(vmig.FailedPrecondition):
            self.dst.client.cancel_job(prep.job_id)
        self.assert_completed(1, jid, prep)


class CancelQueued(CancelBase):
    SRC_CONFIG = "[limits]\nmax_outgoing = 1\n"

    def test_queued(self):
        # max_outgoing = 1 and a job ahead that waits for its switchover
        self.pair(1, "hot")
        self.pair(2, "hot")
        ahead, aprep = self.start_migration(
            1, dict(switchover=pb.SWITCHOVER_MANUAL))
        self.wait_phase(self.src.client, ahead, pb.PHASE_SWITCHOVER_READY)
        jid, prep = self.start_migration(2)
        job = self.src.client.get_job(jid)
        self.assertEqual(job.phase, pb.PHASE_QUEUED)
        self.assertIn("outgoing migration slots", job.error)
        self.cancel(jid, pb.PHASE_QUEUED)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_CANCELLED, job.error)
        self.assert_source_rolled_back(2)
        # The source never connected, so the destination cannot know:
        # its job still waits; the orchestrator cancels it there.
        djob = self.dst.client.get_job(prep.job_id)
        self.assertEqual(djob.phase, pb.PHASE_WAITING)
        self.dst.client.cancel_job(prep.job_id, reason="test")
        self.assert_dest_rolled_back(2, prep.job_id, (pb.PHASE_CANCELLED,))
        # the job ahead was not disturbed
        self.src.client.switchover(ahead)
        self.assert_completed(1, ahead, aprep)


class CancelDestination(MigrationCase):
    VFS = 2

    def test_incoming_cancel_rolls_the_source_back(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        phase = self.dst.client.cancel_job(prep.job_id, reason="test")
        self.assertEqual(phase, pb.PHASE_PRECOPY)
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_CANCELLED,))
        self.assertIn("test", djob.error)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("destination aborted", job.error)
        self.assertIn("cancelled", job.error)
        self.assert_source_rolled_back(1)
        self.assert_no_device_stuck(self.src)

    def test_waiting(self):
        self.pair(1, "hot")
        prep = self.prepare(1)
        self.assertEqual(self.dst.client.get_job(prep.job_id).phase,
                         pb.PHASE_WAITING)
        self.assertEqual(self.dst.device(1).job_id, prep.job_id)
        self.assertEqual(self.dst.sim.mode(1), "stop")
        self.dst.client.cancel_job(prep.job_id, reason="test")
        self.assert_dest_rolled_back(1, prep.job_id, (pb.PHASE_CANCELLED,))
        # a source that comes late finds nobody listening
        jid = self.src.client.start_migration(
            "sim0/vf1", self.src.regions(1), prep.stream_url, prep.token,
            policy=dict(verify=True))
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED)
        self.assertIn("connect", job.error)
        self.assert_source_rolled_back(1)



class Shutdown(MigrationCase):
    VFS = 2

    def test_source_stops_mid_migration(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.src.client.close()
        # exit 0 (sanitizers included) only after the rollback
        self.src.daemon.stop()
        self.assertIn("rolled back", self.src.daemon.log())
        st = self.src.sim.state(1)
        self.assertEqual(st["mode"], "active", st)
        self.assertEqual(st["recording"], 0, st)
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_CANCELLED,))
        self.assertIn("shutting down", djob.error)

    def test_destination_stops_mid_migration(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.dst.client.close()
        self.dst.daemon.stop()
        self.assertEqual(self.dst.sim.mode(1), "stop")
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("destination aborted", job.error)
        self.assertIn("shutting down", job.error)
        self.assert_source_rolled_back(1)

    def test_completion_timeout(self):
        self.pair(1, "hot")
        jid, prep = self.start_migration(
            1, dict(bandwidth_limit_bps=SLOW_BPS, completion_timeout_s=1))
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("completion timeout", job.error)
        self.assert_source_rolled_back(1)
        self.assert_dest_rolled_back(1, prep.job_id)

    def test_completion_timeout_forces_switchover(self):
        # timeout_action FORCE: at the deadline the bulk copy (16 MiB at
        # 1 MiB/s: far from done after 2 s) is cut short and the policy
        # decides at once; within the forced bound the job switches over
        # and completes, verified, instead of failing.
        self.pair(1, "hot", rate="1M", fraction="0.01")
        jid, prep = self.start_migration(
            1, dict(bandwidth_limit_bps=SLOW_BPS, completion_timeout_s=2,
                    timeout_action=pb.TIMEOUT_FORCE_SWITCHOVER,
                    forced_downtime_ms=600000))
        sjob, _ = self.assert_completed(1, jid, prep)
        last = sjob.decisions[-1]
        self.assertEqual(last.action, "force-switchover", last.reason)
        self.assertIn("completion timeout", last.reason)
        self.assertGreater(sjob.stats.downtime_ms, 0)

    def test_completion_timeout_force_over_the_bound_aborts(self):
        # the same, with a forced bound the rest of the copy cannot meet:
        # the policy aborts and says why (not "not completed within")
        self.pair(1, "hot", rate="1M", fraction="0.01")
        jid, prep = self.start_migration(
            1, dict(bandwidth_limit_bps=SLOW_BPS, completion_timeout_s=2,
                    timeout_action=pb.TIMEOUT_FORCE_SWITCHOVER,
                    forced_downtime_ms=500))
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("forced bound", job.error)
        self.assertEqual(job.decisions[-1].action, "abort")
        self.assert_source_rolled_back(1)
        self.assert_dest_rolled_back(1, prep.job_id)


if __name__ == "__main__":
    unittest.main(verbosity=2)
