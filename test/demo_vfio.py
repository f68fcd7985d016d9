"""test/demo_vfio.py: the demo's VFIO VFs (test/demo.py --vfio N).

Each demo host also gets a simulated VFIO kernel (vmig-simvfio) with N
VFs, each held by its VMM (vfsim-vmm: the VF opened through its group
and type1 container, the VM's memory mapped at IOVA 0), and its vmigd a
PF per VMM, "vfioN" (N = 1..), served by the vfio plugin, which asks the
VMM for its fds (vfio-fd:). The daemons run under the interposer that sends
/dev/vfio calls to the simulated kernel. The VMs join the virtio ones:
prepared, migrated at once and checked the same way (memory byte for
byte, the simulated devices' state digests).
"""

import os

import vfiosim

# VFIO VFs: v2 with pre-copy and DMA logging, and one without pre-copy
DEVS = ["mig=v2", "mig=v2,flags=stop_copy+p2p"]
WORKLOADS = [
    ("hot", dict(rate="16M", fraction="0.02")),
    ("stream", dict(rate="8M", bufs="512")),
    ("burst", dict(bytes="1M", every="100")),
    ("idle", {}),
]


class VfioDemo:
    def __init__(self, tmp, n, mem, data):
        self.n = n
        self.mem = mem
        self.data = data
        self.sides = []
        if n == 0:
            return
        devs = [DEVS[i % len(DEVS)] for i in range(n)]
        for name in ("source", "destination"):
            self.sides.append(vfiosim.VfioKernel(
                tmp.sub(name + "-vfio"), "demo-" + name, devs, mem=mem,
                fill=None, iova=0))
        self.src, self.dst = self.sides

    def add_to(self, src, dst, virtio_vms):
        """Before the daemons start: the vfio plugin, a PF, the
        interposer, and limits that let every VM move at once."""
        total = virtio_vms + self.n
        for d, side in zip((src, dst), self.sides):
            d.add_plugin(vfiosim.vfio_plugin())
            for vf, vmm in enumerate(side.vmms, 1):
                d.pfs.append((f"vfio{vf}", "vfio", f"vfio-fd:{vmm.sock}"))
            d.env = dict(d.env or {}, **side.env())
            d.write_config(extra=f"[limits]\nmax_outgoing = {total}\n"
                           f"max_incoming = {total}\nmax_per_pf = {total}\n")

    def vms(self, first):
        """The VMs (as demo.py's): vm, vf, device, smem, dmem, kind,
        and same_state() comparing the simulated devices."""
        out = []
        for i in range(self.n):
            vf = i + 1
            smem, dmem = self.src.mem[vf], self.dst.mem[vf]
            with open(smem, "r+b") as f:
                f.write(os.urandom(self.data))
            self.dst.sim.cmd(f"hold {vf}")     # checked before it writes
            kind, params = WORKLOADS[i % len(WORKLOADS)]
            self.src.sim.cmd(f"workload {vf} {kind} " + " ".join(
                f"{k}={v}" for k, v in params.items()))
            desc = " ".join(f"{k}={v}" for k, v in params.items())
            print(f"vm{first + i}: {smem}  vfio{vf}/vf1 ({DEVS[i % 2]})  "
                  f"workload {kind} {desc}")
            out.append(dict(
                vm=f"vm{first + i}", vf=vf, device=f"vfio{vf}/vf1",
                smem=smem, dmem=dmem, kind=kind + " (vfio)",
                same_state=lambda vf=vf: self.src.sim.cmd(f"digest {vf}")
                == self.dst.sim.cmd(f"digest {vf}")))
        return out

    def stop(self):
        for s in self.sides:
            s.close()
