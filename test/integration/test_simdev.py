#!/usr/bin/python3
"""test_simdev: vmig-simdev's control channel and workloads, black box.

The admin-queue side is tested from C (test_admin_sim, test_plugin_sim);
here: every control command and its errors, the workloads and their
determinism (two simulators, same seed, same bytes), hold / stop / freeze
writing nothing, startup options, and a clean exit on SIGTERM.
"""

import mmap
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from simdev import SimError, SimPF, memfile, simdev_path  # noqa: E402

MEM = 1 << 20
IOVA = 0x10000000


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vmig-simtest.")
        self.files = []

    def tearDown(self):
        for f in self.files:
            try:
                os.unlink(f)
            except OSError:
                pass
        os.rmdir(self.tmp)

    def mem(self, name, size=MEM):
        p = memfile(self.tmp, f"{self.id().split('.')[-1]}-{name}", size)
        self.files.append(p)
        return p


class Control(Base):
    def test_ping_info(self):
        with SimPF(vfs=3, admin_queues=2, queue_size=64, name="pfA") as s:
            self.assertEqual(s.cmd("ping"), "pong")
            info = s.info()
            self.assertEqual(info["vfs"], 3)
            self.assertEqual(info["queues"], 2)
            self.assertEqual(info["qsize"], 64)
            self.assertEqual(info["name"], "pfA")
            self.assertEqual(info["dialect"], "draft")
            self.assertEqual(info["connected"], 0)

    def test_errors_name_the_problem(self):
        with SimPF(vfs=2) as s:
            cases = [
                ("bogus", "unknown command"),
                ("", "empty"),
                ("state", "usage: state VF"),
                ("state 3", "no VF '3'"),
                ("state x", "no VF 'x'"),
                ("attach 1 /nonexistent 4096 0", "/nonexistent"),
                ("attach 1 /dev/null 4097 0", "multiples of 4096"),
                ("attach 1 /dev/null 4096 0x1001", "page aligned"),
                ("attach 1 /dev/null lots 0", "bad SIZE"),
                ("workload 1 warp", "idle, hot, stream, burst or flood"),
                ("workload 1 hot fraction=2", "fraction=2"),
                ("workload 1 hot speed=3", "unknown or out-of-range"),
                ("workload 1 hot rate", "not key=value"),
                ("workload 1 hot then idle", "phase 1 needs for=MS"),
                ("workload 1 hot for=5 then idle repeat",
                 "phase 2 needs for=MS"),
                ("workload 1 hot for=5 then warp", "idle, hot, stream"),
                ("workload 1 " + "idle for=1 then " * 8 + "idle",
                 "at most 8 phases"),
                ("step 1 10", "no workload or no memory"),
                ("step 1 many", "bad count"),
                ("mode 1 sideways", "active, stop or freeze"),
                ("mode 1 freeze", "go through stop"),
                ("memdigest 1", "no memory attached"),
                ("cvq 1 mac=zz", "want mac="),
                ("cvq 1 vlan=4096", "want mac="),
                ("fault", "usage"),
                ("fault explode", "unknown fault"),
                ("fault fail status=22", "needs op="),
                ("fault fail op=NOPE status=22", "op=NOPE"),
                ("fault fail op=DEV_MODE_SET", "non-zero status"),
                ("fault delay op=8", "needs ms="),
                ("fault more vf=9", "no VF 9"),
                ("echo maybe", "on or off"),
                ("x " * 40, "too many words"),
            ]
            for line, why in cases:
                with self.subTest(line=line):
                    with self.assertRaises(SimError) as cm:
                        s.cmd(line)
                    self.assertIn(why, str(cm.exception))
            # Still serving after all that, and a long line is refused.
            self.assertEqual(s.raw("y" * 5000)[:4], "err ")
            self.assertEqual(s.cmd("ping"), "pong")

    def test_state_digest_cvq(self):
        with SimPF(vfs=2) as s:
            st = s.state(1)
            self.assertEqual(st["mode"], "active")
            self.assertEqual(st["writes"], 0)
            self.assertEqual(st["last_error"], "")
            d1, d2 = s.digest(1), s.digest(2)
            self.assertNotEqual(d1, d2)  # MACs differ per VF
            self.assertEqual(s.digest(1), d1)
            s.cvq(1, mac="02:00:00:00:00:01", rx=1, vlan=7,
                  uc="02:00:00:00:00:09", mc="01:00:5e:00:00:02")
            self.assertNotEqual(s.digest(1), d1)
            s.cvq(1, novlan=7)
            self.assertNotEqual(s.digest(1), d1)
            # Mode changes are not part of the context image.
            d = s.digest(2)
            s.mode(2, "stop")
            s.mode(2, "freeze")
            self.assertEqual(s.mode(2), "freeze")
            self.assertEqual(s.digest(2), d)
            with self.assertRaises(SimError):
                s.mode(2, "active")
            s.mode(2, "stop")
            s.mode(2, "active")

    def test_faults_list_and_clear(self):
        with SimPF(vfs=2) as s:
            s.fault("fail", op="DEV_MODE_SET", status=16, qualifier=7,
                    count=2, vf=1)
            s.fault("delay", op="0xa", ms=50)
            s.fault("drop", op="DEV_MODE_GET")
            s.fault("more", max=3)
            s.fault("lost", vf=2)
            lst = s.faults()
            self.assertIn("fail:op=DEV_MODE_SET,vf=1,count=2", lst)
            self.assertIn("delay:op=DEV_CTX_READ,vf=0,count=-1", lst)
            self.assertIn("drop:op=DEV_MODE_GET,vf=0,count=1", lst)
            s.fault("clear")
            self.assertEqual(s.faults(), "")


class Workloads(Base):
    def sim_with_mem(self, s, vf, name):
        path = self.mem(name)
        s.attach(vf, path, MEM, IOVA)
        return path

    def test_each_kind_writes_in_its_window(self):
        kinds = [
            ("hot", dict(fraction=0.05, rate="8M", size=256, seed=1)),
            ("stream", dict(rate="8M", bufs=32, bufsize=2048, seed=2)),
            ("burst", dict(bytes="64K", every=20, seed=3)),
            ("flood", dict(seed=4)),
        ]
        with SimPF(vfs=4) as s:
            for vf, (kind, params) in enumerate(kinds, 1):
                path = self.sim_with_mem(s, vf, kind)
                s.workload(vf, kind, **params)
                st = s.wait_for(vf, "writes", lambda w: w > 20)
                self.assertEqual(st["kind"], kind)
                self.assertGreater(st["bytes"], 0)
                with open(path, "rb") as f:
                    data = f.read()
                self.assertNotEqual(data.count(0), len(data))
            # The stream ring advances the rx queue like a NIC.
            self.assertGreater(s.state(2)["rx_avail_idx"], 0)
            # The hot set is 5% of the pages.
            with open(self.files[0], "rb") as f:
                data = f.read()
            touched = sum(1 for p in range(MEM // 4096)
                          if data[p * 4096:(p + 1) * 4096].count(0) != 4096)
            self.assertLessEqual(touched, MEM // 4096 * 5 // 100 + 1)
            for vf in range(1, 5):
                s.workload(vf, "idle")

    def test_phases_follow_their_schedule(self):
        # idle, then a flood confined to a window, then a hot set that
        # carries the window over (unset keys carry to the next phase)
        with SimPF(vfs=2) as s:
            path = self.sim_with_mem(s, 1, "ph")
            s.schedule(1, [("idle", {}, 150),
                           ("flood", dict(offset="256K", length="128K",
                                          rate="4M", seed=5), 150),
                           ("hot", dict(fraction=1, size=64), None)])
            self.assertEqual(s.state(1)["kind"], "idle")
            s.wait_for(1, "kind", lambda k: k == "flood")
            st = s.wait_for(1, "kind", lambda k: k == "hot")
            n = st["writes"]
            s.wait_for(1, "writes", lambda w: w > n + 10)
            with open(path, "rb") as f:
                data = f.read()
            self.assertEqual(data[:256 << 10].count(0), 256 << 10)
            self.assertEqual(data[384 << 10:].count(0), MEM - (384 << 10))
            # the last phase runs for good
            self.assertEqual(s.state(1)["kind"], "hot")
            # a repeating schedule comes back to its first phase
            self.sim_with_mem(s, 2, "rep")
            s.schedule(2, [("burst", dict(bytes="4K", every=10), 60),
                           ("idle", {}, 60)], repeat=True)
            for kind in ("idle", "burst", "idle", "burst"):
                s.wait_for(2, "kind", lambda k, want=kind: k == want)
            # a plain workload replaces the schedule
            s.workload(2, "idle")
            n = s.state(2)["writes"]
            time.sleep(0.2)
            self.assertEqual(s.state(2)["kind"], "idle")
            self.assertEqual(s.state(2)["writes"], n)

    def test_window_is_respected(self):
        with SimPF(vfs=1) as s:
            path = self.sim_with_mem(s, 1, "win")
            s.workload(1, "flood", offset="256K", length="128K", seed=5)
            s.hold(1)
            s.step(1, 300)
            with open(path, "rb") as f:
                data = f.read()
            self.assertEqual(data[:256 << 10].count(0), 256 << 10)
            self.assertEqual(data[384 << 10:].count(0), MEM - (384 << 10))
            self.assertNotEqual(data[256 << 10:384 << 10].count(0),
                                128 << 10)

    def test_same_seed_same_bytes(self):
        # Two simulators, same workload and seed: identical memory,
        # identical running hash and device context after N writes.
        with SimPF(vfs=2) as a, SimPF(vfs=3) as b:
            pa = self.sim_with_mem(a, 2, "a")
            pb = self.sim_with_mem(b, 3, "b")
            for s, vf in ((a, 2), (b, 3)):
                s.hold(vf)
                s.workload(vf, "hot", fraction=0.3, size=512, seed=99)
                s.cvq(vf, mac="02:01:02:03:04:05")
            # (The device config differs per VF; copy it over as a
            # migration would: not needed for memory and DMA state.)
            self.assertEqual(a.step(2, 2000), 2000)
            self.assertEqual(b.step(3, 2000), 2000)
            self.assertEqual(a.memdigest(2), b.memdigest(3))
            sa, sb = a.state(2), b.state(3)
            self.assertEqual(sa["hash"], sb["hash"])
            self.assertEqual(sa["bytes"], sb["bytes"])
            with open(pa, "rb") as fa, open(pb, "rb") as fb:
                self.assertEqual(fa.read(), fb.read())

    def test_held_stopped_frozen_write_nothing(self):
        with SimPF(vfs=1) as s:
            self.sim_with_mem(s, 1, "quiet")
            s.workload(1, "flood", seed=6)
            s.wait_for(1, "writes", lambda w: w > 0)
            for hold, mode in ((True, "active"), (False, "stop"),
                               (False, "freeze")):
                if hold:
                    s.hold(1)
                else:
                    s.release(1)
                    s.mode(1, mode)
                w0 = s.state(1)["writes"]
                h0 = s.memdigest(1)
                time.sleep(0.05)  # ticks pass; still nothing
                self.assertEqual(s.state(1)["writes"], w0, mode)
                self.assertEqual(s.memdigest(1), h0, mode)
            with self.assertRaises(SimError):
                s.step(1, 1)  # frozen
            s.mode(1, "stop")
            s.mode(1, "active")
            s.wait_for(1, "writes", lambda w: w > w0)

    def test_detach(self):
        with SimPF(vfs=1) as s:
            self.sim_with_mem(s, 1, "det")
            s.workload(1, "hot", seed=1)
            s.detach(1)
            self.assertEqual(s.state(1)["attached"], 0)
            with self.assertRaises(SimError):
                s.memdigest(1)


class Dialects(Base):
    """The v1.4 and control-vq devices: same control channel, their modes."""

    def test_info_and_modes(self):
        with SimPF(vfs=2, args=["--dialect", "v14"]) as s:
            self.assertEqual(s.info()["dialect"], "v14")
            self.assertEqual(s.mode(1), "running")
            s.mode(1, "stopped")
            s.mode(1, "running")
            s.mode(1, "stop")  # the draft's names work everywhere
            self.assertEqual(s.mode(1), "stopped")
            with self.assertRaises(SimError) as cm:
                s.mode(1, "freeze")
            self.assertIn("one of running stopped", str(cm.exception))
            self.assertEqual(s.state(1)["track"], "off")
        with SimPF(vfs=1, args=["--dialect", "cvq"]) as s:
            self.assertEqual(s.info()["dialect"], "cvq")
            self.assertEqual(s.mode(1), "running")
            with self.assertRaises(SimError) as cm:
                s.mode(1, "freezed")
            self.assertIn("running to freezed is not a transition",
                          str(cm.exception))
            s.mode(1, "quiesced")
            s.mode(1, "freezed")
            s.mode(1, "init")  # an FLR
            self.assertEqual(s.mode(1), "init")
            with self.assertRaises(SimError):
                s.mode(1, "quiesced")
            s.mode(1, "running")

    def test_digest_is_the_dialects_image(self):
        digests = {}
        for dialect in ("draft", "v14", "cvq"):
            with SimPF(vfs=1, args=["--dialect", dialect]) as s:
                d = s.digest(1)
                s.cvq(1, vlan=5)
                self.assertNotEqual(s.digest(1), d, dialect)
                digests[dialect] = d
        # Three layouts of the same state: three different images.
        self.assertEqual(len(set(digests.values())), 3)

    def test_quiet_when_not_running(self):
        with SimPF(vfs=1, args=["--dialect", "cvq"]) as s:
            self.mem("q")
            s.attach(1, self.files[-1], MEM, IOVA)
            s.workload(1, "flood", seed=6)
            s.wait_for(1, "writes", lambda w: w > 0)
            for mode in ("quiesced", "freezed", "init"):
                s.mode(1, mode)
                w0 = s.state(1)["writes"]
                time.sleep(0.05)  # ticks pass; still nothing
                self.assertEqual(s.state(1)["writes"], w0, mode)
            with self.assertRaises(SimError):
                s.step(1, 1)
            s.mode(1, "running")
            s.wait_for(1, "writes", lambda w: w > w0)

    def test_faults_by_the_dialects_names(self):
        with SimPF(vfs=1, args=["--dialect", "v14"]) as s:
            s.fault("fail", op="DEV_PARTS_GET", status=12)
            self.assertIn("fail:op=DEV_PARTS_GET", s.faults())
            with self.assertRaises(SimError):
                s.fault("fail", op="DEV_CTX_READ", status=12)
        with SimPF(vfs=1, args=["--dialect", "cvq"]) as s:
            s.fault("drop", op="SAVE_STATE")
            self.assertIn("drop:op=SAVE_STATE", s.faults())


class Process(Base):
    def run_sim(self, *args):
        return subprocess.run([simdev_path(), *args], capture_output=True,
                              text=True, timeout=60)

    def test_bad_options(self):
        sock = os.path.join(self.tmp, "x.sock")
        for args, why in [
            (["--vfs", "2"], "usage"),
            (["--socket", sock, "--dialect", "v2"], "unknown dialect"),
            (["--socket", sock, "--dialect", "cvq", "--admin-queues", "2"],
             "one control virtqueue"),
            (["--socket", sock, "--parts-objects", "0"], "--parts-objects"),
            (["--socket", sock, "--cvq-modes", "16"], "--cvq-modes"),
            (["--socket", sock, "--vfs", "0"], "--vfs"),
            (["--socket", sock, "--queue-size", "100"], "power of two"),
            (["--socket", sock, "--admin-queues", "9"], "--admin-queues"),
            (["--socket", sock, "--fault", "fail op=8"], "non-zero status"),
            (["--socket", sock, "extra"], "usage"),
        ]:
            with self.subTest(args=args):
                r = self.run_sim(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(why, r.stderr)

    def test_fault_option(self):
        with SimPF(vfs=1, args=["--fault", "drop op=DEV_MODE_GET count=2",
                                "--fault", "more max=5"]) as s:
            self.assertIn("drop:op=DEV_MODE_GET,vf=0,count=2", s.faults())

    def test_sigterm_exits_clean(self):
        s = SimPF(vfs=1).start()
        sock = s.socket
        self.assertTrue(os.path.exists(sock))
        s.proc.send_signal(signal.SIGTERM)
        self.assertEqual(s.proc.wait(60), 0)
        self.assertFalse(os.path.exists(sock))
        s.stop()

    def test_quit(self):
        s = SimPF(vfs=1).start()
        self.assertEqual(s.cmd("quit"), "bye")
        self.assertEqual(s.proc.wait(60), 0)
        s.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
