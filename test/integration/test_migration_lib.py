"""test_migration_lib: what the migration tests (test_migration*.py) share.

Not a test itself (make check does not run it): two hosts, each a real
vmig-simdev (the simulated PF, "sim0" on both sides so device names
match) and a real vmigd with the virtio-admin plugin, VM memory files in
/dev/shm, and the checks every rollback must pass.

    class T(MigrationCase):
        VFS = 2
        def test_x(self):
            self.workload(1, "hot")
            jid, prep = self.start_migration(1)
            job = self.src.client.wait_job(jid)

Timeouts are liveness bounds (LIVENESS_S), never assertions about speed.
"""

import hashlib
import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from simdev import SimPF  # noqa: E402
from vmigtest import Daemon, TempDir, LIVENESS_S  # noqa: E402
from vmig import pb  # noqa: E402

MiB = 1 << 20
MEM = 16 * MiB
SLOW_BPS = 1 << 20      # a 16 MiB bulk copy at 1 MiB/s: PRECOPY for long
IOVA = 0x100000000
PAGE = 4096
TERMINAL = (pb.PHASE_COMPLETED, pb.PHASE_FAILED, pb.PHASE_CANCELLED)
DEVICE = "sim0/vf%d"


def phase_name(p):
    return pb.JobPhase.Name(p)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def read_file(path, offset=0, length=None):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read() if length is None else f.read(length)


def compressible(size):
    """size bytes that lz4 takes to about a quarter: per page 1 KiB
    random, 3 KiB zeros (none of them a zero page)."""
    r = os.urandom(size // 4)
    z = bytes(PAGE - PAGE // 4)
    q = PAGE // 4
    return b"".join(r[i * q:(i + 1) * q] + z for i in range(size // PAGE))


def skip_unless_built():
    if vmigtest.backend_plugin("virtio-admin") is None:
        raise unittest.SkipTest("the virtio-admin plugin is not built")
    vmigtest.vmigd_path()
    from simdev import simdev_path
    simdev_path()


class Host:
    """One host: a simulated PF with `vfs` VFs and a vmigd managing it."""

    def __init__(self, tmp, name, vfs, config="", spec_opts="",
                 log_level="info", wrap=(), args=(), sim_args=()):
        self.name = name
        self.sim = SimPF(vfs=vfs, name=name + "pf", args=sim_args)
        self.sim.start()
        plugin = vmigtest.backend_plugin("virtio-admin")
        self.spec_opts = spec_opts
        self.daemon = Daemon(
            tmp, name, pfs=[("sim0", "virtio-admin",
                             self.sim.spec + spec_opts)],
            plugins=[plugin], config=config,
            args=["--log-level", log_level, *args], wrap=wrap)
        self.daemon.start()
        self.client = self.daemon.client()
        self.mem = {}           # vf -> memory file path
        self.killed = False

    def attach(self, vf, size=MEM, fill=None):
        """A memory file for vf in /dev/shm, attached to the simulated VF
        at IOVA; fill: None (zeros), "random", "compressible" (each page
        1 KiB random, 3 KiB zeros), or a byte."""
        path = os.path.join("/dev/shm", f"vmigt-{os.getpid()}-{self.name}"
                            f"-vf{vf}")
        with open(path, "wb") as f:
            if fill == "random":
                for _ in range(size // MiB):
                    f.write(os.urandom(MiB))
            elif fill == "compressible":
                f.write(compressible(size))
            elif fill is not None:
                f.write(bytes([fill]) * size)
            else:
                f.truncate(size)
        self.mem[vf] = path
        self.sim.attach(vf, path, size, IOVA)
        return path

    def regions(self, vf):
        return [dict(path=self.mem[vf], iova=IOVA,
                     length=os.path.getsize(self.mem[vf]))]

    def device(self, vf):
        name = DEVICE % vf
        for d in self.client.list_devices().devices:
            if d.name == name:
                return d
        raise AssertionError(f"{self.name}: no device {name} in ListDevices")

    def kill(self):
        """SIGKILL the daemon (a host that dies)."""
        self.daemon.signal(9)
        self.daemon.stop(expect=-9)     # waits, closes the log
        self.killed = True

    def restart(self):
        """Start the killed daemon again (its state directory kept): it
        resolves the dead one's jobs before it answers."""
        self.daemon.start()
        self.client = self.daemon.client()
        self.killed = False

    def history(self, jid):
        """The finished job jid as ListJobs(include_finished) shows it."""
        for j in self.client.list_jobs(include_finished=True):
            if j.id == jid:
                return j
        raise AssertionError(f"{self.name}: job {jid} is not in ListJobs "
                             "--all")

    def close(self, failed):
        """Stop everything; the daemon must exit 0 (sanitizers included)
        unless it was killed. Returns the daemon's log when it failed."""
        err = None
        try:
            self.client.close()
        except Exception:
            pass
        try:
            self.daemon.stop(expect=None if self.killed else 0)
        except Exception as e:     # the daemon's exit status was wrong
            err = e
        self.sim.stop()
        for p in self.mem.values():
            try:
                os.unlink(p)
            except OSError:
                pass
        if failed:
            sys.stderr.write(f"--- {self.name} vmigd log ---\n"
                             f"{self.daemon.log()[-20000:]}\n")
        if err is not None:
            raise err


class MigrationCase(unittest.TestCase):
    """A source and a destination host per test."""

    VFS = 2
    SRC_CONFIG = ""
    DST_CONFIG = ""
    # long device command timeout: tests delay commands for seconds
    SPEC_OPTS = ",timeout=30000"
    LOG_LEVEL = "info"

    @classmethod
    def setUpClass(cls):
        skip_unless_built()

    def setUp(self):
        self.tmp = TempDir()
        self.src = self.dst = None
        try:
            self.src = Host(self.tmp, "src", self.VFS, self.SRC_CONFIG,
                            self.SPEC_OPTS, self.LOG_LEVEL,
                            **self.host_options("src"))
            self.dst = Host(self.tmp, "dst", self.VFS, self.DST_CONFIG,
                            self.SPEC_OPTS, self.LOG_LEVEL,
                            **self.host_options("dst"))
        except Exception:
            self._close(True)
            raise

    def host_options(self, side):
        """More Host() arguments for "src" or "dst" (wrap=, args=)."""
        return {}

    def _failed(self):
        """Did this test (or one of its subtests) fail or err so far?"""
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        if not getattr(outcome, "success", True):
            return True
        res = getattr(outcome, "result", None)
        errs = list(getattr(res, "errors", [])) + \
            list(getattr(res, "failures", []))
        return any(getattr(t, "test_case", t) is self for t, _ in errs)

    def _close(self, failed):
        errs = []
        for h in (self.src, self.dst):
            if h is None:
                continue
            try:
                h.close(failed)
            except Exception as e:
                errs.append(e)
        self.tmp.cleanup()
        if errs:
            raise errs[0]

    def tearDown(self):
        self._close(self._failed())

    # ---------------------------------------------------------- set-up

    def pair(self, vf, workload="hot", fill="random", hold_dst=True,
             **params):
        """Memory on both sides for vf, a workload on the source VF; the
        destination VF is held so that after the migration it writes
        nothing until the test releases it."""
        self.src.attach(vf, fill=fill)
        self.dst.attach(vf, fill=0x5a)
        if workload is not None:
            self.src.sim.workload(vf, workload, **params)
        if hold_dst:
            self.dst.sim.hold(vf)

    def prepare(self, vf, policy=None):
        return self.dst.client.prepare_incoming(
            DEVICE % vf, self.dst.regions(vf), policy=policy, vm=f"vm{vf}")

    def start_migration(self, vf, policy=None, prep=None):
        """PrepareIncoming on the destination, StartMigration on the
        source; returns (source job id, PrepareIncomingResponse)."""
        policy = dict(policy or {})
        policy.setdefault("verify", True)
        policy.setdefault("bulk_copy", True)
        if prep is None:
            prep = self.prepare(vf, dict(verify=policy["verify"]))
        jid = self.src.client.start_migration(
            DEVICE % vf, self.src.regions(vf), prep.stream_url, prep.token,
            policy=policy, vm=f"vm{vf}")
        return jid, prep

    def start_slow_migration(self, vf):
        """A migration held to SLOW_BPS, returned once pages flow, so a
        test can act on it mid-copy."""
        jid, prep = self.start_migration(
            vf, dict(bandwidth_limit_bps=SLOW_BPS))
        self.src.client.wait_job(
            jid, timeout=LIVENESS_S,
            until=lambda j: j.stats.memory_processed > 0)
        return jid, prep

    def wait_phase(self, client, jid, phases, timeout=LIVENESS_S):
        """Until the job is in one of phases (or ended: then fail)."""
        if isinstance(phases, int):
            phases = (phases,)
        job = client.wait_job(jid, timeout=timeout,
                              until=lambda j: j.phase in phases)
        self.assertIn(job.phase, phases, f"job {jid} ended "
                      f"{phase_name(job.phase)} ({job.error}) instead of "
                      f"reaching {[phase_name(p) for p in phases]}")
        return job

    def wait_faulted(self, sim, before, timeout=LIVENESS_S):
        """Until the simulator has applied a fault since `before` (its
        info faulted= count): a delayed command has arrived."""
        vmigtest.wait_for(lambda: sim.info()["faulted"] > before,
                          "the simulator to apply the fault", timeout)

    # ---------------------------------------------------------- checks

    def assert_completed(self, vf, jid, prep, src_job=None):
        """Both jobs COMPLETED and verified, memory and device state
        equal, the source VF frozen and owned, the destination active."""
        sjob = src_job or self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(sjob.phase, pb.PHASE_COMPLETED,
                         f"source job {jid}: {phase_name(sjob.phase)}: "
                         f"{sjob.error}")
        self.assertTrue(sjob.verified, f"source job {jid} not verified")
        djob = self.dst.client.wait_job(prep.job_id, timeout=LIVENESS_S)
        self.assertEqual(djob.phase, pb.PHASE_COMPLETED,
                         f"destination job {prep.job_id}: "
                         f"{phase_name(djob.phase)}: {djob.error}")
        self.assertTrue(djob.verified)
        self.assertEqual(file_digest(self.src.mem[vf]),
                         file_digest(self.dst.mem[vf]),
                         f"vf{vf}: memory files differ")
        self.assertEqual(self.src.sim.digest(vf), self.dst.sim.digest(vf),
                         f"vf{vf}: device state differs")
        self.assertEqual(self.src.sim.mode(vf), "freeze")
        self.assertEqual(self.dst.sim.mode(vf), "active")
        self.assertEqual(self.src.sim.state(vf)["recording"], 0)
        dev = self.src.device(vf)
        self.assertEqual(dev.job_id, jid, "a migrated-away VF stays owned")
        self.assertEqual(self.dst.device(vf).job_id, 0)
        return sjob, djob

    def assert_source_rolled_back(self, vf, writes=True):
        """The source VF runs again, recording is off, the VF is free, and
        (writes) its workload still writes."""
        st = self.src.sim.state(vf)
        self.assertEqual(st["mode"], "active", f"source vf{vf}: {st}")
        self.assertEqual(st["recording"], 0, f"source vf{vf}: {st}")
        self.assertEqual(self.src.device(vf).job_id, 0)
        if writes:
            n = st["writes"]
            self.src.sim.wait_for(vf, "writes", lambda w: w > n)

    def assert_dest_rolled_back(self, vf, djid, phases=(pb.PHASE_FAILED,
                                                        pb.PHASE_CANCELLED)):
        """The destination job ended without completing, its VF is stopped
        (as prepared) and free for the next attempt."""
        djob = self.dst.client.wait_job(djid, timeout=LIVENESS_S)
        self.assertIn(djob.phase, phases, f"destination job {djid}: "
                      f"{phase_name(djob.phase)}: {djob.error}")
        self.assertEqual(self.dst.sim.mode(vf), "stop")
        self.assertEqual(self.dst.device(vf).job_id, 0)
        return djob

    def assert_no_device_stuck(self, host, skip=()):
        """No VF of host is stopped or frozen (skip: VFs that may be)."""
        for vf in range(1, self.VFS + 1):
            if vf in skip:
                continue
            self.assertEqual(host.sim.mode(vf), "active",
                             f"{host.name} vf{vf} left {host.sim.mode(vf)}")


if __name__ == "__main__":
    sys.exit(0)     # a library; the tests import it
