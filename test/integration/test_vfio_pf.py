#!/usr/bin/python3
"""The admin queue over vfio-pci: vmigd opens its PF as vfio:BDF, under
the interposer, against a simulated kernel (vmig-simvfio) whose device
is a virtio PCI PF (--dev virtio=SOCK): config space, capabilities,
common config in BAR 0, MSI-X, SR-IOV, all as a real PF behind vfio-pci
shows them. The admin commands are executed by a vmig-simdev, the same
code as for sim: PFs; the simulated kernel hands it the DMA-mapped ring
memory and the eventfds at DRIVER_OK. A VF migrates end to end between
two such hosts, memory and device state verified byte for byte; a PF
without VIRTIO_F_ADMIN_VQ and PFs with bad capabilities or fields are
refused at open with the PF and the field named."""
import os
import sys
import time
import unittest

import vmigtest
from simdev import SimPF
from test_migration_lib import (DEVICE, LIVENESS_S, Host, MigrationCase,
                                TempDir, file_digest, pb, phase_name)
from vfiosim import SimVfio, preload_env
from vmigtest import Daemon

BDF = "0000:3c:00.0"


class PFHost(Host):
    """Host's simdev and vmigd, the PF reached through a simulated
    vfio-pci kernel instead of the sim socket."""

    def __init__(self, tmp, name, vfs, config="", spec_opts="",
                 log_level="info", flaw=None, dialect="draft",
                 admin_queues=1):
        self.name = name
        self.mem = {}
        self.killed = False
        self.kernel = self.daemon = self.client = None
        self.sim = SimPF(vfs=vfs, name=name + "pf", admin_queues=admin_queues,
                         args=("--dialect", dialect))
        self.sim.start()
        dev = f"bdf={BDF},virtio={self.sim.socket}"
        if flaw:
            dev += f",flaw={flaw}"
        self.kernel = SimVfio(tmp.sub(name + "-kernel"), [dev],
                              args=("--log-level", "info"))
        self.kernel.start()
        self.spec_opts = spec_opts
        self.daemon = Daemon(
            tmp, name, pfs=[("sim0", "virtio-admin",
                             f"vfio:{BDF},sysfs={self.kernel.sysfs},"
                             f"dialect={dialect}{spec_opts}")],
            plugins=[vmigtest.backend_plugin("virtio-admin")],
            config=config, args=["--log-level", log_level],
            env=preload_env(self.kernel.socket))
        self.daemon.start()
        self.client = self.daemon.client()

    def pf(self):
        """The PF once it left OPENING."""
        deadline = time.monotonic() + LIVENESS_S
        while True:
            p = {p.name: p for p in self.client.list_devices().pfs}["sim0"]
            if p.state != pb.PF_OPENING or time.monotonic() > deadline:
                return p
            time.sleep(0.05)

    def close(self, failed):
        try:
            if self.daemon is not None:
                Host.close(self, failed)
            else:
                self.sim.stop()
        finally:
            if self.kernel is not None:
                if failed:
                    with open(os.path.join(self.kernel.dir, "simdev.log"),
                              errors="replace") as f:
                        sys.stderr.write(f"--- {self.name} kernel log ---\n"
                                         f"{f.read()[-8000:]}\n")
                self.kernel.stop()


class VfioPFMigration(MigrationCase):
    VFS = 2

    def setUp(self):
        self.tmp = TempDir()
        self.src = self.dst = None
        try:
            self.src = PFHost(self.tmp, "src", self.VFS, self.SRC_CONFIG,
                              self.SPEC_OPTS, self.LOG_LEVEL)
            self.dst = PFHost(self.tmp, "dst", self.VFS, self.DST_CONFIG,
                              self.SPEC_OPTS, self.LOG_LEVEL)
        except Exception:
            self._close(True)
            raise

    def test_pf_online_through_vfio(self):
        p = self.src.pf()
        self.assertEqual(p.state, pb.PF_ONLINE, p.error)
        self.assertEqual(p.num_vfs, self.VFS)
        self.assertTrue(p.spec.startswith(f"vfio:{BDF}"))
        # the simdev has a driver: the simulated kernel at DRIVER_OK
        self.assertEqual(self.src.sim.info()["connected"], 1)
        self.assertIn("admin queue(s) handed to", open(os.path.join(
            self.src.kernel.dir, "simdev.log")).read())

    def test_migrate_verified(self):
        for vf, w in ((1, "hot"), (2, "stream")):
            with self.subTest(vf=vf, workload=w):
                self.pair(vf, w, rate="8M", **(dict(fraction="0.05")
                                                if w == "hot" else {}))
                jid, prep = self.start_migration(vf, prep=self.prepare(
                    vf, dict(verify=True)))
                sjob = self.src.client.wait_job(jid, timeout=LIVENESS_S)
                self.assertEqual(sjob.phase, pb.PHASE_COMPLETED,
                                 f"source: {phase_name(sjob.phase)}: "
                                 f"{sjob.error}")
                self.assertTrue(sjob.verified)
                djob = self.dst.client.wait_job(prep.job_id,
                                                timeout=LIVENESS_S)
                self.assertEqual(djob.phase, pb.PHASE_COMPLETED,
                                 f"destination: {phase_name(djob.phase)}:"
                                 f" {djob.error}")
                self.assertTrue(djob.verified)
                self.assertGreater(sjob.stats.device_state_bytes, 0)
                self.assertEqual(file_digest(self.src.mem[vf]),
                                 file_digest(self.dst.mem[vf]),
                                 "memory differs")
                self.assertEqual(self.src.sim.digest(vf),
                                 self.dst.sim.digest(vf),
                                 "device state differs")
                sst, dstt = self.src.sim.state(vf), self.dst.sim.state(vf)
                for k in ("writes", "bytes", "hash", "kind"):
                    self.assertEqual(sst[k], dstt[k], k)


class VfioPFRefused(unittest.TestCase):
    """A PF that cannot give us admin queues is refused at open, with the
    PF and the field named; the daemon goes on."""

    def open_refused(self, flaw, want):
        tmp = TempDir()
        h = None
        failed = True
        try:
            h = PFHost(tmp, "h", 1, flaw=flaw)
            p = h.pf()
            self.assertEqual(p.state, pb.PF_OFFLINE, p.error)
            self.assertIn(f"vfio:{BDF}", p.error)
            for w in want:
                self.assertIn(w, p.error)
            # nothing reached the simdev: no driver, no command
            self.assertEqual(h.sim.info()["connected"], 0)
            h.client.list_devices()     # still answering
            failed = False
        finally:
            if h is not None:
                h.close(failed)
            tmp.cleanup()

    def test_no_admin_vq(self):
        self.open_refused("no_admin_vq", ("VIRTIO_F_ADMIN_VQ (41)",
                                          "no admin queue"))

    def test_common_cap_with_reserved_bar(self):
        self.open_refused("cap_bar7", ("no virtio common config "
                                       "capability",))

    def test_common_cap_past_its_bar(self):
        self.open_refused("cap_past_bar", ("common config capability",
                                           "past the end of the BAR"))

    def test_admin_queue_num_0(self):
        self.open_refused("admin_num0", ("admin_queue_num 0",))

    def test_admin_queue_size_0(self):
        self.open_refused("qsize0", ("queue_size 0",))


if __name__ == "__main__":
    unittest.main(verbosity=2)
