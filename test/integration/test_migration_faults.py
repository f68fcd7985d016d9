#!/usr/bin/python3
"""test_migration_faults: hosts that die and devices that fail.

The destination daemon SIGKILLed in every phase the source can be caught
in (SETUP, PRECOPY, STOPCOPY, RESUMING): the source job FAILED naming the
lost connection, its VF running again with recording stopped (in
RESUMING, after Switchover, kept stopped with a reason saying so, until
the operator resumes it), its memory
file untouched by vmigd (mapped read-only: the half the workload never
writes keeps its bytes) and its workload still writing. A source whose loop hangs
(SIGSTOP) in stop-copy stops pinging the systemd watchdog, is killed the
way systemd does it and started again, and recovers the same way. Either
daemon SIGKILLed and started again: the new one resolves what the dead one left
before it answers, with no command typed (a source VF frozen in
stop-copy runs again, a destination VF caught loading is stopped with
its partial state discarded and its memory untouched; a source killed
after it sent Switchover keeps its VF stopped, since the destination may
have resumed, and says what to check and run), and keeps the
dead job's final record and every finished job in ListJobs --all across
the restart. Device commands
failing on either side mid-migration, and devices that lose or ration
their write records: the job fails and rolls back, or copes, and nothing
is lost (a later migration of the same VF verifies).
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import (MigrationCase, phase_name,  # noqa: E402
                                read_file, MEM, LIVENESS_S, SLOW_BPS)
import vmig  # noqa: E402
import vmigtest  # noqa: E402
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
        # after Switchover the source cannot know the destination did not
        # resume: it keeps its VF stopped and says so (DESIGN.md)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("connection to the destination lost", job.error)
        self.assertIn("the VF stays stopped here", job.error)
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.assertEqual(self.src.sim.state(1)["recording"], 0)
        self.assertEqual(self.src.device(1).job_id, 0)
        self.assertEqual(read_file(self.src.mem[1], HALF), self.untouched)
        # the operator, knowing the destination did not resume, resumes
        mode = self.src.client.release_device("sim0/vf1", resume=True)
        self.assertEqual(mode, pb.MODE_ACTIVE)
        self.assert_source_rolled_back(1)


class SourceKilled(MigrationCase):
    """The source daemon killed, then started again: what the dead one
    left is resolved before the new one answers, with no command typed
    (DESIGN.md, "Crash recovery")."""
    VFS = 2

    def assert_recovered(self, jid, phase):
        job = self.src.history(jid)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn(f"daemon restarted while the job was in {phase}",
                      job.error)
        self.assert_source_rolled_back(1)

    def test_precopy(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.src.kill()
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        self.assertIn("connection to the source lost", djob.error)
        self.assert_no_device_stuck(self.dst, skip=(1,))
        self.assertEqual(self.src.sim.state(1)["recording"], 1)
        # the restarted daemon stops the recording the dead one started
        self.src.restart()
        # the journal's last record is from setup (recording started)
        self.assert_recovered(jid, "setup")
        self.assertIn("write recording stopped", self.src.history(jid).error)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)

    def kill_in_stopcopy(self):
        """The source daemon killed while its VF is frozen in stop-copy;
        returns the job id."""
        self.pair(1, "hot")
        # every state read slow: the stop-copy one holds the VF frozen
        self.src.sim.fault("delay", op="DEV_CTX_READ", ms=DELAY_MS, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_phase(self.src.client, jid, pb.PHASE_STOPCOPY)
        self.src.sim.wait_for(1, "mode", lambda m: m == "freeze")
        self.src.kill()
        self.src.sim.fault("clear")
        self.assert_dest_rolled_back(1, prep.job_id, (pb.PHASE_FAILED,))
        return jid

    def test_stopcopy_recovered(self):
        # killed while its VF is frozen: the restarted daemon resumes it
        jid = self.kill_in_stopcopy()
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.src.restart()
        self.assert_recovered(jid, "stopcopy")
        self.assertIn("the VF was resumed here", self.src.history(jid).error)
        self.assertIn("resolving 1 jobs", self.src.daemon.log())
        # the recovery was a job of its own, kept in the history too
        rjobs = [j for j in self.src.client.list_jobs(include_finished=True)
                 if j.direction == pb.DIRECTION_RESUME]
        self.assertEqual([j.phase for j in rjobs], [pb.PHASE_COMPLETED])
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)

    def test_stopcopy_recovery_fails_then_resume(self):
        # the recovery's mode change fails: the VF stays as it was, the
        # history says why, and the operator's resume still works
        jid = self.kill_in_stopcopy()
        self.src.sim.fault("fail", op="DEV_MODE_SET", status=EINVAL,
                           count=1, vf=1)
        self.src.restart()
        job = self.src.history(jid)
        self.assertEqual(job.phase, pb.PHASE_FAILED)
        self.assertIn("recovery job", job.error)
        self.assertIn("setting it active", job.error)
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.assertEqual(self.src.device(1).job_id, 0)
        with self.assertRaises(vmig.FailedPrecondition):
            self.src.client.release_device("sim0/vf1")
        mode = self.src.client.release_device("sim0/vf1", resume=True)
        self.assertEqual(mode, pb.MODE_ACTIVE)
        self.assert_source_rolled_back(1)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)

    def test_after_switchover_kept_stopped(self):
        # killed after Switchover, before Done: the destination may be
        # resuming the device, so the restarted source must not resume
        # its VF too (two devices on one memory is the worst outcome,
        # DESIGN.md "Crash recovery"); it keeps it stopped and says so
        self.pair(1, "hot")
        before = self.dst.sim.info()["faulted"]
        self.dst.sim.fault("delay", op="DEV_CTX_WRITE", ms=DELAY_MS,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_faulted(self.dst.sim, before)
        self.wait_phase(self.src.client, jid, pb.PHASE_RESUMING)
        self.src.kill()
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.src.restart()
        job = self.src.history(jid)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("daemon restarted while the job was in", job.error)
        self.assertIn("may have resumed the VF and could not be asked: "
                      "kept stopped", job.error)
        self.assertIn("vmigctl release DEVICE --resume", job.error)
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.assertEqual(self.src.sim.state(1)["recording"], 0)
        # here the destination lost its source while loading, before the
        # resume: it rolled back, so the VM runs nowhere until the
        # operator, having checked the destination, resumes the source
        djob = self.dst.client.wait_job(prep.job_id, timeout=LIVENESS_S)
        self.assertEqual(djob.phase, pb.PHASE_FAILED, djob.error)
        self.assertIn("connection to the source lost", djob.error)
        self.assertEqual(self.dst.sim.mode(1), "stop")
        self.assertEqual(self.src.sim.mode(1), "freeze")
        mode = self.src.client.release_device("sim0/vf1", resume=True)
        self.assertEqual(mode, pb.MODE_ACTIVE)
        self.assert_source_rolled_back(1)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)

    def test_history_survives_restart(self):
        self.pair(1, "hot")
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)
        done = self.src.client.get_job(jid)
        self.src.kill()
        self.src.restart()
        job = self.src.history(jid)
        self.assertEqual(job.phase, pb.PHASE_COMPLETED)
        self.assertEqual(job.device, "sim0/vf1")
        self.assertEqual(job.stats.memory_total, done.stats.memory_total)
        self.assertEqual(job.stats.downtime_ms, done.stats.downtime_ms)
        self.assertGreater(job.stats.memory_processed, 0)
        # not among the live jobs, and new ids go on above it
        self.assertNotIn(jid, [j.id for j in self.src.client.list_jobs()])
        self.src.client.release_device("sim0/vf1", resume=True)
        rel = [j for j in self.src.client.list_jobs(include_finished=True)
               if j.direction == pb.DIRECTION_RESUME]
        self.assertGreater(rel[-1].id, jid)


class DestinationKilledRestarted(MigrationCase):
    VFS = 2

    def test_stopcopy(self):
        # killed while loading: the restarted destination discards the
        # partial state, leaves the VF stopped and free, and never writes
        # the VM's memory again
        self.pair(1, "hot")
        before = self.dst.sim.info()["faulted"]
        self.dst.sim.fault("delay", op="DEV_CTX_WRITE", ms=DELAY_MS,
                           count=1, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_faulted(self.dst.sim, before)
        self.dst.kill()
        # the source, after Switchover, keeps its VF stopped (see
        # DestinationKilled.test_resuming)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertIn("the VF stays stopped here", job.error)
        mem = read_file(self.dst.mem[1])
        self.dst.restart()
        job = self.dst.history(prep.job_id)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("daemon restarted while the job was in", job.error)
        self.assertIn("partial state was discarded", job.error)
        st = self.dst.sim.state(1)
        self.assertEqual((st["mode"], st["ctx_pending"]), ("stop", 0),
                         str(st))
        self.assertEqual(self.dst.device(1).job_id, 0)
        self.assertEqual(read_file(self.dst.mem[1]), mem,
                         "the destination's memory changed after the kill")
        # the destination's history says it never resumed: resume here
        self.src.client.release_device("sim0/vf1", resume=True)
        self.assert_source_rolled_back(1)
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)


def unit_settings():
    """[Service] key -> value of the systemd unit we ship."""
    path = os.path.join(vmigtest.srcdir(), "systemd", "vmigd.service.in")
    out = {}
    with open(path) as f:
        for line in f:
            k, eq, v = line.strip().partition("=")
            if eq and not line.startswith("#"):
                out.setdefault(k, v)
    return out


def seconds(v):
    """A systemd time span of our unit ("30s", "2s") in seconds."""
    if not v.endswith("s") or not v[:-1].isdigit():
        raise AssertionError(f"unit time span {v!r}: not whole seconds")
    return int(v[:-1])


class WatchdogHang(MigrationCase):
    """A hung source loop (SIGSTOP, in stop-copy with its VF frozen) is
    caught by the systemd watchdog and recovered with no command typed.

    PID 1 here is not systemd, so the test plays systemd's part exactly
    as the unit we ship configures it (Type=notify, WatchdogSec,
    Restart=on-failure): it owns NOTIFY_SOCKET, passes WATCHDOG_USEC, and
    when no WATCHDOG=1 came for WatchdogSec it does what systemd does on
    a watchdog timeout (SIGABRT then SIGCONT, so a stopped process takes
    it), then starts the daemon again
    because the exit was a failure. WatchdogSec is scaled down from the
    unit's 30 s to 4 s so the test takes seconds; everything on the
    daemon's side is real: its pings, its silence when hung, its
    recovery from the journal after the restart."""
    VFS = 2
    WATCHDOG_S = 4     # pings every 2 s: slack for a loaded CI machine

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if vmigtest.notify_backend() != "sd_notify":
            raise unittest.SkipTest("vmigd built without libsystemd")

    def tearDown(self):
        # a test that failed with the source stopped: let it take the
        # SIGTERM that tearDown sends (cleanups would come too late)
        d = self.src.daemon if self.src is not None else None
        if d is not None and d.proc is not None and d.proc.poll() is None:
            d.signal(signal.SIGCONT)
        super().tearDown()

    def supervise(self):
        """The source daemon restarted under our stand-in for systemd."""
        self.notify = vmigtest.NotifySocket(self.tmp)
        self.addCleanup(self.notify.close)
        self.src.daemon.stop()
        self.src.daemon.env = self.notify.env(
            watchdog_usec=self.WATCHDOG_S * 1000000)
        self.src.restart()
        self.notify.wait("READY=1")

    def stop_source(self):
        """SIGSTOP the source daemon; returns once every thread of it is
        stopped, with the pings it sent before that read and dropped."""
        d = self.src.daemon
        d.signal(signal.SIGSTOP)
        task = f"/proc/{d.proc.pid}/task"

        def state(t):
            with open(f"{task}/{t}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]

        def stopped():
            try:
                return all(state(t) == "T" for t in os.listdir(task))
            except OSError:
                return False
        vmigtest.wait_for(stopped, "the source daemon to stop")
        self.notify.sock.setblocking(False)
        try:
            while self.notify.sock.recv(4096):
                pass
        except BlockingIOError:
            pass
        self.notify.sock.setblocking(True)

    def watchdog_fired(self):
        """True once no WATCHDOG=1 came for WatchdogSec (systemd's rule);
        False if one did. Reads the datagrams as they come."""
        sock = self.notify.sock
        last = time.monotonic()
        while True:
            left = last + self.WATCHDOG_S - time.monotonic()
            if left <= 0:
                return True
            sock.settimeout(left)
            try:
                m = sock.recv(4096).decode()
            except socket.timeout:
                continue
            if "WATCHDOG=1" in m:
                return False

    def test_hung_loop_restarted_and_recovered(self):
        unit = unit_settings()
        self.assertEqual(unit.get("Type"), "notify")
        self.assertEqual(unit.get("Restart"), "on-failure")
        self.assertGreater(seconds(unit.get("WatchdogSec", "")), 0)
        restart_s = seconds(unit.get("RestartSec", "0s"))
        self.supervise()
        # alive: pings come well within WatchdogSec, several in a row
        for _ in range(3):
            self.assertFalse(self.watchdog_fired(),
                             "no WATCHDOG=1 within WatchdogSec while idle")
        self.pair(1, "hot")
        self.src.sim.fault("delay", op="DEV_CTX_READ", ms=DELAY_MS, vf=1)
        jid, prep = self.start_migration(1)
        self.wait_phase(self.src.client, jid, pb.PHASE_STOPCOPY)
        self.src.sim.wait_for(1, "mode", lambda m: m == "freeze")
        # the loop hangs: the process is stopped with its VF frozen
        self.stop_source()
        self.assertTrue(self.watchdog_fired(),
                        "a stopped daemon still pinged the watchdog")
        # systemd on a watchdog timeout: the WatchdogSignal (SIGABRT),
        # then SIGCONT so that a stopped process acts on it
        self.src.daemon.signal(signal.SIGABRT)
        self.src.daemon.signal(signal.SIGCONT)
        self.assertEqual(self.src.daemon.wait_exit(LIVENESS_S),
                         -signal.SIGABRT)
        self.src.daemon.stop(expect=None)
        self.src.killed = True
        self.src.sim.fault("clear")
        self.assertEqual(self.src.sim.mode(1), "freeze")
        self.assert_dest_rolled_back(1, prep.job_id, (pb.PHASE_FAILED,))
        # Restart=on-failure: a death by signal is a failure
        time.sleep(restart_s)
        self.src.restart()
        self.notify.wait("READY=1")
        job = self.src.history(jid)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("daemon restarted while the job was in stopcopy",
                      job.error)
        self.assertIn("the VF was resumed here", job.error)
        self.assert_source_rolled_back(1)
        # and the restarted daemon pings again
        self.assertFalse(self.watchdog_fired())
        jid, prep = self.start_migration(1)
        self.assert_completed(1, jid, prep)


def mount_tmpfs(path, size):
    """A small tmpfs at path (a full disk on demand); the reason it could
    not be mounted, or None."""
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                        "tmpfs", path], capture_output=True, text=True)
    return None if p.returncode == 0 else f"cannot mount a tmpfs: " \
        f"{p.stderr.strip()}"


class StateDirFull(MigrationCase):
    """The source's state directory on a full file system: the journal
    record before write recording cannot be written, so the job fails
    saying so before the device is touched (the VF runs on, nothing is
    recording), and the next migration, once there is room, completes."""
    VFS = 2

    def host_options(self, side):
        if side != "src":
            return {}
        self.state = tempfile.mkdtemp(prefix="vmig-state-", dir="/tmp")
        self.addCleanup(os.rmdir, self.state)
        why = mount_tmpfs(self.state, "256k")
        if why:
            self.skipTest(why)
        self.addCleanup(subprocess.run, ["umount", self.state])
        return dict(args=["--state-dir", self.state])

    def fill(self):
        path = os.path.join(self.state, "filler")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"x" * 4096)
        except OSError:     # ENOSPC: full
            pass
        finally:
            os.close(fd)
        return path

    def test_journal_write_fails_cleanly(self):
        self.pair(1, "hot")
        filler = self.fill()
        jid, prep = self.start_migration(1)
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("No space left on device", job.error)
        self.assertIn("cannot append to the record of job", job.error)
        self.assert_source_rolled_back(1)
        self.assert_dest_rolled_back(1, prep.job_id)
        self.assertIn("is not kept in the history", self.src.daemon.log())
        os.unlink(filler)
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
