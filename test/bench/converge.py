#!/usr/bin/python3
"""converge.py: the adaptive policy against what operators run, end to end.

    test/bench/converge.py [BUILDDIR] [--json] [--quick] [--mem 128M]
        [--bw 64M] [--downtime 300] [--ceiling 1000] [--timeout 25]
        [--repeat 1] [--fresh-daemons] [--only NAME,...] [--list]
        [--loaded] [--hogs N] [--policies adaptive,baseline,qemu]

Two vmigd with simulated virtio PFs on one machine. Each workload (a DMA
pattern of the simulator, test/sim/README.md, or a schedule of them that
changes over time) is migrated once per policy on the same daemons (the
order rotates per workload and repeat), from a fresh VF and a fresh VM of
--mem bytes of random data each time, with the same policy otherwise:
bulk copy, verify, max_downtime_ms = --downtime, downtime_ceiling_ms =
--ceiling, bandwidth_limit_bps = --bw, completion_timeout_s = --timeout,
timeout_action ABORT. The three policies:

  adaptive  MigrationPolicy.convergence = ADAPTIVE (converge.c): ramps its
            target towards the ceiling on a stall.
  baseline  the fair baseline, what operators run today: QEMU's rule with
            Nova's downtime ramp (baseline_ramp: the same ceiling and 7
            steps, by the clock, one step every ramp_delay_ms_per_gib x
            GiB; per GiB, the step delay keeps Nova's ratio to the
            completion timeout, 75 s against 800 s per GiB) and
            KubeVirt's progress timeout (abort when the bytes to move made
            no new low for one ramp step longer than the ramp: KubeVirt's
            150 s outlasts its own ramp too).
  qemu      QEMU's rule bare: the target stays at --downtime.

The daemons' host-wide [limits] bandwidth is --bw too, so the final
(stop-copy) pages, which the job's own limit does not pace, cross the
same "link": the link and not the machine is the limit.

--loaded (= --hogs 2) runs CPU hogs (`sh -c 'while :; do :; done'`) for
the whole benchmark, started and stopped by it: a hypervisor host is never
idle, and a starved round must not look like a slow link.

Workload rates are bytes the device writes per second, given as a share
of the link (--bw); hot-set and burst writes are whole 4 KiB pages, so
for them it is also the page-dirtying rate before rewrites. The rows
marked ~ change over time (phase schedules).

"Met the target" = the job COMPLETED and its measured downtime (stop to
the destination's resume) <= the downtime ceiling (--ceiling, the most
any policy is allowed). met_strict: downtime <= --downtime.

Bytes = JobStats.bytes_sent (everything on the stream, the bulk copy
included), summed over every run, completed or not; also over the runs
both policies completed (bytes_ratio_both_completed: adaptive / fair
baseline).

Prediction error: |measured - predicted| downtime of every completed run,
predicted = JobStats.predicted_downtime_ms (the policy's prediction when
it decided to switch over); p50/p90 per policy.

Decisions: GetJob keeps the last 32 per job; the source's WatchEvents
stream gives the count of every action; the last reasons are shown for
each run that did not meet the target.
"""

import os
import subprocess
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
    p.add_argument("--loaded", action="store_true",
                   help="a busy host: two CPU hogs for the whole run")
    p.add_argument("--hogs", type=int, default=None,
                   help="CPU hogs to run (default 0, --loaded 2)")
    p.add_argument("--policies", default=",".join(POLICIES),
                   help="comma-separated subset of "
                   + ",".join(POLICIES))


POLICIES = ("adaptive", "baseline", "qemu")



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
    # time-varying (phase schedules); "bulk" = memory / link, the bulk
    # copy's time
    ("~burst-then-quiet", "phases", 1.20, dict(shape="burst_quiet"), True),
    ("~moving-hot", "phases", 0.50, dict(shape="moving_hot"), True),
    ("~sparse64", "phases", 0.50, dict(shape="sparse"), True),
    ("~idle-then-hard", "phases", 1.00, dict(shape="idle_hard"), True),
]


def phases(shape, share, mem, bw):
    """(phases, repeat) of a time-varying row; see test/sim/README.md."""
    rate = int(share * bw)
    bulk_ms = max(1, mem * 1000 // bw)
    if shape == "burst_quiet":
        # bursting at 120 % of the link through the bulk copy and 2 s
        # more, then quiet: a policy that gives up during the burst loses
        per = rate // 10 // 4096 * 4096
        return [("burst", dict(bytes=per, every=100, size=4096),
                 bulk_ms + 2000), ("idle", {}, None)], False
    if shape == "moving_hot":
        # a hot set of 1/8 of memory (all of it written) that moves to
        # the next eighth every 500 ms, over 6/8 of memory, and again
        w = mem // 8 // 4096 * 4096
        first = ("hot", dict(rate=rate, fraction=1, size=4096, length=w,
                             offset=0), 500)
        return [first] + [("hot", dict(offset=i * w), 500)
                          for i in range(1, 6)], True
    if shape == "sparse":
        # 64-byte writes spread over 90 % of the pages, each its own
        # page: share of the link in pages dirtied (before rewrites), 1/64
        # of it in bytes written
        return [("hot", dict(rate=rate * 64 // 4096, fraction=0.9,
                             size=64), None)], False
    if shape == "idle_hard":
        # idle through the first half of the bulk copy, then a 10 % hot
        # set at the link's rate
        return [("idle", {}, bulk_ms // 2),
                ("hot", dict(rate=rate, fraction=0.1, size=4096), None)], \
            False
    raise ValueError(shape)


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
    if kind == "phases":
        ph, repeat = phases(p["shape"], share, mem, bw)
        return dict(phases=ph, repeat=repeat)
    return {}


RAMP_STEPS = 7          # converge.h CONVERGE_RAMP_STEPS
NOVA_DELAY_PER_TIMEOUT = 75 / 800   # Nova: downtime_delay / completion


def fair_baseline(a):
    """Nova's ramp delay per GiB and KubeVirt's progress timeout, scaled
    to this run's completion timeout and memory (see the docstring)."""
    gib = a.mem_bytes / (1 << 30)
    per_gib_ms = int(NOVA_DELAY_PER_TIMEOUT * a.timeout_s * 1000 / gib)
    step_s = per_gib_ms * gib / 1000
    progress_s = int(-(-(RAMP_STEPS + 1) * step_s // 1))
    return per_gib_ms, progress_s


def policy(which, a):
    p = dict(bulk_copy=True, verify=True,
             max_downtime_ms=a.downtime,
             downtime_ceiling_ms=a.ceiling,
             bandwidth_limit_bps=a.bw_bytes,
             completion_timeout_s=a.timeout_s,
             timeout_action=bl.pb.TIMEOUT_ABORT,
             convergence=bl.pb.CONVERGE_ADAPTIVE if which == "adaptive"
             else bl.pb.CONVERGE_BASELINE)
    if which == "baseline":
        per_gib_ms, progress_s = fair_baseline(a)
        p.update(baseline_ramp=True, ramp_delay_ms_per_gib=per_gib_ms,
                 progress_timeout_s=progress_s)
    return p


def run_one(pair, evlog, vf, wl, which, a):
    name, kind, share, p, _ = wl
    vm = pair.vm(0, vf, a.mem_bytes, "random", tag=f"cv{vf}")
    params = sim_params(kind, share, p, a.mem_bytes, a.bw_bytes)
    sim = pair.src.sims[vm.pf]
    written = None
    try:
        if kind == "phases":
            sim.schedule(vm.vf, params["phases"], params["repeat"])
        else:
            pair.workload(vm, kind, **params)
        time.sleep(0.2)     # the device writes before the migration starts
        w0 = sim.state(vm.vf)["bytes"]
        pair.start(vm, policy(which, a), vm_name=f"{name}-{which}")
        job, djob = pair.wait(vm, timeout=a.timeout_s + bl.LIVENESS_S)
        written = sim.state(vm.vf)["bytes"] - w0
    finally:
        pair.finish(vm)
    row = bl.job_row(job)
    row["dest_phase"] = bl.phase_name(djob.phase) if djob else None
    done = job.phase == bl.pb.PHASE_COMPLETED
    row["completed"] = done
    row["met"] = done and job.stats.downtime_ms <= a.ceiling
    row["met_strict"] = done and job.stats.downtime_ms <= a.downtime
    row["device_written_bytes"] = written
    pred = job.stats.predicted_downtime_ms
    row["predicted_downtime_ms"] = pred if done and pred else None
    row["prediction_error_ms"] = abs(job.stats.downtime_ms - pred) \
        if done and pred else None
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
        predicted_downtime_ms=med([x["predicted_downtime_ms"]
                                   for x in done]),
        time_ms=med([x["time_ms"] for x in runs]),
        bytes_sent=med([x["bytes_sent"] for x in runs]),
        device_written_bytes=med([x["device_written_bytes"] for x in runs]),
        iterations=med([x["iterations"] for x in runs]),
        cost_ms=med([x["cost_ms"] for x in runs]))


def met_cell(x):
    if x["runs"] == 1:
        return "yes" if x["met"] else ("late" if x["completed"] else "fail")
    return f"{x['met_runs']}/{x['runs']}"


class Hogs:
    """CPU-bound loops for a busy host, ours to start and stop."""

    def __init__(self, n):
        self.procs = [subprocess.Popen(["sh", "-c", "while :; do :; done"])
                      for _ in range(n)]

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()
        self.procs = []


def prediction_errors(rows, which):
    """|measured - predicted| of every completed run of a policy."""
    return [x["prediction_error_ms"] for r in rows
            for x in r[which + "_runs"]
            if x["prediction_error_ms"] is not None]


def within_goal(rows, which):
    """Share of completed runs predicted within max(20 %, 20 ms)."""
    xs = [x for r in rows for x in r[which + "_runs"]
          if x["prediction_error_ms"] is not None]
    if not xs:
        return None
    ok = sum(x["prediction_error_ms"] <= max(20, 0.2 * x["downtime_ms"])
             for x in xs)
    return bl.rnd(ok / len(xs))


def pair_bytes(rows, a, b):
    """Bytes of a and b over every run, and over the runs both completed
    (paired by repeat)."""
    ab = bb = ab2 = bb2 = 0
    for r in rows:
        for x, y in zip(r[a + "_runs"], r[b + "_runs"]):
            ab += x["bytes_sent"]
            bb += y["bytes_sent"]
            if x["completed"] and y["completed"]:
                ab2 += x["bytes_sent"]
                bb2 += y["bytes_sent"]
    return ab, bb, ab2, bb2


def run_all(args, wls, pols, rows):
    config = bl.limits_config(bandwidth=args.bw_bytes)
    runner = Runner(args, config, len(pols) * len(wls) * args.repeat)
    complete = True
    try:
        for rep in range(args.repeat):
            for i, wl in enumerate(wls):
                k = (i + rep) % len(pols)
                order = pols[k:] + pols[:k]
                for which in order:
                    x = runner.run(wl, which)
                    x["repeat"] = rep + 1
                    x["first"] = which == order[0]
                    rows[i][which + "_runs"].append(x)
                    bl.note(f"{wl[0]:>17} {which:8}: {x['phase']:9} "
                            f"downtime {x['downtime_ms']:5} ms "
                            f"(predicted {x['predicted_downtime_ms']}), "
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
    return complete, runner.dropped, runner.problems


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
    hogs_n = args.hogs if args.hogs is not None else \
        (2 if args.loaded else 0)
    if args.repeat < 1:
        bl.die("--repeat must be at least 1")
    pols = [x for x in args.policies.split(",") if x]
    if not pols or any(x not in POLICIES for x in pols) or \
            "adaptive" not in pols:
        bl.die(f"--policies: adaptive and any of {POLICIES}")
    fair = "baseline" if "baseline" in pols else pols[-1]
    wls = WORKLOADS
    if args.only:
        names = args.only.split(",")
        wls = [w for w in WORKLOADS if w[0] in names]
        if len(wls) != len(names):
            bl.die(f"--only: unknown workload in {args.only} (--list)")
    elif args.quick:
        wls = [w for w in WORKLOADS if w[4]]
    per_gib_ms, progress_s = fair_baseline(args)
    load0 = bl.loadavg()
    bl.note(f"converge: {len(wls)} workloads x {len(pols)} policies x "
            f"{args.repeat}, {args.mem_bytes >> 20} MiB, link "
            f"{args.bw_bytes >> 20} MiB/s, target {args.downtime} ms, "
            f"ceiling {args.ceiling} ms, timeout {args.timeout_s} s, "
            f"{hogs_n} CPU hogs, load {load0}")

    rows = [dict(workload=wl[0], kind=wl[1], write_share_of_link=wl[2],
                 sim=sim_params(wl[1], wl[2], wl[3], args.mem_bytes,
                                args.bw_bytes),
                 **{p + "_runs": [] for p in pols}) for wl in wls]
    hogs = Hogs(hogs_n)
    try:
        complete, dropped, problems = run_all(args, wls, pols, rows)
    finally:
        hogs.close()
    load1 = bl.loadavg()

    full = [r for r in rows if all(r[p + "_runs"] for p in pols)]
    for r in full:
        for p in pols:
            r[p] = summarize(r[p + "_runs"])
        a, b = r["adaptive"], r[fair]
        r["bytes_ratio"] = bl.rnd(a["bytes_sent"] / b["bytes_sent"]) \
            if b["bytes_sent"] else None
    ab, bb, ab2, bb2 = pair_bytes(full, "adaptive", fair)
    met = {p: sum(r[p]["met"] for r in full) for p in pols}
    strict = {p: sum(r[p]["met_strict"] for r in full) for p in pols}
    lost = [r["workload"] for r in full
            if r[fair]["met"] and not r["adaptive"]["met"]]
    won = [r["workload"] for r in full
           if r["adaptive"]["met"] and not r[fair]["met"]]
    lost_strict = [r["workload"] for r in full
                   if r[fair]["met_strict"] and
                   not r["adaptive"]["met_strict"]]
    # more by over 1 %: equal runs differ by a few pages
    more_bytes = [r["workload"] for r in full
                  if r["adaptive"]["bytes_sent"] >
                  1.01 * r[fair]["bytes_sent"]]
    perr = {p: prediction_errors(full, p) for p in pols}
    pct = bl.percentile
    sparse = [r for r in full if r["workload"] == "~sparse64"]
    sparse_goal = None
    if sparse:
        a = sparse[0]["adaptive"]
        ref = (a["device_written_bytes"] or 0) + args.mem_bytes
        sparse_goal = dict(bytes_sent=a["bytes_sent"],
                           written_plus_bulk=ref,
                           ratio=bl.rnd(a["bytes_sent"] / ref))

    result = dict(
        benchmark="converge",
        params=dict(memory_bytes=args.mem_bytes, link_bps=args.bw_bytes,
                    max_downtime_ms=args.downtime,
                    downtime_ceiling_ms=args.ceiling,
                    completion_timeout_s=args.timeout_s,
                    timeout_action="ABORT", bulk_copy=True, verify=True,
                    repeat=args.repeat, cpu_hogs=hogs_n, policies=pols,
                    fair_baseline=dict(
                        baseline_ramp=True,
                        ramp_delay_ms_per_gib=per_gib_ms,
                        ramp_step_ms=int(per_gib_ms * args.mem_bytes /
                                         (1 << 30)),
                        progress_timeout_s=progress_s),
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
        **{p + "_met": met[p] for p in pols},
        **{p + "_met_strict": strict[p] for p in pols},
        **{p + "_met_runs": sum(r[p]["met_runs"] for r in full)
           for p in pols},
        **{p + "_prediction_error_p50_ms": pct(perr[p], 50) for p in pols},
        **{p + "_prediction_error_p90_ms": pct(perr[p], 90) for p in pols},
        **{p + "_prediction_within_goal": within_goal(full, p)
           for p in pols},
        prediction_error_p50_ms=pct(perr["adaptive"], 50),
        prediction_error_p90_ms=pct(perr["adaptive"], 90),
        n_workloads=len(full), n_runs_per_policy=sum(
            r["adaptive"]["runs"] for r in full),
        adaptive_met_where_baseline_did_not=won,
        baseline_met_where_adaptive_did_not=lost,
        baseline_met_strict_where_adaptive_did_not=lost_strict,
        adaptive_sent_more=more_bytes,
        sparse64_bytes_vs_written_plus_bulk=sparse_goal,
        goal_bytes_both_completed_le_0_8=(ab2 <= 0.8 * bb2) if bb2 else None,
        goal_met_superset=not lost,
        events_dropped=dropped, problems=problems,
        loadavg_start=load0, loadavg_end=load1, machine=bl.machine(),
        workloads=rows)
    bl.emit(args, result, report(args, result, full, pols, fair, hogs_n))
    return 0 if complete and len(full) == len(wls) else 1


def report(args, res, full, pols, fair, hogs_n):
    short = dict(adaptive="A", baseline="B", qemu="Q")
    fb = res["params"]["fair_baseline"]
    lines = [f"converge: {', '.join(pols)}; {args.mem_bytes >> 20} MiB VMs "
             f"(random), link {args.bw_bytes >> 20} MiB/s (job + host "
             f"limit), target {args.downtime} ms, ceiling {args.ceiling} ms,"
             f" timeout {args.timeout_s} s (abort), {args.repeat} run(s) "
             f"per policy and workload (medians), {hogs_n} CPU hogs, "
             + ("fresh daemons per migration" if args.fresh_daemons else
                "one pair of daemons for all"),
             "(A = adaptive; B = fair baseline: QEMU's rule + Nova's ramp, "
             f"a step every {fb['ramp_step_ms']} ms, + KubeVirt's "
             f"{fb['progress_timeout_s']} s progress timeout; Q = QEMU's "
             "rule bare; met = downtime <= ceiling; pred = predicted "
             "downtime at the switchover decision)"]
    hdr = ["workload"]
    for p in pols:
        c = short[p]
        hdr += [f"{c} met", f"{c} down", f"{c} pred", f"{c} MiB", f"{c} it"]
    hdr += ["A/B bytes"]
    trows = []
    for r in full:
        row = [r["workload"]]
        for p in pols:
            x = r[p]
            row += [met_cell(x), x["downtime_ms"], x["predicted_downtime_ms"],
                    fmt_mib(x["bytes_sent"]), x["iterations"]]
        trows.append(row + [r["bytes_ratio"]])
    lines += bl.table(hdr, trows)
    n = len(full)
    lines += ["", f"total bytes (every run): adaptive "
              f"{fmt_mib(res['adaptive_bytes'])} MiB, {fair} "
              f"{fmt_mib(res['baseline_bytes'])} MiB, ratio "
              f"{res['bytes_ratio']}; runs both completed: "
              f"{fmt_mib(res['adaptive_bytes_both_completed'])} / "
              f"{fmt_mib(res['baseline_bytes_both_completed'])} MiB = "
              f"{res['bytes_ratio_both_completed']} (goal <= 0.8)",
              "met (downtime <= ceiling) / strict (<= target): " +
              ", ".join(f"{p} {res[p + '_met']}/{n} / "
                        f"{res[p + '_met_strict']}/{n}" for p in pols),
              "prediction error |measured - predicted| p50 / p90 ms "
              "(share within max(20 %, 20 ms)): " +
              ", ".join(f"{p} {res[p + '_prediction_error_p50_ms']} / "
                        f"{res[p + '_prediction_error_p90_ms']} "
                        f"({res[p + '_prediction_within_goal']})"
                        for p in pols),
              f"adaptive met where {fair} did not: "
              f"{res['adaptive_met_where_baseline_did_not'] or 'none'}",
              f"{fair} met where adaptive did not: "
              f"{res['baseline_met_where_adaptive_did_not'] or 'none'}",
              f"{fair} met strict where adaptive did not: "
              f"{res['baseline_met_strict_where_adaptive_did_not'] or 'none'}",
              f"adaptive sent over 1 % more bytes than {fair}: "
              f"{res['adaptive_sent_more'] or 'none'}"]
    if res["sparse64_bytes_vs_written_plus_bulk"]:
        g = res["sparse64_bytes_vs_written_plus_bulk"]
        lines.append(f"~sparse64: adaptive sent {fmt_mib(g['bytes_sent'])} "
                     f"MiB = {g['ratio']}x (device writes + one bulk copy, "
                     f"{fmt_mib(g['written_plus_bulk'])} MiB; goal <= 2)")
    for r in full:
        for which in pols:
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
    lines.append(f"load average {res['loadavg_start']} -> "
                 f"{res['loadavg_end']}")
    for p in res["problems"]:
        lines.append(f"problem: {p}")
    return lines


if __name__ == "__main__":
    sys.exit(main())
