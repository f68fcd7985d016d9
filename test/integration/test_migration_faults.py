#!/usr/bin/python3
"""test_migration_faults: hosts that die and devices that fail.

The destination daemon SIGKILLed in every phase the source can be caught
in (SETUP, PRECOPY, STOPCOPY, RESUMING): the source job FAILED naming the
lost connection, its VF running again with recording stopped, its memory
file untouched by vmigd (mapped read-only: the half the workload never
writes keeps its bytes) and its workload still writing. Device commands
failing on either side mid-migration, and devices that lose or ration
their write records: the job fails and rolls back, or copes, and nothing
is lost (a later migration of the same VF verifies).
"""

import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import (MigrationCase, phase_name,  # noqa: E402
                                read_file, MEM, LIVENESS_S, SLOW_BPS)
import vmig  # noqa: E402
from vmig import pb  # noqa: E402

DELAY_MS = 4000
HALF = MEM // 2
EINVAL = 22


class DestinationKilled(MigrationCase):
    VFS = 2

    def setUp(self):
        super().setUp()
        # the workload writes the first half only: the second half is
        # what vmigd must never write on the source
        self.pair(1, "hot", length=f"{HALF}", rate="4M", fraction="0.1")
        self.untouched = read_file(self.src.mem[1], HALF)

    def assert_source_survived(self, jid, phase):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED,
                         f"{phase_name(job.phase)}: {job.error}")
        self.assertIn("connection to the destination lost", job.error)
        self.assertIn(f"failed in {phase}",
                      self.src.daemon.log().replace("_", "-"))
        self.assert_source_rolled_back(1)
        self.assert_no_device_stuck(self.src)
        self.assertEqual(read_file(self.src.mem[1], HALF), self.untouched,
                         "vmigd wrote into the source VM's memory")

    def test_setup(self):
        before = self.src.sim.info()["faulted"]
        self.src.sim.fault("delay", op="WRITE_RECORDS_START", ms=DELAY_MS,
                           count=1, vf=1)
        jid, _ = self.start_migration(1)
        self.wait_faulted(self.src.sim, before)
        self.assertEqual(self.src.client.get_job(jid).phase, pb.PHASE_SETUP)
        self.dst.kill()
        self.assert_source_survived(jid, "setup")

    def test_precopy(self):
        jid, _ = self.start_slow_migration(1)
        self.dst.kill()
        self.assert_source_survived(jid, "precopy")

    def test_stopcopy(self):
        before = self.src.sim.info()["faulted"]
        self.src.sim.fault("delay", op="DEV_MODE_SET", ms=DELAY_MS, count=1,
                           vf=1)
        jid, _ = self.start_migration(1)
        self.wait_faulted(self.src.sim, before)
        self.assertEqual(self.src.client.get_job(jid).phase,
                         pb.PHASE_STOPCOPY)
        self.dst.kill()
        self.assert_source_survived(jid, "stopcopy")

    def test_resuming(self):
        before = self.dst.sim.info()["faulted"]
        self.dst.sim.fault("delay", op="DEV_CTX_WRITE", ms=DELAY_MS,
                           count=1, vf=1)
        jid, _ = self.start_migration(1)
        self.wait_faulted(self.dst.sim, before)
        self.wait_phase(self.src.client, jid, pb.PHASE_RESUMING)
        self.dst.kill()
        self.assert_source_survived(jid, "resuming")


class SourceKilled(MigrationCase):
    VFS = 2

    def test_precopy(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.src.kill()
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        self.assertIn("connection to the source lost", djob.error)
        self.assert_no_device_stuck(self.dst, skip=(1,))
        # the VF takes the next migration (from a restarted source)
        self.src.daemon.start()
        self.src.client = self.src.daemon.client()
        self.src.killed = False
        st = self.src.sim.state(1)
        self.assertEqual(st["recording"], 1, "a killed daemon could not "
                         "stop the recording: the next job starts it anew")
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)


    def test_stopcopy_then_resume(self):
        # killed while its VF is frozen: nothing runs it again until the
        # operator asks (ReleaseDevice with resume), then it migrates
        self.pair(1, "hot")
        # every state read slow: the stop-copy one holds the VF frozen
        self.src.sim.fault("delay", op="DEV_CTX_READ", ms=DELAY_MS, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_phase(self.src.client, jid, pb.PHASE_STOPCOPY)
        self.src.sim.wait_for(1, "mode", lambda m: m == "freeze")
        self.src.kill()
        self.src.sim.fault("clear")
        self.assert_dest_rolled_back(1, prep.job_id, (pb.PHASE_FAILED,))
        self.src.daemon.start()
        self.src.client = self.src.daemon.client()
        self.src.killed = False
        with self.assertRaises(vmig.FailedPrecondition):
            self.src.client.release_device("sim0/vf1")
        # a resume whose mode change fails says so, and changes nothing
        self.src.sim.fault("fail", op="DEV_MODE_SET", status=EINVAL,
                           count=1, vf=1)
        with self.assertRaises(vmig.DeviceError) as cm:
            self.src.client.release_device("sim0/vf1", resume=True)
        self.assertIn("setting it active", cm.exception.message)
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.assertEqual(self.src.device(1).job_id, 0)
        mode = self.src.client.release_device("sim0/vf1", resume=True)
        self.assertEqual(mode, pb.MODE_ACTIVE)
        # each resume was a job of its own (GetJob, ListJobs)
        rjobs = [j for j in self.src.client.list_jobs(include_finished=True)
                 if j.direction == pb.DIRECTION_RESUME]
        self.assertEqual([j.phase for j in rjobs],
                         [pb.PHASE_FAILED, pb.PHASE_COMPLETED])
        self.assertEqual(rjobs[1].device, "sim0/vf1")
        st = self.src.sim.state(1)
        self.assertEqual((st["mode"], st["recording"]), ("active", 0))
        writes = st["writes"]
        self.src.sim.wait_for(1, "writes", lambda w: w > writes)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)


class DeviceFaults(MigrationCase):
    VFS = 2

    def migrate_again(self, vf):
        self.src.sim.fault("clear")
        self.dst.sim.fault("clear")
        jid, prep = self.start_migration(vf)
        self.assert_completed(vf, jid, prep)

    def test_source_stop_fails(self):
        # DEV_MODE_SET first comes in stop-copy (stop): refuse it once
        self.pair(1, "hot")
        self.src.sim.fault("fail", op="DEV_MODE_SET", status=EINVAL,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("sim0/vf1", job.error)
        self.assertIn("set mode stopped", job.error)
        self.assertIn("failed in stopcopy", self.src.daemon.log())
        self.assert_source_rolled_back(1)
        djob = self.assert_dest_rolled_back(1, prep.job_id)
        self.assertIn("source aborted", djob.error)
        self.assert_no_device_stuck(self.src)
        self.migrate_again(1)

    def test_recording_refused(self):
        # refused once: vmigd stops a possibly stale recording, retries
        self.pair(1, "hot")
        self.src.sim.fault("fail", op="WRITE_RECORDS_START", status=EINVAL,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)
        self.assertIn("refused to start write recording",
                      self.src.daemon.log())

    def test_recording_refused_for_good(self):
        self.pair(1, "hot")
        self.src.sim.fault("fail", op="WRITE_RECORDS_START", status=EINVAL,
                           vf=1)
        jid, prep = self.start_migration(1)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("starting write recording", job.error)
        self.assertIn("failed in setup", self.src.daemon.log())
        self.assert_source_rolled_back(1)
        self.assert_dest_rolled_back(1, prep.job_id)
        self.migrate_again(1)

    def test_destination_state_write_fails(self):
        # the destination refuses the device state: before it resumed, so
        # the source takes its VF back
        self.pair(1, "stream")
        self.dst.sim.fault("fail", op="DEV_CTX_WRITE", status=EINVAL,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        self.assertIn("writing its state", djob.error)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("destination aborted", job.error)
        self.assert_source_rolled_back(1)
        self.assert_no_device_stuck(self.src)
        self.migrate_again(1)

    def test_destination_resume_fails(self):
        # PrepareIncoming stopped the VF already; then the resume fails
        self.pair(1, "hot")
        prep = self.prepare(1)
        self.dst.sim.fault("fail", op="DEV_MODE_SET", status=EINVAL,
                           count=1, vf=1)
        jid, _ = self.start_migration(1, prep=prep)
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        self.assertIn("set mode active", djob.error)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assert_source_rolled_back(1)
        self.migrate_again(1)

    def test_lost_records_resend_everything(self):
        # the first read reports LOST: every page is sent again, verified
        self.pair(1, "hot")
        self.src.sim.fault("lost", vf=1)
        jid, prep = self.start_migration(1)
        sjob, _ = self.assert_completed(1, jid, prep)
        self.assertIn("lost write records", self.src.daemon.log())
        # random memory (no zero pages): bulk copy + a whole resend
        self.assertGreaterEqual(sjob.stats.memory_processed, 2 * MEM)

    def test_records_rationed(self):
        # at most one record per read: the driver must read again and
        # again, in pre-copy and in stop-copy, and lose nothing
        self.pair(1, "hot", rate="8M", fraction="0.1")
        self.src.sim.fault("more", max=1, vf=1)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)


if __name__ == "__main__":
    unittest.main(verbosity=2)
