#!/usr/bin/python3
"""test/demo.py BUILDDIR: eight VFs live-migrated between two daemons.

./bootstrap demo runs this (through test/demo.sh). On one machine it plays
two hosts: a source and a destination, each with its own vmigd and its own
simulated virtio PF (vmig-simdev) with 8 VFs. Eight "VMs" are memory files
of 128 MiB in /dev/shm, each with a VF running a different DMA workload
(hot sets, a NIC-like receive ring, bursts, idle, a flood on a small
window). The demo drives everything with vmigctl, as an operator would:

  1. vmigctl devices: the PFs, VFs and their capabilities;
  2. on the destination, `vmigctl prepare` reserves a VF per VM (memory
     mapped, VF stopped, a one-time token and a stream URL);
  3. on the source, `vmigctl migrate` starts all eight at once (bulk copy
     of each VM's memory, then the pages the device writes, adaptive
     switchover, digests verified on the destination before it resumes);
  4. `vmigctl jobs --watch` shows one live line per VF;
  5. a summary: time, downtime, iterations, bytes, verified; and an
     independent check by this script: memory files byte for byte and the
     simulators' device-state digests, with the destination VFs held until
     compared, then released to carry on the workload where the source left
     it.

With --vfio N (4 by default, 0: none) each host also has a simulated
VFIO kernel with N VFIO VFs in N more VMs, migrated at the same time by
the same daemons through the vfio plugin (test/demo_vfio.py).

The last line is one JSON object for scripts (how many of each kind); the
exit status is 0 only if every VM migrated and verified.
"""

import hashlib
import json
import os
import subprocess
import sys
import time

if len(sys.argv) < 2:
    sys.exit("usage: test/demo.py BUILDDIR [--vfio N]")
NVFIO = int(sys.argv[sys.argv.index("--vfio") + 1]) \
    if "--vfio" in sys.argv[2:] else 4
BUILD = os.path.abspath(sys.argv[1])
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["VMIG_BUILDDIR"] = BUILD
sys.path[:0] = [os.path.join(SRC, "test"),
                os.path.join(SRC, "test", "integration"),
                os.path.join(BUILD, "clients", "python"),
                os.path.join(SRC, "clients", "python")]

import demo_dialects  # noqa: E402
import demo_vfio  # noqa: E402
import simdev  # noqa: E402
import vmigtest  # noqa: E402
from vmig import pb  # noqa: E402

VMS = 8
MEM = 128 << 20          # bytes of guest memory per VM
DATA = 16 << 20          # of which this much holds (random) data
LIMITS = f"[limits]\nmax_outgoing = {VMS}\nmax_incoming = {VMS}\n" \
         f"max_per_pf = {VMS}\n"

# (workload kind, parameters): one per VM
WORKLOADS = [
    ("hot", dict(rate="16M", fraction="0.02")),
    ("stream", dict(rate="24M", bufs="512")),
    ("burst", dict(bytes="2M", every="150")),
    ("idle", {}),
    ("hot", dict(rate="48M", fraction="0.08")),
    ("stream", dict(rate="8M", bufs="2048")),
    ("burst", dict(bytes="512K", every="40")),
    ("flood", dict(length="4M")),
]

BOLD, RESET = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")


def say(text):
    print(f"\n{BOLD}== {text}{RESET}", flush=True)


def vmigctl(daemon, *args, show=True, capture=False):
    argv = [vmigtest.vmigctl_path(), "--connect", daemon.rpc_url] + \
        list(args)
    if show:
        print("$ vmigctl " + " ".join(args), flush=True)
    return subprocess.run(argv, check=True, text=True,
                          stdout=subprocess.PIPE if capture else None)


def digest_file(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while True:
            b = f.read(8 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def main():
    files = []
    sims = []
    daemons = []
    with vmigtest.TempDir("vmig-demo-") as tmp:
        try:
            return run(tmp, files, sims, daemons)
        except Exception:
            # a person needs the daemons' own words, not only a traceback
            for d in daemons:
                if d.proc is not None and d.proc.poll() is not None:
                    print(f"\n{d.name} vmigd exited {d.proc.returncode}; "
                          "the end of its log:", file=sys.stderr)
                    print("\n".join(d.log().splitlines()[-40:]),
                          file=sys.stderr)
            raise
        finally:
            for d in daemons:
                if d.proc is not None and d.proc.poll() is None:
                    d.stop(expect=None)
            # VMIG_DEMO_LOGS=DIR keeps the daemons' logs (downtime breakdown)
            keep = os.environ.get("VMIG_DEMO_LOGS")
            for d in daemons if keep else ():
                os.makedirs(keep, exist_ok=True)
                with open(os.path.join(keep, d.name + ".log"), "w") as f:
                    f.write(d.log())
            for s in sims:
                s.stop()
            for f in files:
                if os.path.exists(f):
                    os.unlink(f)


def run(tmp, files, sims, daemons):
    plugin = vmigtest.backend_plugin("virtio-admin")
    if plugin is None:
        sys.exit("demo: the virtio-admin plugin is not built")

    say("two hosts on loopback: a simulated PF with 8 VFs and a vmigd each")
    src_pf = simdev.SimPF(vfs=VMS, name="source-pf", admin_queues=2).start()
    dst_pf = simdev.SimPF(vfs=VMS, name="destination-pf",
                            admin_queues=2).start()
    sims += [src_pf, dst_pf]
    src = vmigtest.Daemon(tmp, "source", plugins=[plugin], config=LIMITS,
                          pfs=[("pf0", "virtio-admin", src_pf.spec)])
    dst = vmigtest.Daemon(tmp, "destination", plugins=[plugin],
                          config=LIMITS,
                          pfs=[("pf0", "virtio-admin", dst_pf.spec)])
    daemons += [src, dst]
    vfio = demo_vfio.VfioDemo(tmp, NVFIO, MEM, DATA)    # --vfio N
    sims.append(vfio)
    vfio.add_to(src, dst, VMS)
    src.start()
    dst.start()
    print(f"source      vmigd pid {src.pid}, control {src.rpc_url}")
    print(f"destination vmigd pid {dst.pid}, control {dst.rpc_url}")
    vmigctl(src, "version")
    vmigctl(src, "devices")

    say(f"{VMS} VMs: {MEM >> 20} MiB of memory each, a VF with a "
        "different workload each")
    vms = []
    for i in range(VMS):
        vf = i + 1
        smem = simdev.memfile(tmp.path, f"demo-src-vm{vf}", MEM)
        dmem = simdev.memfile(tmp.path, f"demo-dst-vm{vf}", MEM)
        files += [smem, dmem]
        with open(smem, "r+b") as f:
            f.write(os.urandom(DATA))
        src_pf.attach(vf, smem, MEM, 0)
        dst_pf.attach(vf, dmem, MEM, 0)
        dst_pf.hold(vf)      # checked before it may write
        kind, params = WORKLOADS[i]
        src_pf.workload(vf, kind, **params)
        desc = " ".join(f"{k}={v}" for k, v in params.items())
        print(f"vm{vf}: {smem}  pf0/vf{vf}  workload {kind} {desc}")
        vms.append(dict(vm=f"vm{vf}", vf=vf, device=f"pf0/vf{vf}",
                        smem=smem, dmem=dmem, kind=kind))
    vms += vfio.vms(VMS + 1)
    time.sleep(0.5)          # let the devices write a little first

    say("destination: reserve a VF per VM (vmigctl prepare)")
    for n, v in enumerate(vms):
        region = f"{v['dmem']},iova=0,size={MEM}"
        out = vmigctl(dst, "prepare", v["device"], "--region", region,
                      "--verify", "--vm", v["vm"], show=n == 0,
                      capture=True).stdout
        fields = dict(line.split(" ", 1) for line in out.splitlines())
        v["dest_job"] = int(fields["job"])
        v["url"] = fields["url"]
        v["token"] = fields["token"]
        if n == 0:
            print(out.rstrip())
    print(f"... {len(vms)} VFs prepared")

    say("source: migrate them all at once (vmigctl migrate)")
    for n, v in enumerate(vms):
        region = f"{v['smem']},iova=0,size={MEM}"
        out = vmigctl(src, "migrate", v["device"], "--to", v["url"],
                      "--token", v["token"], "--region", region, "--bulk",
                      "--verify", "--downtime", "300", "--ceiling", "1000",
                      "--timeout", "120", "--vm", v["vm"], show=n == 0,
                      capture=True).stdout
        v["job"] = int(out.split()[1])
    print(f"... {len(vms)} migrations started")

    say("progress (vmigctl jobs --watch)")
    t0 = time.monotonic()
    vmigctl(src, "jobs", "--watch", show=False)
    wall = time.monotonic() - t0

    say("summary")
    with src.client() as c:
        jobs = {j.id: j for j in c.list_jobs(include_finished=True)}
    with dst.client() as c:
        djobs = {j.id: j for j in c.list_jobs(include_finished=True)}
    header = ("VM", "DEVICE", "WORKLOAD", "RESULT", "TIME", "DOWNTIME",
              "ITER", "SENT", "VERIFIED", "MEMORY", "STATE")
    rows = []
    migrated = verified = failed = draft = 0
    max_downtime = total_bytes = 0
    for v in vms:
        j = jobs[v["job"]]
        dj = djobs.get(v["dest_job"])
        ok = j.phase == pb.PHASE_COMPLETED
        # independent of the daemons: the files and the devices
        same_mem = digest_file(v["smem"]) == digest_file(v["dmem"])
        same_state = v["same_state"]() if "same_state" in v else \
            src_pf.digest(v["vf"]) == dst_pf.digest(v["vf"])
        good = ok and j.verified and same_mem and same_state and \
            dj is not None and dj.phase == pb.PHASE_COMPLETED
        migrated += ok
        verified += good
        draft += good and "same_state" not in v     # virtio (draft) VMs
        failed += not ok
        if ok:
            max_downtime = max(max_downtime, j.stats.downtime_ms)
        total_bytes += j.stats.bytes_sent
        rows.append((v["vm"], v["device"], v["kind"],
                     pb.JobPhase.Name(j.phase)[6:].lower(),
                     f"{j.stats.time_elapsed_ms / 1000:.2f} s",
                     f"{j.stats.downtime_ms} ms",
                     str(j.stats.memory_iteration),
                     f"{j.stats.bytes_sent / (1 << 20):.1f} MiB",
                     "yes" if j.verified else "no",
                     "equal" if same_mem else "DIFFERENT",
                     "equal" if same_state else "DIFFERENT"))
        if not ok:
            print(f"{v['vm']}: {j.error}")
    widths = [max(len(r[i]) for r in rows + [header])
              for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(f"\nall {len(vms)} in {wall:.1f} s; memory compared byte for byte and "
          "device state digests compared by the demo itself")

    say("the destination VFs carry on where the source VFs stopped")
    vms = [v for v in vms if "same_state" not in v]    # virtio ones
    for v in vms:
        before = dst_pf.state(v["vf"])["writes"]
        dst_pf.release(v["vf"])
        v["writes_before"] = before
    time.sleep(0.3)
    for v in vms:
        st = dst_pf.state(v["vf"])
        print(f"{v['vm']}: destination {v['device']} {st['mode']}, "
              f"writes {v['writes_before']} -> {st['writes']}")
    src_state = src_pf.state(1)
    print(f"(source VFs stay {src_state['mode']} until the orchestrator "
          "releases them: vmigctl release)")

    say("stopping both daemons")
    for d in (src, dst):
        code = d.stop()
        print(f"{d.name}: vmigd exited {code}")

    # virtio 1.4 and control-vq VFs: a part of its own (demo_dialects.py)
    dialects, dfailed = demo_dialects.run(tmp, files, sims, daemons, plugin,
                                          vmigctl, say)
    dialects["draft"] = draft
    # a draft VF whose PF is reached through vfio-pci (vfio:BDF)
    vfio_pci, pfailed = demo_dialects.run_vfio_pci(tmp, files, sims,
                                                   daemons, plugin, say)

    result = dict(migrated=migrated, verified=verified, failed=failed,
                  max_downtime_ms=max_downtime, total_bytes=total_bytes,
                  wall_s=round(wall, 2), virtio_admin=VMS, vfio=NVFIO,
                  virtio_dialects=dialects, virtio_vfio_pci=vfio_pci)
    print(json.dumps(result))
    return 0 if verified == VMS + NVFIO and dfailed == 0 and \
        pfailed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
