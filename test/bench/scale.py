#!/usr/bin/python3
"""scale.py: 8, 16, 32 and 64 concurrent migrations on one pair of daemons.

    test/bench/scale.py [BUILDDIR] [--json] [--quick] [--levels 8,16,32,64]
        [--pfs 8] [--mem 32M] [--dst-fill zero|written] [--rpc-gap-ms 10]
        [--check-memory]

Two vmigd, each with --pfs simulated virtio PFs (VFs spread over them
round-robin), [limits] max_outgoing / max_incoming / max_per_pf raised to
the largest level. Per level, fresh VFs and fresh VMs of --mem bytes of
random data (the destination's file sparse, or with --dst-fill written
every page allocated before PrepareIncoming, as a VM with a passthrough
device has its memory pinned at the destination: throughput.py's warm
rows; on this project's test VMs the first touch of a fresh page costs
~15 us, which a sparse destination pays inside the level), each VF with
a workload from a mix (a small hot set, a
receive ring, bursts, idle: rates chosen so that each converges alone);
all migrations of the level are started at once (PrepareIncoming +
StartMigration back to back) with bulk copy, verify, a 300 ms target and
a 1000 ms ceiling, timeout_action ABORT (a forced switchover would hide a
failure).

A level passes when every job COMPLETED, is verified (the daemons'
digests), and the simulators' device-state digests of source and
destination VF are equal (with --check-memory the memory files are
compared byte for byte too). max_concurrent_ok is the largest level that
passed with every level below it passing too.

Measured per level:
  downtime   min, p50, p90, max over the completed jobs (ms)
  wall       from the first job's creation to the last job's end (s,
             the daemon's times)
  rpc        GetJob latency (ms, p50/p99) as an orchestrator sees it:
             test/bench/rpc_probe, a C process of its own calling GetJob
             round-robin on the level's jobs, one call every --rpc-gap-ms,
             while the level runs; beside the same probe against the idle
             daemon right after the level (at least 300 calls, and as many
             as during the level: the reference, rpc_p99_ratio = busy /
             idle). Beside it, the floor: the same probe making raw round
             trips of the same request to a trivial nng REP server
             (rpc_probe --serve, a process answering with as many bytes
             as a GetJob reply) at the same time, on the same loaded host
             (rpc_floor_*; rpc_p99_vs_floor = vmigd / floor: what vmigd
             adds, apart from the host's scheduling of too many busy
             processes on too few cores). And a thread in this Python
             process makes the same calls through the Python client
             (rpc_py_*): its numbers add the waits for the interpreter
             lock that this script's own polling holds.
  cpu        utime+stime of the two vmigd (/proc/PID/stat) over the level,
             per GiB moved (JobStats.bytes_sent summed over the level's
             source jobs); the simulators' CPU is shown apart.
"""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import MiB, GiB  # noqa: E402

REF_CALLS = 300     # at least this many idle calls for the reference p99
MIX = [
    ("hot", dict(rate="4M", fraction="0.05", size=4096)),
    ("stream", dict(rate="4M", bufs=512, bufsize=2048)),
    ("burst", dict(bytes="512K", every=100, size=4096)),
    ("idle", {}),
]


def options(p):
    p.add_argument("--levels", default=None,
                   help="concurrent migrations per level (default "
                   "8,16,32,64; --quick 4,8)")
    p.add_argument("--pfs", type=int, default=None,
                   help="simulated PFs per host (default 8, --quick 2)")
    p.add_argument("--mem", default=None,
                   help="memory per VM (default 32M, --quick 8M)")
    p.add_argument("--dst-fill", default="zero", choices=["zero", "written"],
                   help="the destination memory files: sparse (default) or "
                   "every page written before the level (pinned memory)")
    p.add_argument("--rpc-gap-ms", type=float, default=10.0,
                   help="pause between the RPC thread's calls (default 10)")
    p.add_argument("--check-memory", action="store_true",
                   help="also compare the memory files byte for byte")



class RpcProbe(threading.Thread):
    """GetJob round-robin over job ids from its own connection."""

    def __init__(self, url, ids, gap_s):
        super().__init__(daemon=True)
        self.url = url
        self.ids = list(ids)
        self.gap_s = gap_s
        self.lat_ms = []
        self.errors = 0
        self.halt = threading.Event()

    def run(self):
        with bl.vmig.Client(self.url, timeout_ms=30000) as c:
            i = 0
            while not self.halt.is_set():
                jid = self.ids[i % len(self.ids)]
                i += 1
                t0 = time.perf_counter()
                try:
                    c.get_job(jid)
                    self.lat_ms.append((time.perf_counter() - t0) * 1e3)
                except bl.vmig.VmigError:
                    self.errors += 1
                if self.gap_s:
                    self.halt.wait(self.gap_s)

    def stop(self):
        self.halt.set()
        self.join(timeout=60)


class CProbe:
    """The same calls from test/bench/rpc_probe, a process of its own:
    it runs until its standard input is closed, or with calls, until it
    made that many."""

    def __init__(self, builddir, url, ids, gap_s, calls=0, raw=False):
        self.argv = [os.path.join(builddir, "test", "bench", "rpc_probe"),
                     "--connect", url, "--ids", ",".join(map(str, ids)),
                     "--gap-ms", str(int(gap_s * 1000)),
                     "--calls", str(calls)] + (["--raw"] if raw else [])
        self.proc = None
        self.lat_ms = []
        self.errors = 0

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def stop(self):
        """Close its input (it reports at once) or wait for its calls."""
        out, _ = self.proc.communicate(input="", timeout=600)
        if self.proc.returncode != 0:
            bl.die(f"rpc_probe exited {self.proc.returncode}")
        r = json.loads(out)
        self.lat_ms = [u / 1e3 for u in r["lat_us"]]
        self.errors = r["errors"]


class EchoServer:
    """rpc_probe --serve: the floor's trivial REP server, in its own
    process, answering with reply_bytes bytes."""

    def __init__(self, builddir, url, reply_bytes):
        self.proc = subprocess.Popen(
            [os.path.join(builddir, "test", "bench", "rpc_probe"),
             "--serve", url, "--reply-bytes", str(reply_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            bl.die(f"rpc_probe --serve {url} did not start")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def file_digest(path):
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        while True:
            b = f.read(8 * MiB)
            if not b:
                return h.hexdigest()
            h.update(b)


def run_level(pair, n, npfs, vf_base, mem, args):
    """Start n migrations at once; returns the level's row."""
    bl.note(f"level {n}: preparing {n} VMs of {mem >> 20} MiB")
    vms = []
    for i in range(n):
        pf = i % npfs
        vf = vf_base + i // npfs + 1
        vm = pair.vm(pf, vf, mem, "random", tag=f"sc{n}-pf{pf}-vf{vf}",
                     dst_fill=args.dst_fill)
        # the kinds rotate across PFs too (not one kind per PF)
        kind, params = MIX[(i + i // npfs) % len(MIX)]
        pair.workload(vm, kind, **params)
        vms.append(vm)
    pol = dict(bulk_copy=True, verify=True, max_downtime_ms=300,
               downtime_ceiling_ms=1000, completion_timeout_s=240,
               timeout_action=bl.pb.TIMEOUT_ABORT)
    problems = []
    try:
        time.sleep(0.2)
        c0 = pair.cpu()
        s0 = pair.src.sim_cpu() + pair.dst.sim_cpu()
        t0 = time.monotonic()
        started = []
        for vm in vms:
            try:
                pair.start(vm, pol, vm_name=f"vm-{vm.device}")
                started.append(vm)
            except bl.vmig.VmigError as e:
                problems.append(f"{vm.device}: start: {e}")
        ids = [vm.job for vm in started]
        gap = args.rpc_gap_ms / 1e3
        url = pair.src.daemon.rpc_url
        reply = len(pair.src.client.get_job(ids[0]).SerializeToString())
        echo_url = pair.tmp.ipc_url(f"echo-{n}")
        echo = EchoServer(args.builddir, echo_url, reply + 16)
        probe = CProbe(args.builddir, url, ids, gap)
        floor = CProbe(args.builddir, echo_url, ids, gap, raw=True)
        pyprobe = RpcProbe(url, ids, gap)
        probe.start()
        floor.start()
        pyprobe.start()
        # wait for all: ListJobs, a few times a second
        want = {vm.job: vm for vm in started}
        ended = {}
        deadline = time.monotonic() + 300 + 2 * n
        while len(ended) < len(want):
            if not pair.alive():
                problems.append("a daemon died during the level")
                break
            for j in pair.src.client.list_jobs(include_finished=True):
                if j.id in want and j.id not in ended and \
                        j.phase in bl.vmig.Client.TERMINAL:
                    ended[j.id] = (j, time.monotonic())
            if time.monotonic() > deadline:
                problems.append(f"{len(want) - len(ended)} jobs still "
                                "running after the liveness bound")
                break
            time.sleep(0.2)
        # the daemon's own clock: first job created to last job ended
        if ended:
            first = min(j.created_unix_ms for j, _ in ended.values())
            last = max(j.created_unix_ms + j.stats.time_elapsed_ms
                       for j, _ in ended.values())
            wall = (last - first) / 1e3
        else:
            wall = time.monotonic() - t0
        probe.stop()
        floor.stop()
        echo.close()
        pyprobe.stop()
        c1 = pair.cpu()
        s1 = pair.src.sim_cpu() + pair.dst.sim_cpu()
        # the references: same probes, same calls, idle daemon, one
        # after the other
        want_calls = max(REF_CALLS, len(probe.lat_ms))
        ref = CProbe(args.builddir, url, ids, gap, calls=want_calls)
        ref.start()
        ref.stop()
        pyref = RpcProbe(url, ids, gap)
        pyref.start()
        want_calls = max(REF_CALLS, len(pyprobe.lat_ms))
        end = time.monotonic() + 20
        while len(pyref.lat_ms) < want_calls and time.monotonic() < end:
            time.sleep(0.1)
        pyref.stop()

        jobs = []
        for vm in started:
            row = dict(device=vm.device, kind=vm.kind)
            if vm.job not in ended:
                row.update(phase="unfinished", ok=False)
                jobs.append(row)
                continue
            j = ended[vm.job][0]
            row.update(bl.job_row(j))
            djob = None
            try:
                djob = pair.dst.client.get_job(vm.djob)
            except bl.vmig.VmigError as e:
                problems.append(f"{vm.device}: destination job: {e}")
            row["dest_phase"] = bl.phase_name(djob.phase) if djob else None
            done = j.phase == bl.pb.PHASE_COMPLETED
            same_state = None
            same_mem = None
            if done:
                same_state = pair.src.sims[vm.pf].digest(vm.vf) == \
                    pair.dst.sims[vm.pf].digest(vm.vf)
                if args.check_memory:
                    same_mem = file_digest(vm.smem) == file_digest(vm.dmem)
            row["same_state"] = same_state
            row["same_memory"] = same_mem
            row["ok"] = bool(done and j.verified and same_state and
                             same_mem is not False and djob is not None and
                             djob.phase == bl.pb.PHASE_COMPLETED)
            if not row["ok"]:
                problems.append(f"{vm.device} ({vm.kind}): {row['phase']}"
                                f" verified={j.verified} state_equal="
                                f"{same_state} memory_equal={same_mem}: "
                                f"{j.error}")
                row["log"] = pair.src.log_tail(6, grep=f"job {j.id}")
            jobs.append(row)
    finally:
        for vm in vms:
            pair.finish(vm)

    ok = [r for r in jobs if r.get("ok")]
    done = [r for r in jobs if r.get("phase") == "completed"]
    down = [r["downtime_ms"] for r in done]
    moved = sum(r.get("bytes_sent", 0) for r in jobs)
    gib = moved / GiB
    cpu_src = c1[0] - c0[0] if None not in c0 + c1 else None
    cpu_dst = c1[1] - c0[1] if None not in c0 + c1 else None
    cpu = (cpu_src + cpu_dst) if cpu_src is not None and \
        cpu_dst is not None else None
    p = bl.percentile
    row = dict(
        level=n, started=len(started), completed=len(done), ok=len(ok),
        passed=len(ok) == n,
        downtime_ms=dict(min=min(down, default=None), p50=p(down, 50),
                         p90=p(down, 90), max=max(down, default=None)),
        wall_s=bl.rnd(wall, 2), bytes_moved=moved,
        gib_per_s=bl.rnd(gib / wall, 3) if wall > 0 else None,
        cpu_src_s=bl.rnd(cpu_src), cpu_dst_s=bl.rnd(cpu_dst),
        cpu_s_per_gib=bl.rnd(cpu / gib) if cpu is not None and gib else None,
        sim_cpu_s=bl.rnd(s1 - s0),
        rpc_calls=len(probe.lat_ms), rpc_errors=probe.errors,
        rpc_p50_ms=bl.rnd(p(probe.lat_ms, 50)),
        rpc_p99_ms=bl.rnd(p(probe.lat_ms, 99)),
        rpc_max_ms=bl.rnd(max(probe.lat_ms, default=None)),
        rpc_idle_p50_ms=bl.rnd(p(ref.lat_ms, 50)),
        rpc_idle_p99_ms=bl.rnd(p(ref.lat_ms, 99)),
        rpc_floor_p50_ms=bl.rnd(p(floor.lat_ms, 50)),
        rpc_floor_p99_ms=bl.rnd(p(floor.lat_ms, 99)),
        rpc_floor_errors=floor.errors,
        rpc_py_calls=len(pyprobe.lat_ms), rpc_py_errors=pyprobe.errors,
        rpc_py_p50_ms=bl.rnd(p(pyprobe.lat_ms, 50)),
        rpc_py_p99_ms=bl.rnd(p(pyprobe.lat_ms, 99)),
        rpc_py_idle_p99_ms=bl.rnd(p(pyref.lat_ms, 99)),
        queue_ms_max=max((r.get("queue_ms", 0) for r in jobs), default=0),
        iterations_max=max((r.get("iterations", 0) for r in jobs),
                           default=0),
        problems=problems, jobs=jobs)
    if row["rpc_p99_ms"] and row["rpc_idle_p99_ms"]:
        row["rpc_p99_ratio"] = bl.rnd(row["rpc_p99_ms"] /
                                      row["rpc_idle_p99_ms"], 2)
    if row["rpc_p99_ms"] and row["rpc_floor_p99_ms"]:
        row["rpc_p99_vs_floor"] = bl.rnd(row["rpc_p99_ms"] /
                                         row["rpc_floor_p99_ms"], 2)
    return row


def main():
    args = bl.parse_args(__doc__, options)
    levels = [int(x) for x in (args.levels or
                               ("4,8" if args.quick else "8,16,32,64")
                               ).split(",")]
    npfs = args.pfs or (2 if args.quick else 8)
    mem = bl.size_arg(args.mem or ("8M" if args.quick else "32M"))
    if min(levels) < 1 or npfs < 1 or mem % 4096:
        bl.die("levels >= 1, --pfs >= 1, --mem a multiple of 4096")
    top = max(levels)
    vfs = sum(-(-n // npfs) for n in levels)
    if vfs > 256:
        bl.die(f"{vfs} VFs per PF needed: raise --pfs")
    load0 = bl.loadavg()
    bl.note(f"scale: levels {levels}, {npfs} PFs x {vfs} VFs per host, "
            f"{mem >> 20} MiB per VM, load {load0}")
    config = bl.limits_config(max_outgoing=top, max_incoming=top,
                              max_per_pf=top)
    rows = []
    with bl.Pair(npfs=npfs, vfs=vfs, config=config,
                 log_level="info") as pair:
        base = 0
        for n in levels:
            row = run_level(pair, n, npfs, base, mem, args)
            base += -(-n // npfs)
            d = row["downtime_ms"]
            bl.note(f"level {n}: {row['ok']}/{n} ok in {row['wall_s']} s, "
                    f"downtime p50 {d['p50']} max {d['max']} ms, rpc p99 "
                    f"{row['rpc_p99_ms']} ms (idle {row['rpc_idle_p99_ms']})"
                    f", {row['cpu_s_per_gib']} CPU s/GiB")
            rows.append(row)
            if not pair.alive():
                bl.note("a daemon died: stopping")
                break
        problems = list(pair.problems)
    load1 = bl.loadavg()

    max_ok = 0
    for r in rows:
        if not r["passed"]:
            break
        max_ok = r["level"]
    worst = [r for r in rows if r["rpc_p99_ms"] is not None]
    rpc_p99 = max((r["rpc_p99_ms"] for r in worst), default=None)
    cpus = [r["cpu_s_per_gib"] for r in rows if r["cpu_s_per_gib"]]
    result = dict(
        benchmark="scale", levels=levels, pfs_per_host=npfs,
        memory_bytes=mem, dst_fill=args.dst_fill, rpc_gap_ms=args.rpc_gap_ms,
        max_concurrent_ok=max_ok,
        rpc_p99_ms=rpc_p99,
        rpc_p99_ms_definition="the highest per-level p99 of GetJob latency "
        "during the runs, from test/bench/rpc_probe (a C process)",
        rpc_py_p99_ms=max((r["rpc_py_p99_ms"] for r in rows
                           if r["rpc_py_p99_ms"] is not None), default=None),
        rpc_floor_p99_ms=max((r["rpc_floor_p99_ms"] for r in rows
                              if r["rpc_floor_p99_ms"] is not None),
                             default=None),
        cpu_s_per_gib=bl.rnd(bl.median(cpus)),
        cpu_s_per_gib_definition="median over levels of (source + "
        "destination vmigd CPU s) / GiB of bytes_sent",
        problems=problems, loadavg_start=load0, loadavg_end=load1,
        machine=bl.machine(), rows=rows)

    lines = [f"scale: concurrent migrations, {mem >> 20} MiB VMs (random, "
             f"workload mix), {npfs} PFs per host, verify, destination "
             f"memory {'sparse' if args.dst_fill == 'zero' else 'written'}"]
    trows = []
    for r in rows:
        d = r["downtime_ms"]
        trows.append([r["level"], f"{r['ok']}/{r['level']}", r["wall_s"],
                      d["min"], d["p50"], d["p90"], d["max"],
                      r["rpc_p50_ms"], r["rpc_p99_ms"],
                      r["rpc_idle_p99_ms"], r["rpc_floor_p99_ms"],
                      r["rpc_py_p99_ms"],
                      r["cpu_src_s"], r["cpu_dst_s"],
                      r["cpu_s_per_gib"], r["sim_cpu_s"], r["gib_per_s"]])
    lines += bl.table(["level", "ok", "wall s", "down min", "p50", "p90",
                       "max", "rpc p50", "rpc p99", "idle p99",
                       "floor p99", "py p99",
                       "cpu src",
                       "cpu dst", "cpu s/GiB", "sim cpu", "GiB/s"], trows)
    lines += [f"max_concurrent_ok {max_ok}; GetJob p99 (worst level) "
              f"{rpc_p99} ms (a trivial nng server on the same host at "
              f"the same time: {result['rpc_floor_p99_ms']} ms; the Python "
              f"client, in this process: {result['rpc_py_p99_ms']} ms); "
              "CPU s per GiB (median) "
              f"{result['cpu_s_per_gib']}; load {load0} -> {load1}"]
    for r in rows:
        for pr in r["problems"]:
            lines.append(f"problem (level {r['level']}): {pr}")
    for pr in problems:
        lines.append(f"problem: {pr}")
    bl.emit(args, result, lines)
    return 0 if rows and all(r["passed"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
