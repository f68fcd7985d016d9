#!/usr/bin/python3
"""test_orchestrator: `python3 -m vmig.migrate`, the orchestrator's side,
against two simulated hosts: one VM with two passthrough devices, two
VFs that DMA into one guest memory file, each into its own half (its
regions, as a vIOMMU would map them: --plan).

- success: prepare, start, follow, pause the guest (--pause-cmd) once
  both are switchover-ready, switch them over one after the other; the
  destination's memory equals the source's byte for byte;
- devices sharing guest memory with bulk copy are refused (each job
  would send the other's pages: doc/orchestrators.md);
- a refused prepare: the device prepared before it is cancelled, no
  source job starts;
- a device that fails while migrating: the other is cancelled, both
  source devices run again, the guest was never paused;
- a failure after the pause, one device already switched over: it runs
  again on the source, the guest is resumed there (--resume-cmd);
- SIGINT: everything rolled back, exit 130.
"""

import json
import os
import signal
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import vmigtest  # noqa: E402
from test_migration_lib import (MigrationCase, LIVENESS_S, IOVA, MiB,  # noqa
                                file_digest, SLOW_BPS)
from vmig import pb  # noqa: E402

MEM = 16 * MiB
HALF = MEM // 2


class Orchestrator(MigrationCase):
    VFS = 2

    def setUp(self):
        super().setUp()
        # one VM, two devices, one guest memory per host
        self.vm = {}
        for h, fill in ((self.src, "random"), (self.dst, 0x5a)):
            path = os.path.join("/dev/shm", f"vmigt-{os.getpid()}-"
                                f"{h.name}-vm")
            with open(path, "wb") as f:
                f.write(os.urandom(MEM) if fill == "random" else
                        bytes([fill]) * MEM)
            self.vm[h.name] = path
            for vf in (1, 2):
                h.sim.attach(vf, path, MEM, IOVA)
                h.mem[vf] = path     # Host.close() unlinks it
        for vf in (1, 2):
            # each device writes its own half of the guest's memory
            self.src.sim.workload(vf, "hot", offset=HALF * (vf - 1),
                                  length=HALF)
            self.dst.sim.hold(vf)
        self.marks = self.tmp.sub("marks")

    def region(self, host, vf):
        """vf's half of the VM's memory, as its DMA sees it."""
        off = HALF * (vf - 1)
        return (f"{self.vm[host.name]},iova={IOVA + off:#x},size={HALF},"
                f"offset={off}")

    def plan(self, devices):
        path = os.path.join(self.marks, "plan.json")
        with open(path, "w") as f:
            json.dump([dict(src=d, dst=d,
                            src_regions=[self.region(self.src, vf)],
                            dst_regions=[self.region(self.dst, vf)])
                       for d, vf in ((d, int(d[-1])) for d in devices)], f)
        return path

    def argv(self, devices=("sim0/vf1", "sim0/vf2"), extra=()):
        return [sys.executable, "-m", "vmig.migrate", "--vm", "vm1",
                "--src", self.src.daemon.rpc_url,
                "--dst", self.dst.daemon.rpc_url,
                "--plan", self.plan(devices),
                "--bulk", "--verify", "--json", "--timeout", "120"] + \
            list(extra)

    def vmigctl(self, host):
        return f"{vmigtest.vmigctl_path()} --connect {host.daemon.rpc_url}"

    def mark(self, name):
        return os.path.join(self.marks, name)

    def run_tool(self, argv):
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=LIVENESS_S * 3)
        try:
            report = json.loads(p.stdout)
        except ValueError:
            raise AssertionError(f"no JSON report (exit {p.returncode}):"
                                 f"\n{p.stdout}\n{p.stderr}")
        return p.returncode, report, p.stderr

    def test_migrates_the_vm(self):
        pause = (f"{self.vmigctl(self.src)} jobs > {self.mark('paused')}")
        rc, report, log = self.run_tool(self.argv(extra=(
            "--pause-cmd", pause, "--resume-cmd",
            f"touch {self.mark('resumed')}")))
        self.assertEqual(rc, 0, f"{report}\n{log}")
        self.assertEqual(report["result"], "completed", report)
        self.assertEqual([d["source_phase"] for d in report["devices"]],
                         ["completed", "completed"])
        self.assertTrue(all(d["verified"] for d in report["devices"]))
        self.assertIn("paused_ms", report)
        # the guest paused when both were ready, before any switchover
        with open(self.mark("paused")) as f:
            paused = f.read()
        self.assertEqual(paused.count("switchover-ready"), 2, paused)
        self.assertFalse(os.path.exists(self.mark("resumed")))
        # every page ends with its last content
        self.assertEqual(file_digest(self.vm["src"]),
                         file_digest(self.vm["dst"]))
        for vf in (1, 2):
            self.assertEqual(self.src.sim.digest(vf),
                             self.dst.sim.digest(vf))
            self.assertEqual(self.src.sim.mode(vf), "freeze")
            self.assertEqual(self.dst.sim.mode(vf), "active")
        self.assertIn("sim0/vf2: switchover", log)

    def test_shared_memory_with_bulk_copy_is_refused(self):
        whole = f",iova={IOVA:#x},size={MEM}"
        p = subprocess.run(
            [sys.executable, "-m", "vmig.migrate", "--vm", "vm1",
             "--src", self.src.daemon.rpc_url,
             "--dst", self.dst.daemon.rpc_url,
             "--src-region", self.vm["src"] + whole,
             "--dst-region", self.vm["dst"] + whole,
             "--device", "sim0/vf1", "--device", "sim0/vf2", "--bulk"],
            capture_output=True, text=True, timeout=LIVENESS_S)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("share guest memory", p.stdout)
        self.assertEqual(list(self.dst.client.list_jobs(True)), [])

    def test_a_refused_prepare_cancels_the_prepared(self):
        rc, report, log = self.run_tool(self.argv(
            devices=("sim0/vf1", "sim0/vf9")))
        self.assertEqual(rc, 1, report)
        self.assertIn("sim0/vf9", report["error"])
        djid = report["devices"][0]["destination_job"]
        self.assertNotEqual(djid, 0)
        self.assert_dest_rolled_back(1, djid)
        self.assertEqual(list(self.src.client.list_jobs(True)), [])
        self.assert_no_device_stuck(self.src)

    def start_tool(self, extra=()):
        return subprocess.Popen(self.argv(extra=(
            "--bandwidth", str(SLOW_BPS),
            "--resume-cmd", f"touch {self.mark('resumed')}") + tuple(extra)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_copying(self):
        def both():
            jobs = self.src.client.list_jobs()
            return len(jobs) == 2 and all(
                j.phase == pb.PHASE_PRECOPY and j.stats.memory_processed
                for j in jobs)
        vmigtest.wait_for(both, "both devices copying")

    def assert_all_rolled_back(self, report):
        for d in report["devices"]:
            self.assertIn(d["source_phase"], ("cancelled", "failed"), d)
            self.assert_dest_rolled_back(
                int(d["device"][-1]), d["destination_job"])
        for vf in (1, 2):
            self.assert_source_rolled_back(vf)

    def test_a_failed_device_rolls_the_vm_back(self):
        p = self.start_tool()
        self.wait_copying()
        self.src.client.cancel_job(2, "the device broke")
        out, err = p.communicate(timeout=LIVENESS_S * 2)
        self.assertEqual(p.returncode, 1, err)
        report = json.loads(out)
        self.assertIn("the device broke", report["error"])
        self.assert_all_rolled_back(report)
        self.assertNotIn("paused_ms", report)
        self.assertFalse(os.path.exists(self.mark("resumed")))

    def test_a_failure_after_the_pause_resumes_on_the_source(self):
        # the "VMM" pauses, and device 2's job fails right then: device 1
        # switches over, device 2 cannot
        pause = f"{self.vmigctl(self.src)} cancel 2 'lost at the pause'"
        rc, report, log = self.run_tool(self.argv(extra=(
            "--pause-cmd", pause, "--resume-cmd",
            f"touch {self.mark('resumed')}")))
        self.assertEqual(rc, 1, f"{report}\n{log}")
        self.assertTrue(report.get("resumed_on_source"), report)
        self.assertTrue(os.path.exists(self.mark("resumed")))
        phases = [d["source_phase"] for d in report["devices"]]
        self.assertEqual(phases[1], "cancelled", report)
        # device 1 was switching over when device 2 failed: it either
        # completed, and runs again on the source with the guest (its
        # destination copy runs without a VM, as reported), or it was
        # cancelled and rolled back
        self.assertIn(phases[0], ("completed", "cancelled"), report)
        if phases[0] == "completed":
            self.assertIn("sim0/vf1: running again on the source", log)
        for vf in (1, 2):
            self.assertEqual(self.src.sim.mode(vf), "active")
            self.assertEqual(self.src.device(vf).job_id, 0)

    def test_interrupted(self):
        p = self.start_tool()
        self.wait_copying()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=LIVENESS_S * 2)
        self.assertEqual(p.returncode, 130, err)
        report = json.loads(out)
        self.assertIn("SIGINT", report["error"])
        self.assert_all_rolled_back(report)


if __name__ == "__main__":
    unittest.main(verbosity=2)
