#!/usr/bin/python3
"""converge.py: the adaptive policy against the QEMU baseline, end to end.

    test/bench/converge.py [BUILDDIR] [--json] [--quick] [--mem 128M]
        [--bw 64M] [--downtime 300] [--ceiling 1000] [--timeout 25]
        [--repeat 1] [--fresh-daemons] [--only NAME,...] [--list]

Two vmigd with simulated virtio PFs on one machine. Each workload (a DMA
pattern of the simulator, test/sim/README.md) is migrated twice on the
same daemons, once with MigrationPolicy.convergence = ADAPTIVE and once
with BASELINE (the order alternates per workload), from a fresh VF and a
fresh VM of --mem bytes of random data each time, with the same policy
otherwise: bulk copy, verify, max_downtime_ms = --downtime,
downtime_ceiling_ms = --ceiling, bandwidth_limit_bps = --bw,
completion_timeout_s = --timeout, timeout_action ABORT. The daemons'
host-wide [limits] bandwidth is --bw too, so the final (stop-copy) pages,
which the job's own limit does not pace, cross the same "link": the link
and not the machine is the limit.

Workload rates are bytes the device writes per second, given as a share
of the link (--bw); hot-set and burst writes are whole 4 KiB pages, so
for them it is also the page-dirtying rate before rewrites.

"Met the target" = the job COMPLETED and its measured downtime (stop to
the destination's resume) <= the downtime ceiling (--ceiling, the most
either policy is allowed; only ADAPTIVE ramps its target towards it, the
BASELINE keeps --downtime). met_strict: downtime <= --downtime.

Bytes = JobStats.bytes_sent (everything on the stream, the bulk copy
included), summed over every run, completed or not; also over the
workloads both policies completed.

Decisions: GetJob keeps the last 32 per job; the source's WatchEvents
stream gives the count of every action; the last reasons are shown for
each run that did not meet the target.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import MiB  # noqa: E402


def options(p):
    p.add_argument("--mem", default=None, help="memory per VM "
                   "(default 128M, --quick 32M)")
    p.add_argument("--bw", default=None, help="link: job and host "
                   "bandwidth limit, bytes/s (default 64M, --quick 16M)")
    p.add_argument("--downtime", type=int, default=300,
                   help="max_downtime_ms (default 300)")
    p.add_argument("--ceiling", type=int, default=1000,
                   help="downtime_ceiling_ms (default 1000)")
    p.add_argument("--timeout", type=int, default=None,
                   help="completion_timeout_s (default 25, --quick 10)")
    p.add_argument("--only", default=None,
                   help="comma-separated workload names")
    p.add_argument("--fresh-daemons", action="store_true",
                   help="a new pair of daemons for every migration (no "
                   "switchover cost carried from the previous job)")
    p.add_argument("--repeat", type=int, default=1,
                   help="runs per workload and policy (default 1); the "
                   "order of the two policies alternates")
    p.add_argument("--list", action="store_true", help="list workloads")



# (name, kind, share of the link written per second, params, quick)
# Params that depend on the memory size are given as fractions of it.
WORKLOADS = [
    ("idle", "idle", 0.0, {}, True),
    ("hot1%@10%", "hot", 0.10, dict(fraction=0.01), False),
    ("hot1%@120%", "hot", 1.20, dict(fraction=0.01), True),
    ("hot5%@50%", "hot", 0.50, dict(fraction=0.05), False),
    ("hot10%@30%", "hot", 0.30, dict(fraction=0.10), False),
    ("hot10%@100%", "hot", 1.00, dict(fraction=0.10), True),
    ("hot25%@50%", "hot", 0.50, dict(fraction=0.25), False),
    ("hot25%@120%", "hot", 1.20, dict(fraction=0.25), False),
    ("hot50%@20%", "hot", 0.20, dict(fraction=0.50), True),
    ("hot50%@120%", "hot", 1.20, dict(fraction=0.50), False),
    ("stream@10%", "stream", 0.10, dict(ring=1 / 16), False),
    ("stream@50%", "stream", 0.50, dict(ring=1 / 4), True),
    ("stream@120%", "stream", 1.20, dict(ring=1 / 2), False),
    ("burst@60%", "burst", 0.60, dict(every=100), True),
    ("burst@120%", "burst", 1.20, dict(every=100), False),
    ("flood4M", "flood", None, dict(window=4 * MiB), False),
]


def sim_params(kind, share, p, mem, bw):
    """The simulator's workload keys for a row of WORKLOADS."""
    rate = int(share * bw) if share else 0
    if kind == "hot":
        return dict(rate=rate, size=4096, fraction=p["fraction"])
    if kind == "stream":
        # 4 KiB buffers: one page per packet (64..4096 bytes written)
        bufs = max(16, int(mem * p["ring"]) // 4096)
        return dict(rate=rate, bufs=bufs, bufsize=4096)
    if kind == "burst":
        per = rate * p["every"] // 1000 // 4096 * 4096
        return dict(bytes=per, every=p["every"], size=4096)
    if kind == "flood":
        return dict(length=p["window"])
    return {}


def policy(kind_pb, a):
    return dict(bulk_copy=True, verify=True,
                max_downtime_ms=a.downtime,
                downtime_ceiling_ms=a.ceiling,
                bandwidth_limit_bps=a.bw_bytes,
                completion_timeout_s=a.timeout_s,
                timeout_action=bl.pb.TIMEOUT_ABORT,
                convergence=kind_pb)


def run_one(pair, evlog, vf, wl, which, a):
    name, kind, share, p, _ = wl
    vm = pair.vm(0, vf, a.mem_bytes, "random", tag=f"cv{vf}")
    params = sim_params(kind, share, p, a.mem_bytes, a.bw_bytes)
    try:
        pair.workload(vm, kind, **params)
        time.sleep(0.2)     # the device writes before the migration starts
        kind_pb = bl.pb.CONVERGE_ADAPTIVE if which == "adaptive" else \
            bl.pb.CONVERGE_BASELINE
        pair.start(vm, policy(kind_pb, a), vm_name=f"{name}-{which}")
        job, djob = pair.wait(vm, timeout=a.timeout_s + bl.LIVENESS_S)
    finally:
        pair.finish(vm)
    row = bl.job_row(job)
    row["dest_phase"] = bl.phase_name(djob.phase) if djob else None
    done = job.phase == bl.pb.PHASE_COMPLETED
    row["completed"] = done
    row["met"] = done and job.stats.downtime_ms <= a.ceiling
    row["met_strict"] = done and job.stats.downtime_ms <= a.downtime
    time.sleep(0.3)     # late events of this job
    row["actions"] = evlog.actions(job.id)
    ds = bl.decisions(job)
    row["last_decisions"] = ds[-3:]
    row["final_target_ms"] = ds[-1]["target_ms"] if ds else None
    row["cost_ms"] = evlog.first_cost(job.id)
    return row


class Runner:
    """Runs migrations on one shared pair of daemons, or (--fresh-daemons)
    on a new pair per migration: the adaptive policy's switchover cost is
    learned per PF from the previous job, so a shared pair carries it from
    one run to the next."""

    def __init__(self, args, config, nvfs):
        self.args = args
        self.config = config
        self.pair = self.evlog = None
        self.vf = 0
        self.dropped = 0
        self.problems = []
        if not args.fresh_daemons:
            self._open(nvfs)

    def _open(self, nvfs):
        self.pair = bl.Pair(npfs=1, vfs=nvfs, config=self.config)
        self.evlog = bl.EventLog(self.pair.src)

    def _close(self):
        if self.evlog is not None:
            self.evlog.close()
            self.dropped += self.evlog.dropped
            self.evlog = None
        if self.pair is not None:
            self.problems += self.pair.problems
            self.pair.close()
            self.pair = None

    def run(self, wl, which):
        if self.args.fresh_daemons:
            self._open(1)
            self.vf = 0
        try:
            self.vf += 1
            return run_one(self.pair, self.evlog, self.vf, wl, which,
                           self.args)
        finally:
            if self.args.fresh_daemons:
                self._last_alive = self.pair.alive()
                self._close()

    def alive(self):
        if self.pair is None:
            return getattr(self, "_last_alive", True)
        return self.pair.alive()

    def close(self):
        self._close()


def fmt_mib(b):
    return None if b is None else round(b / MiB, 1)


def summarize(runs):
    """One policy's runs of one workload: medians and counts (met: in
    more than half of the runs)."""
    n = len(runs)
    done = [x for x in runs if x["completed"]]
    met = sum(x["met"] for x in runs)
    med = bl.median
    return dict(
        runs=n, met_runs=met, completed_runs=len(done),
        met=2 * met > n, met_strict=2 * sum(x["met_strict"] for x in runs) > n,
        completed=2 * len(done) > n,
        downtime_ms=med([x["downtime_ms"] for x in done]),
        time_ms=med([x["time_ms"] for x in runs]),
        bytes_sent=med([x["bytes_sent"] for x in runs]),
        iterations=med([x["iterations"] for x in runs]),
        cost_ms=med([x["cost_ms"] for x in runs]))


def met_cell(x):
    if x["runs"] == 1:
        return "yes" if x["met"] else ("late" if x["completed"] else "fail")
    return f"{x['met_runs']}/{x['runs']}"


def main():
    args = bl.parse_args(__doc__, options)
    if args.list:
        for w in WORKLOADS:
            print(w[0])
        return 0
    args.mem_bytes = bl.size_arg(args.mem or
                                 ("32M" if args.quick else "128M"))
    args.bw_bytes = bl.size_arg(args.bw or ("16M" if args.quick else "64M"))
    args.timeout_s = args.timeout or (10 if args.quick else 25)
    if args.repeat < 1:
        bl.die("--repeat must be at least 1")
    wls = WORKLOADS
    if args.only:
        names = args.only.split(",")
        wls = [w for w in WORKLOADS if w[0] in names]
        if len(wls) != len(names):
            bl.die(f"--only: unknown workload in {args.only} (--list)")
    elif args.quick:
        wls = [w for w in WORKLOADS if w[4]]
    load0 = bl.loadavg()
    bl.note(f"converge: {len(wls)} workloads x 2 policies x {args.repeat}, "
            f"{args.mem_bytes >> 20} MiB, link {args.bw_bytes >> 20} MiB/s, "
            f"target {args.downtime} ms, ceiling {args.ceiling} ms, "
            f"timeout {args.timeout_s} s, load {load0}")

    config = bl.limits_config(bandwidth=args.bw_bytes)
    rows = [dict(workload=wl[0], kind=wl[1], write_share_of_link=wl[2],
                 sim=sim_params(wl[1], wl[2], wl[3], args.mem_bytes,
                                args.bw_bytes),
                 adaptive_runs=[], baseline_runs=[]) for wl in wls]
    runner = Runner(args, config, 2 * len(wls) * args.repeat)
    complete = True
    try:
        for rep in range(args.repeat):
            for i, wl in enumerate(wls):
                order = ("adaptive", "baseline") if (i + rep) % 2 == 0 \
                    else ("baseline", "adaptive")
                for which in order:
                    x = runner.run(wl, which)
                    x["repeat"] = rep + 1
                    x["first"] = which == order[0]
                    rows[i][which + "_runs"].append(x)
                    bl.note(f"{wl[0]:>12} {which:8}: {x['phase']:9} "
                            f"downtime {x['downtime_ms']:5} ms, "
                            f"{x['time_ms'] / 1000:5.1f} s, "
                            f"{fmt_mib(x['bytes_sent']):7} MiB, "
                            f"{x['iterations']} it, cost {x['cost_ms']} "
                            f"ms, met {x['met']}"
                            + (f" ({x['error']})" if x['error'] else ""))
                    if not runner.alive():
                        raise RuntimeError("a daemon died")
    except RuntimeError as e:
        bl.note(f"{e}: stopping")
        complete = False
    finally:
        runner.close()
    dropped = runner.dropped
    problems = runner.problems
    load1 = bl.loadavg()

    full = [r for r in rows if r["adaptive_runs"] and r["baseline_runs"]]
    ab = bb = ab2 = bb2 = 0
    for r in full:
        r["adaptive"] = summarize(r["adaptive_runs"])
        r["baseline"] = summarize(r["baseline_runs"])
        for a, b in zip(r["adaptive_runs"], r["baseline_runs"]):
            ab += a["bytes_sent"]
            bb += b["bytes_sent"]
            if a["completed"] and b["completed"]:
                ab2 += a["bytes_sent"]
                bb2 += b["bytes_sent"]
        a, b = r["adaptive"], r["baseline"]
        r["bytes_ratio"] = bl.rnd(a["bytes_sent"] / b["bytes_sent"]) \
            if b["bytes_sent"] else None
    am = sum(r["adaptive"]["met"] for r in full)
    bm = sum(r["baseline"]["met"] for r in full)
    ams = sum(r["adaptive"]["met_strict"] for r in full)
    bms = sum(r["baseline"]["met_strict"] for r in full)
    lost = [r["workload"] for r in full
            if r["baseline"]["met"] and not r["adaptive"]["met"]]
    won = [r["workload"] for r in full
           if r["adaptive"]["met"] and not r["baseline"]["met"]]
    more_bytes = [r["workload"] for r in full
                  if r["adaptive"]["bytes_sent"] >
                  r["baseline"]["bytes_sent"]]

    result = dict(
        benchmark="converge",
        params=dict(memory_bytes=args.mem_bytes, link_bps=args.bw_bytes,
                    max_downtime_ms=args.downtime,
                    downtime_ceiling_ms=args.ceiling,
                    completion_timeout_s=args.timeout_s,
                    timeout_action="ABORT", bulk_copy=True, verify=True,
                    repeat=args.repeat,
                    daemons="fresh per migration" if args.fresh_daemons
                    else "one pair for all"),
        met_definition="completed and measured downtime <= "
        "downtime_ceiling_ms (met_strict: <= max_downtime_ms); with "
        "--repeat, a workload is met when more than half of its runs were",
        adaptive_bytes=ab, baseline_bytes=bb,
        bytes_ratio=bl.rnd(ab / bb) if bb else None,
        adaptive_bytes_both_completed=ab2,
        baseline_bytes_both_completed=bb2,
        bytes_ratio_both_completed=bl.rnd(ab2 / bb2) if bb2 else None,
        adaptive_met=am, baseline_met=bm,
        adaptive_met_strict=ams, baseline_met_strict=bms,
        adaptive_met_runs=sum(r["adaptive"]["met_runs"] for r in full),
        baseline_met_runs=sum(r["baseline"]["met_runs"] for r in full),
        n_workloads=len(full), n_runs_per_policy=sum(
            r["adaptive"]["runs"] for r in full),
        adaptive_met_where_baseline_did_not=won,
        baseline_met_where_adaptive_did_not=lost,
        adaptive_sent_more=more_bytes,
        goal_bytes_le_0_7=(ab <= 0.7 * bb) if bb else None,
        goal_met_superset=not lost,
        events_dropped=dropped, problems=problems,
        loadavg_start=load0, loadavg_end=load1, machine=bl.machine(),
        workloads=rows)

    lines = [f"converge: adaptive vs baseline, {args.mem_bytes >> 20} MiB "
             f"VMs (random), link {args.bw_bytes >> 20} MiB/s (job + host "
             f"limit), target {args.downtime} ms, ceiling {args.ceiling} ms,"
             f" timeout {args.timeout_s} s (abort), {args.repeat} run(s) "
             "per policy and workload (medians), "
             + ("fresh daemons per migration" if args.fresh_daemons else
                "one pair of daemons for all"),
             "(A = adaptive, B = baseline; met = downtime <= ceiling; "
             "A cost = the switchover cost in ms the adaptive policy "
             "assumed, learned from the PF's previous migration)"]
    trows = []
    for r in full:
        a, b = r["adaptive"], r["baseline"]
        trows.append([r["workload"], met_cell(a), a["downtime_ms"],
                      round(a["time_ms"] / 1000, 1), fmt_mib(a["bytes_sent"]),
                      a["iterations"], a["cost_ms"], met_cell(b),
                      b["downtime_ms"], round(b["time_ms"] / 1000, 1),
                      fmt_mib(b["bytes_sent"]), b["iterations"],
                      r["bytes_ratio"]])
    lines += bl.table(["workload", "A met", "A down ms", "A s", "A MiB",
                       "A it", "A cost", "B met", "B down ms", "B s",
                       "B MiB", "B it", "A/B bytes"], trows)
    lines += ["", f"total bytes (every run): adaptive {fmt_mib(ab)} MiB, "
              f"baseline {fmt_mib(bb)} MiB, ratio {result['bytes_ratio']} "
              f"(goal <= 0.7); runs both completed: {fmt_mib(ab2)} / "
              f"{fmt_mib(bb2)} MiB = {result['bytes_ratio_both_completed']}",
              f"met (downtime <= {args.ceiling} ms): adaptive {am}/"
              f"{len(full)} workloads ({result['adaptive_met_runs']}/"
              f"{result['n_runs_per_policy']} runs), baseline {bm}/"
              f"{len(full)} ({result['baseline_met_runs']}/"
              f"{result['n_runs_per_policy']}); strict (<= {args.downtime} "
              f"ms): adaptive {ams}, baseline {bms}",
              f"adaptive met where baseline did not: {won or 'none'}",
              f"baseline met where adaptive did not: {lost or 'none'}"]
    for r in full:
        for which in ("adaptive", "baseline"):
            for x in r[which + "_runs"]:
                if x["met"]:
                    continue
                acts = ", ".join(f"{k} {v}" for k, v in
                                 sorted(x["actions"].items()))
                lines.append(f"- {r['workload']} {which} (run {x['repeat']}"
                             f"): {x['phase']}"
                             + (f" downtime {x['downtime_ms']} ms"
                                if x["completed"] else "")
                             + f"; decisions: {acts}")
                if x["error"]:
                    lines.append(f"    error: {x['error'][:300]}")
                for d in x["last_decisions"][-2:]:
                    lines.append(f"    it {d['iteration']} {d['action']}: "
                                 f"{d['reason'][:300]}")
    lines.append(f"load average {load0} -> {load1}")
    for p in problems:
        lines.append(f"problem: {p}")
    bl.emit(args, result, lines)
    return 0 if complete and len(full) == len(wls) else 1


if __name__ == "__main__":
    sys.exit(main())
