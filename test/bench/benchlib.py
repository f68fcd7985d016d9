"""benchlib: what the end-to-end benchmarks (throughput.py, converge.py,
scale.py) share.

    import benchlib
    args = benchlib.parse_args(__doc__, extra=lambda p: p.add_argument(...))
    with benchlib.Pair(npfs=1, vfs=8, limits=...) as pair:
        vm = pair.vm(pf=0, vf=1, size=64 << 20, fill="random")
        pair.workload(vm, "hot", fraction=0.1, rate="8M")
        pair.start(vm, policy=dict(bulk_copy=True))
        job = pair.wait(vm)
        pair.finish(vm)       # detach, release, unlink the memory files
    benchlib.emit(args, result, table_lines)

Two hosts on one machine: each a real vmigd (virtio-admin plugin) with
its own simulated PFs (vmig-simdev), memory files in /dev/shm, the
migration driven through the Python client (PrepareIncoming on the
destination, StartMigration on the source). The stream between the two
daemons is real TCP on loopback (the daemons' default stream_bind).

Output rules (test/bench/run.sh relies on them): with --json, stdout gets
one JSON object and nothing else; the human table and progress go to
stderr. Without --json the table goes to stdout.

Clean-up: every memory file is registered when created and unlinked at
the end, on an exception, on SIGTERM/SIGINT/SIGHUP (turned into
SystemExit so the finally blocks run) and at interpreter exit. The
simulators die with this process (PR_SET_PDEATHSIG); the daemons are
stopped by Pair.close().
"""

import argparse
import atexit
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
MiB = 1 << 20
GiB = 1 << 30
IOVA = 0x100000000
LIVENESS_S = 120    # a liveness bound for anything we wait for, not a goal

# Filled by init(): the harness modules need VMIG_BUILDDIR set first.
vmigtest = simdev = pb = vmig = None
_files = set()
_lock = threading.Lock()


# ---------------------------------------------------------------- set-up

def init(builddir):
    """Point the harness at builddir and import it."""
    global vmigtest, simdev, pb, vmig
    builddir = os.path.abspath(builddir)
    os.environ["VMIG_BUILDDIR"] = builddir
    os.environ.setdefault("VMIG_SRCDIR", SRC)
    for p in (os.path.join(builddir, "clients", "python"),
              os.path.join(SRC, "clients", "python"),
              os.path.join(SRC, "test", "integration")):
        if p not in sys.path:
            sys.path.insert(0, p)
    import vmigtest as _vt
    import simdev as _sd
    import vmig as _vmig
    from vmig import pb as _pb
    vmigtest, simdev, vmig, pb = _vt, _sd, _vmig, _pb
    if vmigtest.backend_plugin("virtio-admin") is None:
        die(f"{builddir}: the virtio-admin plugin is not built (make)")
    vmigtest.vmigd_path()
    simdev.simdev_path()
    return builddir


def parse_args(doc, extra=None, argv=None):
    """BUILDDIR (or VMIG_BUILDDIR), --json, --quick, and extra(parser)."""
    p = argparse.ArgumentParser(
        description=doc.split("\n\n")[0] if doc else None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("builddir", nargs="?",
                   default=os.environ.get("VMIG_BUILDDIR"),
                   help="build directory (default: $VMIG_BUILDDIR)")
    p.add_argument("--json", action="store_true",
                   help="one JSON object on stdout, the table on stderr")
    p.add_argument("--quick", action="store_true",
                   help="small sizes: a smoke test of the benchmark")
    if extra is not None:
        extra(p)
    args = p.parse_args(argv)
    if not args.builddir:
        p.error("give the build directory (or set VMIG_BUILDDIR)")
    args.builddir = init(args.builddir)
    _install_cleanup()
    return args


def die(msg):
    sys.stderr.write(f"{os.path.basename(sys.argv[0])}: {msg}\n")
    sys.exit(1)


def note(msg):
    """Progress, always on stderr."""
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def _raise_exit(signum, frame):
    raise SystemExit(128 + signum)


def _install_cleanup():
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _raise_exit)
    atexit.register(unlink_all)


# ---------------------------------------------------------------- memory

def memfile(tag, size, fill="zero"):
    """A guest-memory file in /dev/shm, registered for clean-up.

    fill: "zero" (a sparse file), "written" (zeros, but every page
    written: allocated, like the pinned memory of a VM with a passthrough
    device), "random" (no zero pages: every page is sent with its data),
    "compressible" (per page 1 KiB random, 3 KiB zeros: no zero page, lz4
    takes it to about a quarter), or a float f in (0, 1): the first f of
    the file random, the rest zero.
    """
    path = f"/dev/shm/vmig-bench-{os.getpid()}-{tag}"
    with _lock:
        _files.add(path)
    if fill == "compressible":
        with open(path, "wb") as f:
            q, z = 1024, bytes(3 * 1024)
            for off in range(0, size, 4 * MiB):
                n = min(4 * MiB, size - off) // 4096
                r = os.urandom(n * q)
                f.write(b"".join(r[i * q:(i + 1) * q] + z
                                 for i in range(n)))
        return path
    if fill == "written":
        with open(path, "wb") as f:
            zeros = bytes(4 * MiB)
            for off in range(0, size, len(zeros)):
                f.write(zeros[:min(len(zeros), size - off)])
        return path
    data = size if fill == "random" else (
        0 if fill == "zero" else int(size * float(fill)) & ~4095)
    with open(path, "wb") as f:
        f.truncate(size)
        chunk = 4 * MiB
        for off in range(0, data, chunk):
            f.write(os.urandom(min(chunk, data - off)))
    return path


def unlink(path):
    with _lock:
        _files.discard(path)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def unlink_all():
    with _lock:
        paths = list(_files)
        _files.clear()
    for p in paths:
        try:
            os.unlink(p)
        except FileNotFoundError:
            pass


# ---------------------------------------------------------------- /proc

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # after "pid (comm)": state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    """What the numbers were measured on (goes into every JSON)."""
    rev = ""
    try:
        rev = subprocess.run(["git", "-C", SRC, "rev-parse", "--short",
                              "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return dict(nproc=os.cpu_count(), loadavg=loadavg(), git=rev,
                unix_time=int(time.time()))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- stats

def median(v):
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def percentile(v, p):
    """Nearest-rank percentile (p in 0..100) of the values, None if none."""
    v = sorted(x for x in v if x is not None)
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(-(-p * len(v) // 100)) - 1))
    return v[k]


def size_arg(s):
    """'32M', '1G', '512K' or bytes, as an int."""
    units = {"K": 1 << 10, "M": MiB, "G": GiB}
    s = s.strip().upper()
    if s and s[-1] in units:
        return int(float(s[:-1]) * units[s[-1]])
    return int(s)


def rnd(x, nd=3):
    return None if x is None else round(x, nd)


# ---------------------------------------------------------------- output

def table(header, rows, aligns=None):
    """Lines of a plain text table; numbers right-aligned."""
    rows = [[("-" if c is None else str(c)) for c in r] for r in rows]
    w = [max(len(str(h)), *(len(r[i]) for r in rows)) if rows
         else len(str(h)) for i, h in enumerate(header)]
    if aligns is None:
        aligns = ["<"] + [">"] * (len(header) - 1)
    out = ["  ".join(f"{str(h):{a}{n}}" for h, a, n in
                     zip(header, aligns, w))]
    for r in rows:
        out.append("  ".join(f"{c:{a}{n}}" for c, a, n in
                             zip(r, aligns, w)))
    return out


def emit(args, result, lines):
    """The table (stdout, or stderr with --json) and the JSON object."""
    text = "\n".join(lines) + "\n"
    if args.json:
        sys.stderr.write(text)
        sys.stderr.flush()
        sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    else:
        sys.stdout.write(text)
    sys.stdout.flush()


# ---------------------------------------------------------------- hosts

def limits_config(max_outgoing=None, max_incoming=None, max_per_pf=None,
                  bandwidth=None):
    """A [limits] section; None keeps the daemon's default."""
    text = "[limits]\n"
    for k, v in (("max_outgoing", max_outgoing),
                 ("max_incoming", max_incoming),
                 ("max_per_pf", max_per_pf), ("bandwidth", bandwidth)):
        if v is not None:
            text += f"{k} = {v}\n"
    return text


class Host:
    """One host: `npfs` simulated PFs of `vfs` VFs each and a vmigd."""

    def __init__(self, tmp, name, npfs, vfs, config="", log_level="warn",
                 spec_opts="", wrap=(), args=()):
        self.name = name
        self.sims = []
        self.daemon = None
        self.client = None
        try:
            for k in range(npfs):
                s = simdev.SimPF(vfs=vfs, name=f"{name}-pf{k}")
                s.start()
                self.sims.append(s)
            self.daemon = vmigtest.Daemon(
                tmp, name, plugins=[vmigtest.backend_plugin("virtio-admin")],
                pfs=[(f"pf{k}", "virtio-admin", s.spec + spec_opts)
                     for k, s in enumerate(self.sims)],
                config=config, args=["--log-level", log_level, *args],
                wrap=wrap)
            self.daemon.start()
            self.client = self.daemon.client(timeout_ms=30000)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self):
        return self.daemon.pid

    def cpu(self):
        """CPU seconds of this host's vmigd."""
        return cpu_seconds(self.daemon.pid)

    def sim_cpu(self):
        """CPU seconds of this host's simulators (the 'devices')."""
        return sum(cpu_seconds(s.proc.pid) or 0 for s in self.sims)

    def alive(self):
        return self.daemon is not None and self.daemon.proc is not None \
            and self.daemon.proc.poll() is None

    def log_tail(self, n=40, grep=None):
        lines = self.daemon.log().splitlines()
        if grep is not None:
            lines = [ln for ln in lines if grep in ln]
        return lines[-n:]

    def close(self):
        """Stop the daemon (exit status reported, not raised) and sims.
        Returns a problem description or None."""
        problem = None
        if self.client is not None:
            try:
                self.client.close()
            except Exception:
                pass
            self.client = None
        if self.daemon is not None and self.daemon.proc is not None:
            try:
                code = self.daemon.stop(expect=None)
                if code not in (0, None):
                    problem = f"{self.name} vmigd exited {code}"
            except Exception as e:
                problem = f"{self.name} vmigd: {e}"
        for s in self.sims:
            try:
                s.stop()
            except Exception:
                pass
        self.sims = []
        return problem


class VM:
    """One migration: a source VF and memory, a destination VF and memory."""

    def __init__(self, pf, vf, size, smem, dmem):
        self.pf = pf
        self.vf = vf
        self.size = size
        self.smem = smem
        self.dmem = dmem
        self.device = f"pf{pf}/vf{vf}"
        self.job = None        # source job id
        self.djob = None       # destination job id
        self.kind = "idle"
        self.params = {}
        self.t_start = None    # monotonic, StartMigration returned
        self.keep_src = False  # smem is shared: finish() leaves it

    def regions(self, path):
        return [dict(path=path, iova=IOVA, length=self.size)]


class Pair:
    """A source and a destination host (same PF/VF layout on both)."""

    def __init__(self, npfs=1, vfs=8, config="", log_level="warn",
                 spec_opts="", sides=None):
        """sides: {"src": dict(wrap=, args=), "dst": ...}, e.g. each
        daemon in a network namespace (test/integration/netns.py)."""
        self.tmp = vmigtest.TempDir("vmig-bench-")
        self.src = self.dst = None
        sides = sides or {}
        try:
            self.src = Host(self.tmp, "src", npfs, vfs, config, log_level,
                            spec_opts, **sides.get("src", {}))
            self.dst = Host(self.tmp, "dst", npfs, vfs, config, log_level,
                            spec_opts, **sides.get("dst", {}))
        except BaseException:
            self.close()
            raise
        self.problems = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for h in (self.src, self.dst):
            if h is not None:
                p = h.close()
                if p is not None:
                    note(f"warning: {p}")
                    getattr(self, "problems", []).append(p)
        self.src = self.dst = None
        unlink_all()
        self.tmp.cleanup()

    def cpu(self):
        """(source vmigd, destination vmigd) CPU seconds."""
        return self.src.cpu(), self.dst.cpu()

    def alive(self):
        return self.src.alive() and self.dst.alive()

    # ------------------------------------------------------- one VM

    def vm(self, pf, vf, size, fill="random", tag=None, smem=None,
           dst_fill="zero"):
        """Memory files on both sides, attached to the VFs; the destination
        VF is held so it writes nothing once it runs the restored state.
        smem: use this source file (kept by finish()) instead of a new
        one; dst_fill: the destination file's (memfile())."""
        tag = tag or f"pf{pf}-vf{vf}"
        keep = smem is not None
        if smem is None:
            smem = memfile(f"src-{tag}", size, fill)
        dmem = memfile(f"dst-{tag}", size, dst_fill)
        vm = VM(pf, vf, size, smem, dmem)
        vm.keep_src = keep
        self.src.sims[pf].attach(vf, smem, size, IOVA)
        self.dst.sims[pf].attach(vf, dmem, size, IOVA)
        self.dst.sims[pf].hold(vf)
        return vm

    def workload(self, vm, kind, **params):
        vm.kind = kind
        vm.params = dict(params)
        self.src.sims[vm.pf].workload(vm.vf, kind, **params)

    def start(self, vm, policy, vm_name=None):
        """PrepareIncoming on the destination, StartMigration on the
        source; returns the source job id."""
        name = vm_name or vm.device
        dpol = dict(verify=policy.get("verify", False))
        prep = self.dst.client.prepare_incoming(
            vm.device, vm.regions(vm.dmem), policy=dpol, vm=name)
        vm.djob = prep.job_id
        vm.job = self.src.client.start_migration(
            vm.device, vm.regions(vm.smem), prep.stream_url, prep.token,
            policy=policy, vm=name)
        vm.t_start = time.monotonic()
        return vm.job

    def wait(self, vm, timeout=LIVENESS_S, client=None):
        """The source job once it ended (Timeout past the liveness
        bound); then the destination job too."""
        c = client or self.src.client
        job = c.wait_job(vm.job, timeout=timeout, interval=0.02)
        djob = None
        try:
            djob = self.dst.client.wait_job(vm.djob, timeout=30,
                                            interval=0.02)
        except vmig.VmigError as e:
            self.problems.append(f"{vm.device}: destination job "
                                 f"{vm.djob}: {e}")
        return job, djob

    def finish(self, vm):
        """Detach both VFs, give the source VF back, unlink the files.
        Ends the workload: a rolled-back source VF would keep writing."""
        for sims in (self.src.sims, self.dst.sims):
            try:
                sims[vm.pf].workload(vm.vf, "idle")
            except Exception:
                pass
            try:
                sims[vm.pf].detach(vm.vf)
            except Exception:
                pass
        try:
            self.src.client.release_device(vm.device)
        except Exception:
            pass    # not migrated away (failed): nothing to release
        if not vm.keep_src:
            unlink(vm.smem)
        unlink(vm.dmem)


def phase_name(p):
    return pb.JobPhase.Name(p)[6:].lower()


def job_row(job):
    """The numbers of a finished source job every benchmark reports."""
    s = job.stats
    return dict(
        job=job.id, phase=phase_name(job.phase), error=job.error,
        verified=job.verified, time_ms=s.time_elapsed_ms,
        setup_ms=s.setup_time_ms, downtime_ms=s.downtime_ms,
        memory_total=s.memory_total, memory_processed=s.memory_processed,
        bytes_sent=s.bytes_sent, iterations=s.memory_iteration,
        compress_bytes_in=s.compress_bytes_in,
        compress_bytes_out=s.compress_bytes_out,
        hot_pages_deferred=s.hot_pages_deferred,
        downtime_target_ms=s.downtime_target_ms,
        expected_downtime_ms=s.expected_downtime_ms,
        queue_ms=s.queue_time_ms)


def decisions(job):
    """The job's kept decisions (the most recent, bounded) as dicts."""
    return [dict(iteration=d.iteration, at_ms=d.at_ms, action=d.action,
                 reason=d.reason,
                 predicted_downtime_ms=(None if d.predicted_downtime_ms >=
                                        (1 << 63) else
                                        d.predicted_downtime_ms),
                 dirty_rate_bps=d.dirty_rate_bps,
                 bandwidth_bps=d.bandwidth_bps,
                 remaining_bytes=d.remaining_bytes,
                 target_ms=d.downtime_target_ms)
            for d in job.decisions]


class EventLog:
    """Every Decision event of a daemon, collected on a thread (GetJob
    keeps only the last 32 per job; a converge run may make hundreds)."""

    def __init__(self, host):
        self.by_job = {}
        self.first_reason = {}
        self.dropped = 0
        self._stop = False
        self._ev = host.client.events(timeout_ms=200)
        self._last_seq = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            try:
                ev = next(self._ev)
            except vmig.Timeout:
                continue
            except StopIteration:
                return
            except Exception:
                return
            if self._last_seq is not None and ev.seq > self._last_seq + 1:
                self.dropped += ev.seq - self._last_seq - 1
            self._last_seq = ev.seq
            if ev.kind == pb.Event.KIND_DECISION:
                self.by_job.setdefault(ev.job_id, []).append(
                    (ev.decision.iteration, ev.decision.action))
                if ev.job_id not in self.first_reason:
                    self.first_reason[ev.job_id] = ev.decision.reason

    def actions(self, job_id):
        """{action: count} over every decision of the job seen."""
        out = {}
        for _, a in self.by_job.get(job_id, []):
            out[a] = out.get(a, 0) + 1
        return out

    def first_cost(self, job_id):
        """The switchover cost (ms) the adaptive policy assumed in the
        job's first decision ("cost 67 ms" or "estimated cost 20 ms"), or
        None (a baseline job)."""
        m = re.search(r"cost (\d+) ms", self.first_reason.get(job_id, ""))
        return int(m.group(1)) if m else None

    def close(self):
        self._stop = True
        self._t.join(timeout=5)
        try:
            self._ev.close()
        except Exception:
            pass


# ---------------------------------------------------------------- run.sh

def _flat(d, prefix=""):
    """Scalars of a nested dict as (dotted key, value) pairs."""
    out = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flat(v, key + ".")
        elif not isinstance(v, list):
            out.append((key, v))
    return out


def show(obj, name=""):
    """A JSON result as text: its scalars, then each list of objects as a
    table (for the C benchmarks, whose --json has no table)."""
    lines = [f"{name}:"] if name else []
    lines += [f"  {k:34} {v}" for k, v in _flat(obj)]
    for k, v in obj.items():
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            cols = []
            for x in v:
                for c, _ in _flat(x):
                    if c not in cols:
                        cols.append(c)
            rows = [[dict(_flat(x)).get(c) for c in cols] for x in v]
            lines += [f"  {k}:"] + ["  " + ln for ln in table(cols, rows)]
    return lines


def _main(argv):
    """benchlib.py show FILE [NAME] | merge OUT QUICK NAME:STATUS=FILE..."""
    if len(argv) >= 2 and argv[0] == "show":
        with open(argv[1]) as f:
            obj = json.load(f)
        print("\n".join(show(obj, argv[2] if len(argv) > 2 else "")))
        return 0
    if len(argv) >= 3 and argv[0] == "merge":
        res = dict(machine=machine(), quick=argv[2] == "1",
                   benchmarks={}, exit_status={}, failed={})
        for a in argv[3:]:
            name, path = a.split("=", 1)
            name, _, rc = name.partition(":")
            res["exit_status"][name] = int(rc) if rc.isdigit() else rc
            try:
                with open(path) as f:
                    res["benchmarks"][name] = json.loads(f.read())
            except (OSError, ValueError) as e:
                res["failed"][name] = f"no JSON result: {e}"
                continue
            if rc != "0":
                res["failed"][name] = f"exit status {rc}"
        with open(argv[1], "w") as f:
            json.dump(res, f, indent=1, sort_keys=True)
            f.write("\n")
        return 0
    sys.stderr.write("usage: benchlib.py show FILE [NAME] | merge OUT "
                     "QUICK NAME:STATUS=FILE...\n")
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
