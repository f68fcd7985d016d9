#!/usr/bin/python3
"""test_migration_peer: a hostile or broken peer on the migration stream.

streampeer.Peer plays the other daemon by hand (nng PAIR1, the frames of
proto/stream.proto built one field at a time):

- a fake destination that answers the real source's Hello with garbage
  bytes, or with well-formed frames the protocol does not allow there: the
  source job FAILED with a protocol reason, rolled back (VF running,
  recording off, released, its memory never written);
- a fake source that connects to a really prepared destination with the
  right token and sends page batches that lie outside the region (or
  otherwise do not add up), or page deltas that do not (a region not
  prepared, a page outside it, ranges past their page, overlapping or
  empty, a count or lengths that lie): the destination job FAILED naming
  the region and page, its memory file unchanged, its VF stopped and
  released; the same for compressed batches on a data connection whose
  codec is unknown, whose block is not shorter than its runs, is corrupt,
  or decodes to another length than its runs (and for one on the stream);
- a fake source with a wrong token, or no Hello at all, or garbage: told
  why (an Abort), dropped and logged, while the prepared job keeps waiting
  for the right source, which then migrates into it; after
  JOB_REFUSALS_MAX such peers the job fails with the last reason, the
  memory unchanged, the VF released.
"""

import os
import struct
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from test_migration_lib import (MigrationCase, file_digest,  # noqa: E402
                                phase_name, read_file, DEVICE, IOVA, MEM,
                                PAGE, LIVENESS_S)
from streampeer import (Peer, frame, hello_for, kind, spb,  # noqa: E402
                        PROTOCOL, data_dial, encode, lz4_fills,
                        lz4_literals)
from vmig import pb  # noqa: E402

HALF = MEM // 2
NPAGES = MEM // PAGE
REFUSALS_MAX = 8        # JOB_REFUSALS_MAX (daemon/job.h)


def delta_entry(page, off, length):
    """One PageDelta entry (daemon/delta.h): le64 page, le32 off, len."""
    return struct.pack("<QII", page, off, length)


class FakeDestination(MigrationCase):
    """The real source daemon talks to streampeer listening."""
    VFS = 2

    def setUp(self):
        super().setUp()
        self.pair(1, "hot", length=f"{HALF}")
        self.untouched = read_file(self.src.mem[1], HALF)
        self.fake = Peer()
        self.url = self.fake.listen()

    def tearDown(self):
        self.fake.close()
        super().tearDown()

    def start(self):
        jid = self.src.client.start_migration(
            DEVICE % 1, self.src.regions(1), self.url, b"t" * 32,
            policy=dict(verify=True, bulk_copy=True))
        f, payload = self.fake.expect("hello")
        h = f.hello
        # what a real source says about itself
        self.assertEqual(payload, b"")
        self.assertEqual(h.protocol_version, PROTOCOL)
        self.assertEqual(h.token, b"t" * 32)
        self.assertEqual(h.source_job_id, jid)
        self.assertEqual([d.source_device for d in h.devices], [DEVICE % 1])
        self.assertEqual(h.devices[0].device_type, self.src.device(1).type)
        self.assertEqual([(r.index, r.iova, r.length) for r in h.regions],
                         [(0, IOVA, MEM)])
        self.assertEqual(h.page_size, PAGE)
        self.assertTrue(h.verify)
        return jid

    def assert_failed(self, jid, *words):
        job = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(job.phase, pb.PHASE_FAILED,
                         f"{phase_name(job.phase)}: {job.error}")
        for w in words:
            self.assertIn(w, job.error)
        self.assert_source_rolled_back(1)
        self.assert_no_device_stuck(self.src)
        self.assertEqual(read_file(self.src.mem[1], HALF), self.untouched)
        return job

    def assert_told(self, code):
        """The source sent an Abort with this code before it hung up."""
        f, _ = self.fake.expect("abort", timeout_ms=LIVENESS_S * 1000,
                                skip=("ack", "pages", "state"))
        self.assertEqual(f.abort.code, code, f.abort.reason)
        return f.abort

    def test_garbage_instead_of_hello_ack(self):
        jid = self.start()
        self.fake.send_raw(b"\xde\xad\xbe\xef" * 16)
        self.assert_failed(jid, "destination broke the protocol",
                           "bad frame", "header")
        abort = self.assert_told(spb.Abort.CODE_PROTOCOL)
        self.assertIn("bad frame", abort.reason)

    def test_header_longer_than_message(self):
        jid = self.start()
        self.fake.send_raw(struct.pack("<I", 4096) + b"\x12\x00")
        self.assert_failed(jid, "destination broke the protocol",
                           "header length 4096")
        abort = self.assert_told(spb.Abort.CODE_PROTOCOL)
        self.assertIn("header length 4096", abort.reason)

    def test_unexpected_frame(self):
        jid = self.start()
        self.fake.send(frame(done=spb.Done(verified=True)))
        self.assert_failed(jid, "destination broke the protocol",
                           "unexpected done frame")
        self.assert_told(spb.Abort.CODE_PROTOCOL)

    def test_page_batch_to_the_source(self):
        jid = self.start()
        self.fake.send(frame(pages=spb.PageBatch(
            seq=1, runs=[spb.PageRun(first=0, count=1)])), b"\0" * PAGE)
        self.assert_failed(jid, "destination broke the protocol")
        self.assert_told(spb.Abort.CODE_PROTOCOL)

    def test_wrong_protocol_version(self):
        jid = self.start()
        self.fake.send(frame(hello_ack=spb.HelloAck(protocol_version=9,
                                                    dest_job_id=1)))
        self.assert_failed(jid, "stream protocol 9")

    def test_ack_for_bytes_never_sent(self):
        jid = self.start()
        self.fake.send(frame(hello_ack=spb.HelloAck(
            protocol_version=PROTOCOL, dest_job_id=1,
            window_bytes=1 << 20)))
        self.fake.send(frame(ack=spb.Ack(seq=1, bytes=1 << 40)))
        self.assert_failed(jid, "destination broke the protocol")
        self.assert_told(spb.Abort.CODE_PROTOCOL)

    def test_done_before_switchover(self):
        # a destination claiming it resumed while pages still flow
        jid = self.start()
        self.fake.send(frame(hello_ack=spb.HelloAck(
            protocol_version=PROTOCOL, dest_job_id=1,
            window_bytes=1 << 20)))
        self.fake.expect("pages")
        self.fake.send(frame(done=spb.Done(verified=True)))
        self.assert_failed(jid, "unexpected done frame")

    def test_destination_aborts(self):
        jid = self.start()
        self.fake.send(frame(abort=spb.Abort(code=spb.Abort.CODE_RESOURCE,
                                             reason="no room here")))
        self.assert_failed(jid, "destination aborted", "no room here")

    def test_destination_hangs_up(self):
        # (a destination that stays silent is only caught by the hello
        # timeout, 30 s: too slow for every run)
        jid = self.start()
        self.fake.close()
        self.assert_failed(jid, "connection to the destination lost")


class FakeSource(MigrationCase):
    """streampeer dials a really prepared destination."""
    VFS = 2
    LOG_LEVEL = "debug"     # the stream says when a peer connects

    def setUp(self):
        super().setUp()
        self.dst.attach(1, fill=0x5a)
        self.dst.sim.hold(1)
        self.fakes = []

    def tearDown(self):
        for f in self.fakes:
            f.close()
        super().tearDown()

    def connect(self, token=None, prep=None, **hello_changes):
        """Prepare the destination (unless prep), dial it, send a Hello;
        returns (fake, PrepareIncomingResponse, digest of the memory
        before)."""
        if prep is None:
            prep = self.prepare(1, dict(verify=True))
        before = file_digest(self.dst.mem[1])
        fake = Peer()
        self.fakes.append(fake)
        fake.dial(prep.stream_url)
        if token is None:
            token = prep.token
        elif callable(token):
            token = token(prep.token)
        h = hello_for(self.dst.device(1), self.dst.regions(1), token,
                      verify=True)
        for k, v in hello_changes.items():
            if k in ("regions", "devices"):
                del getattr(h, k)[:]
                getattr(h, k).extend(v)
            elif k in ("device_type", "interface"):
                setattr(h.devices[0], k, v)
            else:
                setattr(h, k, v)
        fake.send(frame(hello=h))
        return fake, prep, before

    def assert_refused(self, fake, prep, before, code, *words):
        f, _ = fake.expect("abort")
        self.assertEqual(f.abort.code, code, f.abort.reason)
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        for w in words:
            self.assertIn(w, djob.error)
            self.assertIn(w, f.abort.reason)
        self.assertEqual(file_digest(self.dst.mem[1]), before,
                         "the destination memory was written")
        self.assert_no_device_stuck(self.dst, skip=(1,))
        return djob

    def assert_still_waiting(self, fake, prep, before, code, *words):
        """The fake was told why (an Abort with code) and dropped; the
        prepared job still waits, its VF held, its memory unwritten."""
        f, _ = fake.expect("abort")
        self.assertEqual(f.abort.code, code, f.abort.reason)
        for w in words:
            self.assertIn(w, f.abort.reason)
        self.dst.daemon.wait_log(f.abort.reason)
        djob = self.dst.client.get_job(prep.job_id)
        self.assertEqual(djob.phase, pb.PHASE_WAITING,
                         f"{phase_name(djob.phase)}: {djob.error}")
        self.assertEqual(djob.error, "")
        self.assertEqual(self.dst.device(1).job_id, prep.job_id)
        self.assertEqual(self.dst.sim.mode(1), "stop")
        self.assertEqual(file_digest(self.dst.mem[1]), before,
                         "the destination memory was written")
        fake.close()

    def migrate_into(self, prep):
        """A real source migrates into the prepared job: it was not
        spoiled by what the fakes did."""
        self.src.attach(1, fill="random")
        self.src.sim.workload(1, "hot")
        jid, prep = self.start_migration(1, prep=prep)
        self.assert_completed(1, jid, prep)

    def batch(self, runs, region=0, seq=1):
        return frame(pages=spb.PageBatch(
            seq=seq, region=region, iteration=1,
            runs=[spb.PageRun(first=a, count=n, zero=z)
                  for a, n, z in runs]))

    def test_page_outside_the_region(self):
        cases = [
            ("past the end", [(NPAGES, 1, False)], 1),
            ("straddling the end", [(NPAGES - 1, 2, False)], 2),
            ("far away", [(1 << 40, 1, False)], 1),
            ("overflowing", [((1 << 64) - 1, 2, False)], 2),
            ("a zero run past the end", [(NPAGES + 5, 3, True)], 0),
            ("a good run, then a bad one", [(0, 1, False),
                                           (NPAGES, 1, False)], 2),
        ]
        for what, runs, npay in cases:
            with self.subTest(what):
                fake, prep, before = self.connect()
                fake.expect("hello_ack")
                fake.send(self.batch(runs), b"\xee" * (PAGE * npay))
                djob = self.assert_refused(fake, prep, before,
                                           spb.Abort.CODE_PROTOCOL)
                self.assertIn("region 0", djob.error)
                self.assertRegex(djob.error, "page|run")
                fake.close()

    def test_batch_that_does_not_add_up(self):
        cases = [
            ("no such region", dict(region=3), [(0, 1, False)], PAGE,
             "region 3"),
            ("payload short", {}, [(0, 2, False)], PAGE, "payload"),
            ("payload long", {}, [(0, 1, False)], 2 * PAGE, "payload"),
            ("payload with a zero run", {}, [(0, 1, True)], PAGE,
             "payload"),
            ("empty run", {}, [(0, 0, False)], 0, "run"),
        ]
        for what, kw, runs, nbytes, word in cases:
            with self.subTest(what):
                fake, prep, before = self.connect()
                fake.expect("hello_ack")
                fake.send(self.batch(runs, **kw), b"\xee" * nbytes)
                self.assert_refused(fake, prep, before,
                                    spb.Abort.CODE_PROTOCOL, word)
                fake.close()

    def zbatch(self, codec, block, runs=((10, 2, False),), seq=1):
        f = self.batch(list(runs), seq=seq)
        f.pages.payload_bytes = PAGE * sum(n for _, n, z in runs if not z)
        f.pages.codec = codec
        f.pages.wire_bytes = len(block)
        return f

    def test_compressed_batch_that_lies(self):
        # each on a data connection: the job fails naming what was wrong,
        # and not a byte lands (a block is decoded apart, then copied)
        cases = [
            ("unknown codec", 9, b"\0" * 100, "codec 9 is unknown"),
            ("a block as long as its runs", 1, b"\0" * (2 * PAGE),
             "must be shorter than its runs"),
            ("a corrupt lz4 block", 1, b"\xff" * 1000, "corrupt lz4"),
            ("a corrupt zstd frame", 2, b"\x5c" * 1000, "corrupt zstd"),
            ("one page for two", 1, lz4_literals(b"\x42" * PAGE),
             "decodes to 4096 bytes, not the 8192"),
        ]
        for what, codec, block, word in cases:
            with self.subTest(what):
                fake, prep, before = self.connect()
                f, _ = fake.expect("hello_ack")
                self.assertEqual(f.hello_ack.data_codecs, 0b110)
                sock = data_dial(f.hello_ack.data_url, prep.token)
                try:
                    sock.sendall(encode(self.zbatch(codec, block)) + block)
                except OSError:
                    pass    # the destination may close first
                self.assert_refused(fake, prep, before,
                                    spb.Abort.CODE_PROTOCOL, word)
                sock.close()
                fake.close()

    def test_compressed_batch_on_the_stream(self):
        fake, prep, before = self.connect()
        fake.expect("hello_ack")
        # the runs' bytes as the stream carries them, but a codec said
        payload = b"\x42" * (2 * PAGE)
        fake.send(self.zbatch(1, payload), payload)
        self.assert_refused(fake, prep, before, spb.Abort.CODE_PROTOCOL,
                            "only data connections carry compressed pages")
        fake.close()

    def test_good_compressed_pages_land(self):
        # a literal block is a valid one: it lands (the fake is right)
        fake, prep, _ = self.connect()
        f, _ = fake.expect("hello_ack")
        sock = data_dial(f.hello_ack.data_url, prep.token)
        data = b"\x11" * PAGE + b"\x22" * PAGE
        block = lz4_fills((0x11, PAGE), (0x22, PAGE))
        sock.sendall(encode(self.zbatch(1, block, runs=((3, 2, False),))) +
                     block)
        f, _ = fake.expect("ack", skip=())
        self.assertEqual(f.ack.data_bytes, 2 * PAGE)
        mem = read_file(self.dst.mem[1])
        self.assertEqual(mem[3 * PAGE:5 * PAGE], data)
        self.assertEqual(mem[5 * PAGE:6 * PAGE], b"\x5a" * PAGE)
        sock.close()
        fake.send(frame(abort=spb.Abort(code=spb.Abort.CODE_CANCELLED,
                                        reason="fake gives up")))
        self.assert_dest_rolled_back(1, prep.job_id, (pb.PHASE_CANCELLED,))

    def delta(self, entries, region=0, seq=1):
        return frame(page_delta=spb.PageDelta(
            seq=seq, region=region, entries=entries, iteration=1))

    def test_delta_that_does_not_add_up(self):
        """PageDelta frames (daemon/frame.c frame_check_delta): each is
        refused before a byte is written, the job failed."""
        e = delta_entry
        cases = [
            ("no such region", 1, dict(region=3), e(0, 0, 8) + b"x" * 8,
             "names region 3"),
            ("page past the region", 1, {}, e(NPAGES, 0, 8) + b"x" * 8,
             f"page {NPAGES} is outside the region"),
            ("page far away", 1, {}, e((1 << 64) - 1, 0, 8) + b"x" * 8,
             "outside the region"),
            ("past its page", 1, {}, e(0, PAGE - 4, 8) + b"x" * 8,
             "do not fit a 4096-byte page"),
            ("a length that wraps", 1, {}, e(0, 8, (1 << 32) - 4) +
             b"x" * 8, "do not fit"),
            ("empty", 1, {}, e(0, 8, 0), "do not fit"),
            ("overlapping", 2, {}, e(2, 0, 16) + e(2, 8, 8) + b"x" * 24,
             "overlap or precede"),
            ("a count that lies", 1000, {}, e(0, 0, 8) + b"x" * 8,
             "delta of 1000 entries needs"),
            ("no entries", 0, {}, b"", "delta of 0 entries"),
            ("bytes short", 1, {}, e(0, 0, 8) + b"x" * 7,
             "the payload carries 7"),
            ("bytes long", 1, {}, e(0, 0, 8) + b"x" * 9,
             "the payload carries 9"),
        ]
        for what, n, kw, payload, word in cases:
            with self.subTest(what):
                fake, prep, before = self.connect()
                fake.expect("hello_ack")
                fake.send(self.delta(n, **kw), payload)
                self.assert_refused(fake, prep, before,
                                    spb.Abort.CODE_PROTOCOL, word)
                fake.close()

    def test_switchover_without_stopcopy(self):
        fake, prep, before = self.connect()
        fake.expect("hello_ack")
        fake.send(frame(switchover=spb.Switchover(seq=1, verify=True)))
        self.assert_refused(fake, prep, before, spb.Abort.CODE_PROTOCOL,
                            "unexpected switchover frame")

    def test_switchover_without_state(self):
        fake, prep, before = self.connect()
        fake.expect("hello_ack")
        fake.send(frame(stopcopy=spb.StopCopy(seq=1, iteration=1)))
        fake.send(frame(switchover=spb.Switchover(seq=2, verify=True)))
        self.assert_refused(fake, prep, before, spb.Abort.CODE_PROTOCOL,
                            "switchover before the final device state")

    def test_state_chunk_out_of_order(self):
        fake, prep, before = self.connect()
        fake.expect("hello_ack")
        fake.send(frame(state=spb.StateChunk(seq=1, offset=4096, total=8192,
                                             generation=1)), b"s" * 4096)
        self.assert_refused(fake, prep, before, spb.Abort.CODE_PROTOCOL)

    def test_hello_that_does_not_match(self):
        cases = [
            ("region length", dict(regions=[spb.RegionLayout(
                index=0, iova=IOVA, length=MEM // 2)]), "length"),
            ("region count", dict(regions=[]), "memory regions"),
            ("device type", dict(device_type="virtio-blk"), "virtio-blk"),
            ("interface", dict(interface="vfio/v2"), "vfio/v2"),
            ("page size", dict(page_size=65536), "page size"),
            ("protocol", dict(protocol_version=1), "stream protocol 1"),
            ("device count", dict(devices=[]), "moves 0 devices"),
        ]
        for what, changes, word in cases:
            with self.subTest(what):
                fake, prep, before = self.connect(**changes)
                self.assert_refused(fake, prep, before,
                                    spb.Abort.CODE_PROTOCOL, word)
                fake.close()

    def test_wrong_token(self):
        prep = self.prepare(1, dict(verify=True))
        for what, token in (
                ("one bit off", lambda t: bytes([t[0] ^ 1]) + t[1:]),
                ("short", lambda t: t[:8]),
                ("long", lambda t: t + b"x"),
                ("empty", b"")):
            with self.subTest(what):
                fake, _, before = self.connect(token=token, prep=prep)
                self.assert_still_waiting(fake, prep, before,
                                          spb.Abort.CODE_AUTH, "wrong token",
                                          DEVICE % 1)
        self.migrate_into(prep)

    def test_refusals_are_bounded(self):
        prep = self.prepare(1, dict(verify=True))
        before = file_digest(self.dst.mem[1])
        for i in range(REFUSALS_MAX):
            fake, _, _ = self.connect(token=b"\0" * 32, prep=prep)
            f, _ = fake.expect("abort")
            self.assertEqual(f.abort.code, spb.Abort.CODE_AUTH)
            fake.close()
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_FAILED,))
        self.assertIn(f"{REFUSALS_MAX} connections refused", djob.error)
        self.assertIn("wrong token", djob.error)
        self.assertEqual(file_digest(self.dst.mem[1]), before)
        self.assert_no_device_stuck(self.dst, skip=(1,))

    def test_pages_before_hello(self):
        prep = self.prepare(1)
        before = file_digest(self.dst.mem[1])
        fake = Peer()
        self.fakes.append(fake)
        fake.dial(prep.stream_url)
        fake.send(self.batch([(0, 1, False)]), b"\xee" * PAGE)
        self.assert_still_waiting(fake, prep, before, spb.Abort.CODE_AUTH,
                                  "unexpected pages frame")

    def test_delta_before_hello(self):
        prep = self.prepare(1)
        before = file_digest(self.dst.mem[1])
        fake = Peer()
        self.fakes.append(fake)
        fake.dial(prep.stream_url)
        fake.send(self.delta(1), delta_entry(0, 0, 8) + b"\xee" * 8)
        self.assert_still_waiting(fake, prep, before, spb.Abort.CODE_AUTH,
                                  "unexpected page-delta frame")

    def test_garbage_instead_of_hello(self):
        prep = self.prepare(1)
        before = file_digest(self.dst.mem[1])
        fake = Peer()
        self.fakes.append(fake)
        fake.dial(prep.stream_url)
        fake.send_raw(b"\xff" * 64)
        self.assert_still_waiting(fake, prep, before,
                                  spb.Abort.CODE_PROTOCOL, "bad frame")

    def test_frames_out_of_sequence(self):
        # stream.proto's sequence numbers catch loss and reordering
        for what, seqs, word in (("a gap", (1, 3), "frames were lost"),
                                 ("a repeat", (1, 1), "reordering")):
            with self.subTest(what):
                fake, prep, _ = self.connect()
                fake.expect("hello_ack")
                fake.send(self.batch([(0, 1, False)], seq=seqs[0]),
                          b"\x11" * PAGE)
                fake.expect("ack", skip=())
                before = file_digest(self.dst.mem[1])
                fake.send(self.batch([(1, 1, False)], seq=seqs[1]),
                          b"\x22" * PAGE)
                self.assert_refused(fake, prep, before,
                                    spb.Abort.CODE_PROTOCOL, "out of order",
                                    word)
                fake.close()

    def test_garbage_after_the_hello(self):
        # the source is authenticated: garbage now ends the job, and the
        # source is told why like for any other protocol error
        fake, prep, before = self.connect()
        fake.expect("hello_ack")
        fake.send_raw(b"\x10\x00\x00\x00" + b"\xff" * 8)
        djob = self.assert_refused(fake, prep, before,
                                   spb.Abort.CODE_PROTOCOL, "bad frame",
                                   "header length 16")
        self.assertIn("source broke the protocol", djob.error)

    def test_peer_that_leaves_without_a_word(self):
        prep = self.prepare(1)
        fake = Peer()
        self.fakes.append(fake)
        fake.dial(prep.stream_url)
        self.dst.daemon.wait_log("peer connected")
        fake.close()
        self.dst.daemon.wait_log("left before its hello")
        self.assertEqual(self.dst.client.get_job(prep.job_id).phase,
                         pb.PHASE_WAITING)
        self.migrate_into(prep)

    def test_refused_then_a_real_migration(self):
        fake, prep, before = self.connect(token=b"\0" * 32)
        self.assert_still_waiting(fake, prep, before, spb.Abort.CODE_AUTH)
        fake, _, _ = self.connect(protocol_version=1, prep=prep,
                                  token=b"\1" * 32)
        self.assert_still_waiting(fake, prep, before, spb.Abort.CODE_AUTH)
        self.migrate_into(prep)

    def test_good_pages_land(self):
        # the fake source is not wrong about everything: a valid batch is
        # applied (the fake is checked against a real destination)
        fake, prep, _ = self.connect()
        fake.expect("hello_ack")
        fake.send(self.batch([(3, 2, False), (10, 1, True)]),
                  b"\x11" * PAGE + b"\x22" * PAGE)
        f, _ = fake.expect("ack", skip=())
        self.assertEqual(f.ack.bytes, 2 * PAGE)
        mem = read_file(self.dst.mem[1])
        self.assertEqual(mem[3 * PAGE:4 * PAGE], b"\x11" * PAGE)
        self.assertEqual(mem[4 * PAGE:5 * PAGE], b"\x22" * PAGE)
        self.assertEqual(mem[10 * PAGE:11 * PAGE], b"\0" * PAGE)
        self.assertEqual(mem[5 * PAGE:6 * PAGE], b"\x5a" * PAGE)
        fake.send(frame(abort=spb.Abort(code=spb.Abort.CODE_CANCELLED,
                                        reason="fake gives up")))
        djob = self.assert_dest_rolled_back(1, prep.job_id,
                                            (pb.PHASE_CANCELLED,))
        self.assertIn("fake gives up", djob.error)


if __name__ == "__main__":
    unittest.main(verbosity=2)
