"""The demo's virtio dialects part (test/demo.py calls run()): VFs on
PFs of the two dialects beside the draft, virtio 1.4 device parts and the
control-virtqueue proposal, migrated by a vmigd pair of their own, one
VF into a PF of another dialect; its counts go into the demo's JSON.
Kept in a file of its own so that the demo's other parts change apart."""
import hashlib
import os
import subprocess

import simdev
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


def _digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(8 << 20), b""):
            h.update(b)
    return h.hexdigest()


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
            smem = simdev.memfile(tmp.path, f"demo-{sd}{vf}-src", MEM)
            dmem = simdev.memfile(tmp.path, f"demo-{sd}{vf}-dst", MEM)
            files += [smem, dmem]
            with open(smem, "r+b") as f:
                f.write(os.urandom(DATA))
            spf, dpf = pfs["src", sd], pfs["dst", dd]
            spf.attach(vf, smem, MEM, 0)
            dpf.attach(vf, dmem, MEM, 0)
            dpf.hold(vf)
            spf.workload(vf, kind, **params)
            sdev, ddev = f"{PFS[sd]}/vf{vf}", f"{PFS[dd]}/vf{vf}"
            src_if = sc.list_devices(PFS[sd])
            src_if = [x.caps.interface for x in src_if.devices
                      if x.name == sdev][0]
            prep = dc.prepare_incoming(
                ddev, [dict(path=dmem, iova=0, length=MEM)],
                policy=dict(verify=True), vm=f"{sd}-vm{vf}",
                source_interfaces=[src_if])
            # v1.4 tracks nothing: every page is dirty, so the policy
            # switches over at once; its ceiling must hold the memory
            policy = dict(verify=True, bulk_copy=True)
            if sd == "v14":
                policy["max_downtime_ms"] = 5000
            jid = sc.start_migration(
                sdev, [dict(path=smem, iova=0, length=MEM)],
                prep.stream_url, prep.token, policy=policy,
                vm=f"{sd}-vm{vf}")
            jobs.append((sd, vf, dd, kind, sdev, ddev, smem, dmem, jid,
                         prep.job_id))
        counts = {d: 0 for d in PFS}
        failed = 0
        for sd, vf, dd, kind, sdev, ddev, smem, dmem, jid, djid in jobs:
            j = sc.wait_job(jid, timeout=vmigtest.LIVENESS_S)
            dj = dc.wait_job(djid, timeout=vmigtest.LIVENESS_S)
            cross = sd != dd
            same_state = pfs["src", sd].digest(vf, any_dialect=cross) == \
                pfs["dst", dd].digest(vf, any_dialect=cross)
            same_mem = _digest(smem) == _digest(dmem)
            good = j.phase == dj.phase == pb.PHASE_COMPLETED and \
                j.verified and same_state and same_mem
            counts[sd] += good
            failed += not good
            print(f"{sdev} ({sd}) -> {ddev} ({dd}) {kind}: "
                  f"{pb.JobPhase.Name(j.phase)[6:].lower()}, downtime "
                  f"{j.stats.downtime_ms} ms, memory "
                  f"{'equal' if same_mem else 'DIFFERENT'}, state "
                  f"{'equal' if same_state else 'DIFFERENT'}"
                  + (f": {j.error}" if j.error else ""))
    for dm in hosts.values():
        dm.stop()
    return counts, failed
