#!/usr/bin/python3
"""test_migration_netns: the network failing under a migration, the way it
fails in a data centre.

The source and the destination vmigd each run in a network namespace of
their own (netns.py), joined by a veth pair that the stream crosses; the
simulated PFs and the control sockets are UNIX sockets (files), so the
tests drive both daemons from here as usual. Without root or network
namespaces these skip, saying why; without sch_netem in the kernel the
latency and loss test skips alone.

- The link cut (down on both ends: no RST, no FIN) in pre-copy and in
  stop-copy with a completion timeout: the job fails and rolls back, the
  source VF runs again, recording off, released.
- The same cut without a completion timeout: the source notices the
  silent stream by its Ack liveness bound (bytes outstanding and no Ack
  for JOB_ACK_TIMEOUT_MS, 30 s; TCP alone would wait about 15 minutes),
  fails the job naming it and rolls back.
- The link cut after the destination resumed, before its Done reached
  the source: the source must not run its VF too (DESIGN.md, "Crash
  recovery"). It times out waiting for Done, keeps its VF stopped and
  says so in the job's reason.
- 200 ms each way and 1 % loss (tc netem): the job completes, or gives up
  with a reason and rolls back. A slow link (tc tbf): the same. Without
  sch_netem (SlowLinkRelay): the loss from a tc clsact BPF program
  (netloss.bpf.c, real drops), the latency from delayrelay.py, a TCP
  relay holding every chunk 200 ms each way.
- A destination that takes the connection and then never reads: the
  source's own memory (RssAnon: the guest memory it maps is the VM's)
  stays bounded, and a cancel still rolls it back.

Waits are liveness bounds (generous, against hanging forever), never
assertions about speed.
"""

import os
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from netns import (NetPair, bpf_loss_unavailable,  # noqa: E402
                   netem_unavailable, netns_unavailable, tbf_unavailable)
from streampeer import PROTOCOL, Peer, frame, spb  # noqa: E402
from test_migration_lib import (MigrationCase, phase_name,  # noqa: E402
                                DEVICE, LIVENESS_S, MiB, SLOW_BPS)
from vmig import pb  # noqa: E402

DELAY_MS = 4000
TIMEOUT_S = 20          # completion timeout of the jobs the cut must end
GAP_WAIT_S = 45         # the known gaps: how long a fix may take to notice


class NetnsCase(MigrationCase):
    @classmethod
    def setUpClass(cls):
        why = netns_unavailable()
        if why:
            raise unittest.SkipTest(why)
        super().setUpClass()

    def setUp(self):
        self.net = NetPair().setup()
        try:
            super().setUp()
        except Exception:
            self.net.cleanup()
            raise

    def tearDown(self):
        try:
            # a cut link must not make the destination's teardown wait
            self.net.restore()
            super().tearDown()
        finally:
            self.net.cleanup()

    def host_options(self, side):
        s = "a" if side == "src" else "b"
        return dict(wrap=self.net.wrap(s), args=[
            "--stream-bind", f"tcp://{self.net.addr(s)}"])

    def assert_ended_rolled_back(self, jid, why=None):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED,
                         f"{phase_name(job.phase)}: {job.error}")
        self.assertTrue(job.error)
        if why:
            self.assertIn(why, job.error)
        self.assert_source_rolled_back(1)
        self.assert_no_device_stuck(self.src)
        return job

    def assert_completes_or_gives_up(self, jid, prep):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S * 5)
        if job.phase == pb.PHASE_COMPLETED:
            self.assert_completed(1, jid, prep, src_job=job)
        else:
            self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
            self.assertTrue(job.error, "a job that gives up says why")
            self.assert_source_rolled_back(1)
            self.assert_dest_rolled_back(1, prep.job_id)


class LinkCut(NetnsCase):
    VFS = 2

    def test_stream_crosses_the_link(self):
        self.pair(1, "hot")
        jid, prep = self.start_migration(1)
        self.assertIn(self.net.addr("b"), prep.stream_url)
        self.assert_completed(1, jid, prep)

    def test_precopy(self):
        self.pair(1, "hot")
        jid, prep = self.start_migration(
            1, dict(bandwidth_limit_bps=SLOW_BPS,
                    completion_timeout_s=TIMEOUT_S))
        self.src.client.wait_job(
            jid, until=lambda j: j.stats.memory_processed > 0)
        self.net.cut()
        self.assert_ended_rolled_back(jid, "completion timeout")

    def test_stopcopy(self):
        self.pair(1, "hot")
        # the final state read is slow: the VF is frozen, in stop-copy,
        # when the link goes
        self.src.sim.fault("delay", op="DEV_CTX_READ", ms=DELAY_MS, vf=1)
        jid, prep = self.start_migration(
            1, dict(completion_timeout_s=TIMEOUT_S))
        self.wait_phase(self.src.client, jid, pb.PHASE_STOPCOPY)
        self.src.sim.wait_for(1, "mode", lambda m: m == "freeze")
        self.net.cut()
        self.src.sim.fault("clear")
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        if "the VF stays stopped here" in job.error:
            # Switchover was sent into the cut link: from here the source
            # cannot tell whether it arrived, so it keeps its VF stopped
            self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
            self.assertEqual(self.src.sim.mode(1), "freeze")
            self.assertEqual(self.src.sim.state(1)["recording"], 0)
            self.assertEqual(self.src.device(1).job_id, 0)
        else:
            self.assert_ended_rolled_back(jid)
        # the destination never resumed: its VF is stopped, as prepared
        self.assertEqual(self.dst.sim.mode(1), "stop")

    def test_precopy_without_completion_timeout(self):
        # the Ack liveness bound notices the silent stream
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.net.cut()
        job = self.src.client.wait_job(jid, timeout=GAP_WAIT_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("the destination acknowledged nothing", job.error)
        self.assert_source_rolled_back(1)

    def test_after_the_destination_resumed(self):
        # the destination resumes (slowly); the link goes before its Done
        # arrives; the source must keep its VF stopped
        self.pair(1, "hot")
        # after PrepareIncoming's own mode change: the resume's is slow
        prep = self.prepare(1, dict(verify=True))
        self.dst.sim.fault("delay", op="DEV_MODE_SET", ms=DELAY_MS, vf=1,
                           count=1)
        jid, prep = self.start_migration(1, prep=prep)
        self.wait_phase(self.src.client, jid, pb.PHASE_RESUMING)
        self.net.cut()
        self.dst.sim.wait_for(1, "mode", lambda m: m == "active")
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S * 2)
        modes = (self.src.sim.mode(1), self.dst.sim.mode(1))
        self.assertNotEqual(modes, ("active", "active"),
                            f"source job {phase_name(job.phase)} "
                            f"({job.error}): both VFs run the device")
        self.assertEqual(job.phase, pb.PHASE_FAILED, job.error)
        self.assertIn("the VF stays stopped here", job.error)
        self.assertEqual(self.src.sim.state(1)["recording"], 0)
        self.assertEqual(self.src.device(1).job_id, 0)


class SlowLink(NetnsCase):
    VFS = 2

    def test_latency_and_loss(self):
        why = netem_unavailable()
        if why:
            self.skipTest(f"{why} (SlowLinkRelay emulates it without)")
        self.net.netem(delay_ms=200, loss_pct=1)
        self.pair(1, "hot")
        jid, prep = self.start_migration(
            1, dict(completion_timeout_s=LIVENESS_S * 3))
        self.assert_completes_or_gives_up(jid, prep)

    def test_slow_link(self):
        why = tbf_unavailable()
        if why:
            self.skipTest(why)
        self.net.rate("24mbit")
        self.pair(1, "hot")
        jid, prep = self.start_migration(
            1, dict(completion_timeout_s=LIVENESS_S * 3))
        self.assert_completes_or_gives_up(jid, prep)


class SlowLinkRelay(NetnsCase):
    """200 ms and 1 % loss where the kernel has no sch_netem: the loss is
    real (netloss.bpf.c drops 1 packet in 100 at random on each end's
    egress, tc clsact), the latency is delayrelay.py in the destination's
    namespace holding every chunk 200 ms each way (4 MiB held at most per
    direction); the source dials the relay across the lossy veth instead
    of the destination's stream. Pages go on the stream
    (data_connections = 0): the data connections' URLs come from the
    destination in the HelloAck and would go around the relay. With
    netem present, SlowLink runs the real thing and this skips; without
    cls_bpf, the relay runs alone and says that loss is not emulated."""
    VFS = 2
    SRC_CONFIG = DST_CONFIG = "[daemon]\ndata_connections = 0\n"

    def test_latency_and_loss(self):
        if netem_unavailable() is None:
            self.skipTest("tc netem is here: SlowLink emulates it")
        no_loss = bpf_loss_unavailable()
        if no_loss:
            sys.stderr.write(f"loss NOT emulated ({no_loss}): the "
                             "relay's 200 ms latency only\n")
        else:
            self.net.bpf_loss(1)
        self.pair(1, "hot")
        prep = self.prepare(1, dict(verify=True))
        host, port = prep.stream_url[len("tcp://"):].rsplit(":", 1)
        with self.net.relay("b", host, int(port), delay_ms=200) as relay:
            prep.stream_url = relay.url
            jid, prep = self.start_migration(
                1, dict(completion_timeout_s=LIVENESS_S * 3), prep=prep)
            self.assert_completes_or_gives_up(jid, prep)
        job = self.src.client.get_job(jid)
        # the stream went through the relay (not around it), and the
        # link lost packets under it
        self.assertGreaterEqual(relay.relayed[0], job.stats.bytes_sent,
                                f"relayed {relay.relayed}")
        drops = sum(self.net.dropped(s) for s in "ab")
        if not no_loss:
            self.assertGreater(drops, 0, "the BPF program dropped nothing")
        sys.stderr.write(
            f"relay 200 ms each way, {'no loss' if no_loss else '1 % loss'}"
            f": {phase_name(job.phase)} ({job.error or 'no error'}) in "
            f"{job.stats.time_elapsed_ms} ms, {job.stats.bytes_sent} bytes"
            f", {job.stats.memory_iteration} rounds, downtime "
            f"{job.stats.downtime_ms} ms; relayed {relay.relayed} bytes, "
            f"{drops} packets dropped\n")


def rss_anon_bytes(pid):
    """The process's own memory (RssAnon): the guest memory it maps
    (RssShmem, RssFile) is the VM's, counted once whoever maps it."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no RssAnon for {pid}")


class NeverReads(MigrationCase):
    """A destination that takes the connection, says HelloAck with a huge
    window, and never reads again: nng and TCP push back, and the source
    holds at most its own window in memory, not the VM's."""
    VFS = 2
    BIG = 128 * MiB

    def test_source_memory_bounded(self):
        self.src.attach(1, size=self.BIG, fill="random")
        self.src.sim.workload(1, "hot")
        with Peer() as fake:
            url = fake.listen()
            base = rss_anon_bytes(self.src.daemon.pid)
            jid = self.src.client.start_migration(
                DEVICE % 1, self.src.regions(1), url, b"t" * 32,
                policy=dict(bulk_copy=True))
            fake.expect("hello")
            fake.send(frame(hello_ack=spb.HelloAck(
                protocol_version=PROTOCOL, dest_job_id=1,
                window_bytes=1 << 40)))

            # until the source stops making progress (a sync point, not
            # a measurement): bytes sent equal over two looks
            def stalled():
                a = self.src.client.get_job(jid).stats.bytes_sent
                time.sleep(1)
                b = self.src.client.get_job(jid)
                return a > 0 and b.stats.bytes_sent == a and b
            job = vmigtest.wait_for(stalled, "the source to stall",
                                    LIVENESS_S)
            self.assertEqual(job.phase, pb.PHASE_PRECOPY)
            self.assertLess(job.stats.bytes_sent, self.BIG,
                            "everything went: nothing pushed back")
            grown = rss_anon_bytes(self.src.daemon.pid) - base
            self.assertLess(grown, 48 * MiB,
                            f"the source grew by {grown >> 20} MiB for a "
                            f"peer that reads nothing (sent "
                            f"{job.stats.bytes_sent >> 20} MiB)")
            self.src.client.cancel_job(jid)
            job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
            self.assertEqual(job.phase, pb.PHASE_CANCELLED, job.error)
            self.assert_source_rolled_back(1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
