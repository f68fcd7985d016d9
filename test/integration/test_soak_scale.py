#!/usr/bin/python3
"""test_soak_scale: 64 concurrent migrations, round after round, while a
second client floods the control socket.

Two vmigd (test/bench/benchlib.py's Pair: 8 simulated PFs each, the
[limits] raised to the job count), JOBS VMs of MEM bytes with scale.py's
workload mix (hot set, receive ring, bursts, idle). Each round starts
every VM's migration at once (PrepareIncoming + StartMigration, bulk
copy, verify, ABORT at the completion timeout), cancels every
CANCEL_EVERY-th right away on both sides, as an orchestrator does
(rollbacks under the same load), and waits for all. A source that fails
before its stream reached the destination leaves the destination job
waiting for it (nobody can tell it): the test cancels that one too, as
vmig.migrate does. Every job must have either

- completed: both jobs COMPLETED and verified, memory byte for byte and
  device state equal, the source VF frozen, the destination's running
  and free; or
- rolled back: both jobs FAILED (with a reason) or CANCELLED (by the
  test), the source VF running with recording off and free, the
  destination's stopped (as prepared) and released.

Then every source VF is made to run again (release, release --resume:
its VM "came back") for the next round. Meanwhile a second process
floods the source's control socket (ipc://, a local socket: nothing
leaves the host) with read-only calls and garbage: a bounded count and a
bounded time, never a call that changes anything; every call must get an
answer (a status error is an answer; a timeout or a dropped connection
is not).

Resources, per daemon: open fds and RssAnon (the daemon's own memory:
the guest memory it maps is the VM's, RssShmem) sampled every
SAMPLE_S over the whole run, and at the end of every round once the
jobs are done. After WARMUP rounds (nng's threads and sockets, the
history file) the fds must come back to the warm-up's count after every
round. RssAnon
is compared once the daemons keep as many finished jobs as they ever
will (JOB_FINISHED_MAX, 256, with their decisions: ~4 MiB that grows
until then by design), i.e. after ceil(256 / jobs) + 1 rounds: at a
round's end (the least of the last three, to ride out the allocator's
caches) it may exceed that round's by no more than RSS_SLACK. A
sanitizer build keeps freed memory in ASan's quarantine (256 MiB by
default, which says nothing of leaks): the daemons run with
quarantine_size_mb=QUARANTINE_MB there, and the slack is
RSS_SLACK_ASAN plus that much. Leaks proper are LeakSanitizer's: at the end both daemons must
exit 0 on SIGTERM with no sanitizer report in their logs (stderr goes
there).

    make check         SHORT_S (3 rounds at least, 1-2.5 minutes
                       here): completions, rollbacks, the flood, fds
                       and (sanitizer build) LeakSanitizer; RSS is
                       reported, not compared
    make check-soak    VMIG_SOAK_SECONDS (default 300) of 64 jobs, RSS
                       compared in every build
    VMIG_SOAK_SECONDS=900 make check-soak

Rounds keep starting until VMIG_SOAK_SECONDS have passed (and the
comparisons have two rounds after their warm-up). Waits are liveness
bounds; nothing about speed is asserted.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bench"))

MiB = 1 << 20
WARMUP = 1
CANCEL_EVERY = 8
JOB_FINISHED_MAX = 256      # daemon/job.h: finished jobs kept
SAMPLE_S = 0.5
QUARANTINE_MB = 32
# A round's working state per job (pump batches, dirty sets, state
# buffers) is ~0.3 MiB for an 8 MiB VM: keeping it for 64 jobs grows a
# daemon by ~20 MiB a round, past this within one round. With the heap's
# free pages given back when the jobs are done (job.c, engine_give_back)
# a source ends a round at ~10 MiB, +0.7 MiB in 20 rounds (the
# destination +2.9 MiB in 23, with 6.7 MB of its heap in use); without
# that, the heap's free memory held on and a source grew 24 MiB in 30
# rounds. A sanitizer build's allocator is ASan's, whose caches move by
# more: RSS_SLACK_ASAN, plus the quarantine.
RSS_SLACK = 16 * MiB
RSS_SLACK_ASAN = 24 * MiB
SHORT_S = 60
FLOOD_MAX_CALLS = 2_000_000


def sanitized(path):
    out = subprocess.run(["ldd", path], text=True,
                         capture_output=True).stdout
    return "libasan" in out


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} for pid {pid}")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Sampler(threading.Thread):
    """(time, fds, RssAnon) of each daemon every SAMPLE_S."""

    def __init__(self, pids):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.samples = {n: [] for n in self.pids}
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            for n, pid in self.pids.items():
                try:
                    self.samples[n].append((time.monotonic(), open_fds(pid),
                                            proc_status(pid, "RssAnon")))
                except (OSError, AssertionError):
                    pass
            self.halt.wait(SAMPLE_S)

    def peak(self, name, since=0.0):
        return max((s[2] for s in self.samples[name] if s[0] >= since),
                   default=0)

    def stop(self):
        self.halt.set()
        self.join(timeout=10)


# ------------------------------------------------------------ the flooder

def flood(url, max_calls, max_s, max_job):
    """The second client (its own process): read-only calls and garbage
    back to back until max_calls, max_s or its stdin closes. Prints one
    JSON object: calls, status errors, and failures (no answer)."""
    import vmig
    from vmig import pb
    rnd = random.Random(os.getpid())
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                     daemon=True).start()
    calls = answered_err = 0
    failures = []
    end = time.monotonic() + max_s
    garbage = [b"", b"\x00" * 7, bytes(range(256)), b"\x0a\xff\xff\xff\xff",
               os.urandom(4096)]
    with vmig.Client(url, timeout_ms=30000) as c:
        while calls < max_calls and not stop.is_set() and \
                time.monotonic() < end:
            k = calls % 6
            calls += 1
            try:
                if k == 0:
                    c.get_version()
                elif k == 1:
                    c.list_devices()
                elif k == 2:
                    c.status()
                elif k == 3:
                    c.list_jobs(include_finished=True)
                elif k == 4:
                    c.get_job(rnd.randint(1, max_job))
                else:
                    data = c.call_raw(garbage[calls % len(garbage)])
                    r = pb.Response()
                    r.ParseFromString(data)
                    if r.status.code == pb.STATUS_OK:
                        failures.append("garbage answered OK")
            except vmig.Unavailable as e:
                failures.append(str(e))
                break       # the REQ socket is unusable after a timeout
            except vmig.VmigError:
                answered_err += 1
    print(json.dumps(dict(calls=calls, status_errors=answered_err,
                          failures=failures)))
    return 0


class Flooder:
    def __init__(self, url, max_s, max_job):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--flood", url,
             str(FLOOD_MAX_CALLS), str(max_s), str(max_job)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def stop(self):
        out, _ = self.proc.communicate(input="", timeout=120)
        if self.proc.returncode != 0:
            raise AssertionError(f"the flooder exited "
                                 f"{self.proc.returncode}")
        return json.loads(out)


# ------------------------------------------------------------ the test

class SoakScale(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import benchlib
        builddir = os.environ.get("VMIG_BUILDDIR")
        if not builddir:
            raise unittest.SkipTest("VMIG_BUILDDIR is not set")
        import vmigtest
        if vmigtest.backend_plugin("virtio-admin") is None:
            raise unittest.SkipTest("the virtio-admin plugin is not built")
        cls.bl = benchlib
        benchlib.init(builddir)
        cls.asan = sanitized(vmigtest.vmigd_path())
        env = os.environ.get("VMIG_SOAK_SECONDS")
        cls.seconds = int(env) if env else SHORT_S
        # make check's short run cannot fill the kept jobs first
        cls.check_rss = bool(env)
        cls.jobs = int(os.environ.get("VMIG_SOAK_JOBS", "64"))
        cls.mem = 8 * MiB
        cls.npfs = 8

    def setUp(self):
        bl = self.bl
        self.saved_asan = os.environ.get("ASAN_OPTIONS")
        if self.asan:
            os.environ["ASAN_OPTIONS"] = (
                (self.saved_asan + ":" if self.saved_asan else "") +
                f"quarantine_size_mb={QUARANTINE_MB}")
        vfs = -(-self.jobs // self.npfs)
        cfg = bl.limits_config(max_outgoing=self.jobs,
                               max_incoming=self.jobs,
                               max_per_pf=self.jobs)
        self.pair = bl.Pair(npfs=self.npfs, vfs=vfs, config=cfg)
        self.vms = []
        for i in range(self.jobs):
            pf, vf = i % self.npfs, i // self.npfs + 1
            vm = self.pair.vm(pf, vf, self.mem, "random", tag=f"soak-{i}")
            kind, params = bl_mix(i, self.npfs)
            self.pair.workload(vm, kind, **params)
            self.vms.append(vm)

    def tearDown(self):
        for vm in self.vms:
            self.pair.finish(vm)
        if self.saved_asan is None:
            os.environ.pop("ASAN_OPTIONS", None)
        else:
            os.environ["ASAN_OPTIONS"] = self.saved_asan
        self.pair.close()   # idempotent after the test's own close

    # ---------------------------------------------------------- one round

    def run_round(self, r):
        bl, pb = self.bl, self.bl.pb
        src, dst = self.pair.src, self.pair.dst
        pol = dict(bulk_copy=True, verify=True, max_downtime_ms=300,
                   downtime_ceiling_ms=1000, completion_timeout_s=600,
                   timeout_action=pb.TIMEOUT_ABORT)
        for vm in self.vms:
            self.pair.start(vm, pol, vm_name=f"vm-{vm.device}")
        cancelled = {"src": set(), "dst": set()}     # by the test
        for i, vm in enumerate(self.vms):
            if (i + r) % CANCEL_EVERY == 0:
                # as an orchestrator does (vmig.migrate): both sides; a
                # destination that never saw the stream cannot know
                for side, c, jid in (("src", src.client, vm.job),
                                     ("dst", dst.client, vm.djob)):
                    try:
                        c.cancel_job(jid, reason="soak")
                        cancelled[side].add(jid)
                    except bl.vmig.FailedPrecondition:
                        pass        # it ended already
        want = {vm.job for vm in self.vms}
        ended = {}
        deadline = time.monotonic() + bl.LIVENESS_S * 5
        while len(ended) < len(want):
            self.assertTrue(self.pair.alive(), "a daemon died")
            for j in src.client.list_jobs(include_finished=True):
                if j.id in want and j.phase in bl.vmig.Client.TERMINAL:
                    ended[j.id] = j
            self.assertLess(time.monotonic(), deadline,
                            f"round {r}: {len(want) - len(ended)} jobs "
                            "still running past the liveness bound")
            time.sleep(0.2)
        done = back = 0
        for vm in self.vms:
            job = ended[vm.job]
            djob = dst.client.get_job(vm.djob)
            if job.phase != pb.PHASE_COMPLETED and \
                    djob.phase == pb.PHASE_WAITING:
                # the source failed before it reached the destination
                # (no stream: nobody to tell); the orchestrator cancels
                dst.client.cancel_job(vm.djob, reason="soak: source ended")
                cancelled["dst"].add(vm.djob)
            djob = dst.client.wait_job(vm.djob, timeout=bl.LIVENESS_S)
            what = (f"round {r} {vm.device} ({vm.kind}): source "
                    f"{bl.phase_name(job.phase)} ({job.error}), "
                    f"destination {bl.phase_name(djob.phase)} "
                    f"({djob.error})")
            if job.phase == pb.PHASE_COMPLETED:
                self.check_completed(vm, job, djob, what)
                done += 1
            else:
                self.check_rolled_back(vm, job, djob, what, cancelled)
                back += 1
        self.assertGreater(done, 0, f"round {r}: nothing completed")
        # the source VMs come back for the next round
        for vm in self.vms:
            if ended[vm.job].phase == pb.PHASE_COMPLETED:
                src.client.release_device(vm.device)
                src.client.release_device(vm.device, resume=True)
        return done, back

    def check_completed(self, vm, job, djob, what):
        pb = self.bl.pb
        sims = (self.pair.src.sims[vm.pf], self.pair.dst.sims[vm.pf])
        self.assertTrue(job.verified, what)
        self.assertEqual(djob.phase, pb.PHASE_COMPLETED, what)
        self.assertEqual(sims[0].mode(vm.vf), "freeze", what)
        self.assertEqual(sims[1].mode(vm.vf), "active", what)
        self.assertEqual(sims[0].digest(vm.vf), sims[1].digest(vm.vf),
                         what + ": device state differs")
        self.assertEqual(file_digest(vm.smem), file_digest(vm.dmem),
                         what + ": memory differs")
        self.assertEqual(device(self.pair.dst, vm).job_id, 0, what)

    def check_rolled_back(self, vm, job, djob, what, cancelled):
        pb = self.bl.pb
        # CANCELLED: by the test, or (destination) by its source's cancel
        for j, ok in ((job, job.id in cancelled["src"]),
                      (djob, djob.id in cancelled["dst"] or
                       job.id in cancelled["src"])):
            if j.phase == pb.PHASE_CANCELLED:
                self.assertTrue(ok, what + ": cancelled by nobody")
            else:
                self.assertEqual(j.phase, pb.PHASE_FAILED, what)
                self.assertTrue(j.error, what + ": no reason")
        st = self.pair.src.sims[vm.pf].state(vm.vf)
        self.assertEqual(st["mode"], "active", f"{what}: {st}")
        self.assertEqual(st["recording"], 0, f"{what}: {st}")
        self.assertEqual(device(self.pair.src, vm).job_id, 0, what)
        self.assertEqual(self.pair.dst.sims[vm.pf].mode(vm.vf), "stop",
                         what)
        self.assertEqual(device(self.pair.dst, vm).job_id, 0, what)

    def quiet(self, sampler, base):
        """fds and RssAnon of each daemon once its finished jobs dropped
        their working state (the loop's next turn): waits (bounded) for
        the fds to come back to base, then samples."""
        out = {}
        for name, h in (("src", self.pair.src), ("dst", self.pair.dst)):
            end = time.monotonic() + 30
            while base and open_fds(h.pid) > base[name][0] and \
                    time.monotonic() < end:
                time.sleep(0.2)
            out[name] = (open_fds(h.pid), proc_status(h.pid, "RssAnon"))
        return out

    # ---------------------------------------------------------- the test

    def test_soak(self):
        slack = RSS_SLACK_ASAN + QUARANTINE_MB * MiB if self.asan \
            else RSS_SLACK
        warm_rss = -(-JOB_FINISHED_MAX // self.jobs) + 1
        min_rounds = (warm_rss if self.check_rss else WARMUP) + 2
        pids = {"src": self.pair.src.pid, "dst": self.pair.dst.pid}
        sampler = Sampler(pids)
        sampler.start()
        flooder = Flooder(self.pair.src.daemon.rpc_url,
                          self.seconds + 30 * 60, 64 * 1024)
        t0 = time.monotonic()
        base = rss_base = None
        rounds = []
        ends = []       # each round's quiet() sample
        try:
            r = 0
            while r < min_rounds or time.monotonic() - t0 < self.seconds:
                r += 1
                rs = time.monotonic()
                done, back = self.run_round(r)
                now = self.quiet(sampler, base)
                rounds.append(dict(round=r, completed=done, rolled_back=back,
                                   s=round(time.monotonic() - rs, 1),
                                   **{f"{n}_fds": v[0] for n, v in
                                      now.items()},
                                   **{f"{n}_rss_mib": round(v[1] / MiB, 1)
                                      for n, v in now.items()},
                                   **{f"{n}_peak_mib": round(
                                       sampler.peak(n, rs) / MiB, 1)
                                      for n in pids}))
                sys.stderr.write(f"soak: {rounds[-1]}\n")
                if r == WARMUP:
                    base = now
                if r == warm_rss and self.check_rss:
                    rss_base = now
                ends.append(now)
                for name, (fds, rss) in now.items():
                    if r > WARMUP:
                        self.assertEqual(
                            fds, base[name][0],
                            f"round {r}: {name} vmigd has {fds} fds open, "
                            f"{base[name][0]} after round {WARMUP}")
                    if r > warm_rss and rss_base is not None:
                        # the least of the last 3 round ends: a leak
                        # raises every one, ASan's caches some
                        last3 = ends[max(warm_rss, r - 3):]
                        grown = min(e[name][1] for e in last3) - \
                            rss_base[name][1]
                        self.assertLess(
                            grown, slack,
                            f"round {r}: {name} vmigd's RssAnon grew by "
                            f"{grown / MiB:.1f} MiB since round "
                            f"{warm_rss} (slack {slack / MiB:.0f} MiB)")
            last = self.quiet(sampler, base)
        finally:
            fl = flooder.stop()
            sampler.stop()
        elapsed = time.monotonic() - t0
        self.assertFalse(fl["failures"], f"the flood went unanswered: {fl}")
        self.assertGreater(fl["calls"], 0)
        # LeakSanitizer runs at exit: both must exit 0, nothing reported
        logs = {}
        for h in (self.pair.src, self.pair.dst):
            h.client.close()
            h.client = None
            code = h.daemon.stop(expect=None)
            logs[h.name] = h.daemon.log()
            self.assertEqual(code, 0, f"{h.name} vmigd exited {code}:\n"
                             f"{logs[h.name][-6000:]}")
            for bad in ("LeakSanitizer", "AddressSanitizer",
                        "runtime error:"):
                self.assertNotIn(bad, logs[h.name],
                                 f"{h.name} vmigd:\n{logs[h.name][-6000:]}")
        peaks = {n: round(sampler.peak(n) / MiB, 1) for n in pids}
        print(f"soak: {len(rounds)} rounds of {self.jobs} migrations in "
              f"{elapsed:.0f} s ({'ASan' if self.asan else 'plain'}): "
              f"{sum(x['completed'] for x in rounds)} completed, "
              f"{sum(x['rolled_back'] for x in rounds)} rolled back; "
              f"flood {fl['calls']} calls ({fl['status_errors']} status "
              f"errors, 0 unanswered); fds and RssAnon after round "
              f"{WARMUP} {fmt(base)}, "
              + (f"after round {warm_rss} {fmt(rss_base)}" if rss_base else
                 "(RSS not compared: a short run)") +
              f" -> last {fmt(last)}; RssAnon peak {peaks} MiB (slack "
              f"{slack / MiB:.0f} MiB); "
              f"{len(sampler.samples['src'])} samples; both exited 0, no "
              "sanitizer report", file=sys.stderr)


def fmt(q):
    return {n: f"{v[0]} fds {v[1] / MiB:.1f} MiB" for n, v in q.items()}


def bl_mix(i, npfs):
    import scale
    return scale.MIX[(i + i // npfs) % len(scale.MIX)]


def file_digest(path):
    import scale
    return scale.file_digest(path)


def device(host, vm):
    for d in host.client.list_devices().devices:
        if d.name == vm.device:
            return d
    raise AssertionError(f"{host.name}: no device {vm.device}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        sys.exit(flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                       int(sys.argv[5])))
    unittest.main(verbosity=2)
