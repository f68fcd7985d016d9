"""The demo's virtio dialects part (test/demo.py calls run()): VFs on
PFs of the two dialects beside the draft, virtio 1.4 device parts and the
control-virtqueue proposal, migrated by a vmigd pair of their own, one
VF into a PF of another dialect; its counts go into the demo's JSON.
Kept in a file of its own so that the demo's other parts change apart."""
import hashlib
import os
import subprocess

import simdev
import vfiosim
import vmigtest
from vmig import pb

MEM = 32 << 20
DATA = 8 << 20
# (source dialect, VF, destination dialect, workload, parameters)
MOVES = [
    ("v14", 1, "v14", "hot", dict(rate="16M", fraction="0.02")),
    ("v14", 2, "v14", "stream", dict(rate="8M", bufs="512")),
    ("cvq", 1, "cvq", "hot", dict(rate="16M", fraction="0.05")),
    ("cvq", 2, "cvq", "burst", dict(bytes="1M", every="100")),
    ("cvq", 3, "v14", "hot", dict(rate="8M", fraction="0.02")),
]
# PF name on each host, by dialect
PFS = dict(v14="pf14", cvq="pfcvq")
BDF = "0000:3c:00.0"      # the virtio PF behind vfio-pci (run_vfio_pci)


def _digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(8 << 20), b""):
            h.update(b)
    return h.hexdigest()


def _start(tmp, files, sc, dc, spf, dpf, vf, sdev, ddev, kind, params, vm,
           policy, source_interfaces=None):
    """Memory for vf on both PFs, a workload on the source, the
    destination held; PrepareIncoming and StartMigration (verified, bulk
    copy). What _finish needs."""
    smem = simdev.memfile(tmp.path, f"demo-{vm}-src", MEM)
    dmem = simdev.memfile(tmp.path, f"demo-{vm}-dst", MEM)
    files += [smem, dmem]
    with open(smem, "r+b") as f:
        f.write(os.urandom(DATA))
    spf.attach(vf, smem, MEM, 0)
    dpf.attach(vf, dmem, MEM, 0)
    dpf.hold(vf)
    spf.workload(vf, kind, **params)
    prep = dc.prepare_incoming(
        ddev, [dict(path=dmem, iova=0, length=MEM)],
        policy=dict(verify=True), vm=vm,
        source_interfaces=source_interfaces or [])
    jid = sc.start_migration(
        sdev, [dict(path=smem, iova=0, length=MEM)], prep.stream_url,
        prep.token, policy=dict(verify=True, bulk_copy=True, **policy),
        vm=vm)
    return dict(sdev=sdev, ddev=ddev, smem=smem, dmem=dmem, jid=jid,
                djid=prep.job_id)


def _finish(sc, dc, spf, dpf, vf, cross, m, sname, dname):
    """Wait for both jobs; print the line; 1 if completed, verified,
    memory and device state equal."""
    j = sc.wait_job(m["jid"], timeout=vmigtest.LIVENESS_S)
    dj = dc.wait_job(m["djid"], timeout=vmigtest.LIVENESS_S)
    same_state = spf.digest(vf, any_dialect=cross) == \
        dpf.digest(vf, any_dialect=cross)
    same_mem = _digest(m["smem"]) == _digest(m["dmem"])
    good = j.phase == dj.phase == pb.PHASE_COMPLETED and \
        j.verified and same_state and same_mem
    print(f"{m['sdev']} {sname} -> {m['ddev']} {dname}: "
          f"{pb.JobPhase.Name(j.phase)[6:].lower()}, downtime "
          f"{j.stats.downtime_ms} ms, memory "
          f"{'equal' if same_mem else 'DIFFERENT'}, state "
          f"{'equal' if same_state else 'DIFFERENT'}"
          + (f": {j.error}" if j.error else ""))
    return int(good)


def run(tmp, files, sims, daemons, plugin, vmigctl, say):
    """Migrate MOVES; return {dialect: verified migrations} (by the
    source VF's dialect) and the failures."""
    say("the other virtio dialects: virtio 1.4 device parts and the "
        "control-vq proposal, one core in the plugin")
    pfs = {}
    for host in ("src", "dst"):
        for d in PFS:
            pf = simdev.SimPF(vfs=3, name=f"{host}-{d}",
                              args=("--dialect", d)).start()
            sims.append(pf)
            pfs[host, d] = pf
    hosts = {}
    for host in ("src", "dst"):
        dm = vmigtest.Daemon(tmp, f"dialects-{host}", plugins=[plugin],
                             pfs=[(PFS[d], "virtio-admin", pfs[host, d].spec)
                                  for d in PFS])
        daemons.append(dm)
        dm.start()
        hosts[host] = dm
    vmigctl(hosts["src"], "devices", "pf14")
    vmigctl(hosts["dst"], "compat",
            f"pfcvq/vf3@{hosts['src'].rpc_url}", "pf14/vf3")
    try:        # refused, the field named: vmigctl exits 1
        vmigctl(hosts["dst"], "compat",
                f"pf14/vf1@{hosts['src'].rpc_url}", "pfcvq/vf1")
    except subprocess.CalledProcessError:
        pass

    jobs = []
    with hosts["src"].client() as sc, hosts["dst"].client() as dc:
        for sd, vf, dd, kind, params in MOVES:
            sdev, ddev = f"{PFS[sd]}/vf{vf}", f"{PFS[dd]}/vf{vf}"
            src_if = sc.list_devices(PFS[sd])
            src_if = [x.caps.interface for x in src_if.devices
                      if x.name == sdev][0]
            # v1.4 tracks nothing: every page is dirty, so the policy
            # switches over at once; its ceiling must hold the memory
            m = _start(tmp, files, sc, dc, pfs["src", sd], pfs["dst", dd],
                       vf, sdev, ddev, kind, params, f"{sd}-vm{vf}",
                       dict(max_downtime_ms=5000) if sd == "v14" else {},
                       [src_if])
            jobs.append((sd, vf, dd, kind, m))
        counts = {d: 0 for d in PFS}
        failed = 0
        for sd, vf, dd, kind, m in jobs:
            good = _finish(sc, dc, pfs["src", sd], pfs["dst", dd], vf,
                           sd != dd, m, f"({sd})", f"({dd}) {kind}")
            counts[sd] += good
            failed += not good
    for dm in hosts.values():
        dm.stop()
    return counts, failed


def run_vfio_pci(tmp, files, sims, daemons, plugin, say):
    """One draft VF whose PF both daemons open as vfio:BDF: a virtio PF
    behind the simulated vfio-pci kernel (test/sim/vfio, --dev
    virtio=SOCK), its admin queue programmed through the BAR. Returns
    (verified migrations, failures)."""
    say("the admin queue over vfio-pci: each daemon opens its PF as "
        f"vfio:{BDF}, a simulated virtio PF behind vfio-pci")
    hosts, pfs = {}, {}
    for host in ("src", "dst"):
        pf = simdev.SimPF(vfs=1, name=f"{host}-pci").start()
        sims.append(pf)
        kernel = vfiosim.SimVfio(tmp.sub(f"pci-{host}"),
                                 [f"bdf={BDF},virtio={pf.socket}"]).start()
        sims.append(kernel)
        dm = vmigtest.Daemon(
            tmp, f"pci-{host}", plugins=[plugin],
            pfs=[("pfpci", "virtio-admin",
                  f"vfio:{BDF},sysfs={kernel.sysfs}")],
            env=vfiosim.preload_env(kernel.socket))
        daemons.append(dm)
        dm.start()
        hosts[host], pfs[host] = dm, pf
    with hosts["src"].client() as sc, hosts["dst"].client() as dc:
        m = _start(tmp, files, sc, dc, pfs["src"], pfs["dst"], 1,
                   "pfpci/vf1", "pfpci/vf1", "hot",
                   dict(rate="16M", fraction="0.05"), "pci-vm1", {})
        good = _finish(sc, dc, pfs["src"], pfs["dst"], 1, False, m,
                       f"(vfio:{BDF})", f"(vfio:{BDF}) hot")
    for dm in hosts.values():
        dm.stop()
    return good, 1 - good
