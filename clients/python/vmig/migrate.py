"""vmig.migrate: migrate every passthrough device of one VM between two
hosts, the way an orchestrator (Nova's libvirt driver, KubeVirt's
virt-handler) drives vmigd. doc/orchestrators.md says where this sits in
Nova and KubeVirt and how it meets the VMM's own RAM migration.

    python3 -m vmig.migrate --vm vm7 \\
        --src ipc:///run/vmigd/vmigd.sock --dst tcp://10.0.0.2:7480 \\
        --device pf0/vf3 --device pf0/vf4=pf1/vf2 \\
        --src-region /dev/shm/vm7,iova=0,size=8G \\
        --dst-region /dev/shm/vm7,iova=0,size=8G \\
        --pause-cmd 'virsh suspend vm7' --resume-cmd 'virsh resume vm7'

The sequence, for every device of the VM:

1. prepare: PrepareIncoming on the destination (all or nothing: when one
   is refused, those prepared are cancelled);
2. start: StartMigration on the source with the token and stream URL,
   manual switchover (the orchestrator decides when the guest pauses);
3. follow: the events of both daemons (progress, decisions), GetJob for
   the truth (events are PUB/SUB: one may be lost);
4. switchover: once every device is switchover-ready, pause the guest
   (--pause-cmd: the VMM stops the vCPUs), then Switchover each device,
   one after the other, each to completion, so a device's final pages
   are applied before the next device stops (doc/orchestrators.md: the
   ordering rule, and what it asks of the VMM's own RAM migration);
5. report: one JSON object (--json) or lines for people.

Every failure path cleans up: the live jobs on both sides are cancelled
(vmigd rolls the source devices back to running), a guest paused by us
is resumed (--resume-cmd), and the exit status is 1 with the reason in
the report; SIGINT/SIGTERM do the same (exit 130/143).

Today vmigd migrates one device per job; when a call migrates a group
of devices at once, Migration._prepare/_start/_switchover become one
call each and nothing else here changes.
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time

from .client import Client, pb
from .errors import Timeout, VmigError

LIVE = (pb.PHASE_QUEUED, pb.PHASE_SETUP, pb.PHASE_PRECOPY,
        pb.PHASE_SWITCHOVER_READY, pb.PHASE_STOPCOPY, pb.PHASE_RESUMING,
        pb.PHASE_WAITING)
TERMINAL = (pb.PHASE_COMPLETED, pb.PHASE_FAILED, pb.PHASE_CANCELLED)
POLL_S = 0.1
UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


class MigrationFailed(Exception):
    """The migration did not complete; .report says what was done."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


class Interrupted(Exception):
    def __init__(self, sig):
        super().__init__(f"interrupted by {signal.Signals(sig).name}")
        self.sig = sig


def phase_name(p):
    return pb.JobPhase.Name(p)[len("PHASE_"):].lower().replace("_", "-")


def parse_size(s):
    m = re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)([kKmMgGtT]?)(i?B)?", s)
    if m is None:
        raise ValueError(f"'{s}' is not a size (a number, K M G or T)")
    return int(m.group(1), 0) * UNITS[m.group(2).lower()]


def parse_region(arg):
    """PATH,iova=A,size=N[,offset=O][,page=P] (vmigctl's syntax)."""
    parts = arg.split(",")
    region = {"path": parts[0]}
    keys = {"iova": "iova", "size": "length", "offset": "file_offset",
            "page": "page_size"}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        if k not in keys or not v:
            raise ValueError(f"region '{arg}': '{p}' is not one of "
                             "iova=, size=, offset=, page=")
        region[keys[k]] = parse_size(v)
    if not parts[0] or "iova" not in region or "length" not in region:
        raise ValueError(f"region '{arg}': give PATH,iova=A,size=N")
    return region


def overlaps(devices):
    """The first pair of devices whose source regions share file bytes."""
    for i, a in enumerate(devices):
        for b in devices[i + 1:]:
            for ra in a.src_regions:
                for rb in b.src_regions:
                    oa, ob = ra.get("file_offset", 0), rb.get("file_offset",
                                                              0)
                    if ra["path"] == rb["path"] and \
                            oa < ob + rb["length"] and ob < oa + ra["length"]:
                        return a, b
    return None


class Device:
    """One passthrough device of the VM, its memory regions as its DMA
    sees them on each host, and its pair of jobs."""

    def __init__(self, src, dst, src_regions, dst_regions):
        self.src, self.dst = src, dst
        self.src_regions, self.dst_regions = src_regions, dst_regions
        self.dst_job_id = self.src_job_id = 0
        self.token = self.stream_url = None
        self.src_job = self.dst_job = None

    def report(self):
        r = {"device": self.src, "destination_device": self.dst,
             "source_job": self.src_job_id,
             "destination_job": self.dst_job_id}
        for side, job in (("source", self.src_job),
                          ("destination", self.dst_job)):
            if job is not None:
                r[side + "_phase"] = phase_name(job.phase)
                if job.error:
                    r[side + "_error"] = job.error
        if self.src_job is not None:
            s = self.src_job.stats
            r.update(downtime_ms=s.downtime_ms, bytes_sent=s.bytes_sent,
                     time_ms=s.time_elapsed_ms,
                     verified=self.src_job.verified)
        return r


class Migration:
    """Migrate the devices of one VM from the daemon at src_url to the
    daemon at dst_url. pause() and resume() are the VMM's: pause the
    guest's vCPUs before the switchover, resume them on the source when
    a migration that paused them fails. say(line) reports progress."""

    def __init__(self, vm, src_url, dst_url, devices, policy=None,
                 switchover="manual", pause=None, resume=None,
                 release=False, timeout_s=600, say=None):
        """devices: (source device, destination device, source regions,
        destination regions), regions as Client.start_migration takes
        them."""
        self.vm = vm
        self.devices = [Device(*d) for d in devices]
        self.policy = dict(policy or {})
        # each job's bulk pass would copy the others' pages: a stale copy
        # could land after the owner's last one (doc/orchestrators.md)
        pair = overlaps(self.devices) if self.policy.get("bulk_copy") \
            else None
        if pair is not None:
            raise ValueError(f"{pair[0].src} and {pair[1].src} share guest "
                             "memory: with bulk copy each would send the "
                             "other's pages; let the VMM move the memory "
                             "(no bulk), or give each device its own "
                             "regions")
        self.manual = switchover == "manual"
        self.pause_fn, self.resume_fn = pause, resume
        self.release = release
        self.deadline = time.monotonic() + timeout_s
        self.say = say or (lambda line: None)
        self.src = Client(src_url)
        self.dst = Client(dst_url)
        self.paused_at = self.resumed = None
        self.switched = False
        self.report = {"vm": vm, "result": "running", "devices": []}
        self._events = []

    # ------------------------------------------------------------ steps

    def _prepare(self):
        pol = {"verify": self.policy.get("verify", False)}
        for d in self.devices:
            r = self.dst.prepare_incoming(d.dst, d.dst_regions,
                                          policy=pol, vm=self.vm)
            d.dst_job_id, d.token, d.stream_url = (r.job_id, r.token,
                                                   r.stream_url)
            self.say(f"{d.dst}: prepared (destination job {r.job_id})")

    def _start(self):
        pol = dict(self.policy)
        if self.manual:
            pol["switchover"] = pb.SWITCHOVER_MANUAL
        for d in self.devices:
            d.src_job_id = self.src.start_migration(
                d.src, d.src_regions, d.stream_url, d.token, policy=pol,
                vm=self.vm)
            self.say(f"{d.src}: migrating (source job {d.src_job_id})")

    def _switchover(self):
        """One device after the other, each to the end (its final pages
        applied, the destination device resumed) before the next stops:
        the ordering rule of doc/orchestrators.md."""
        for d in self.devices:
            self.src.switchover(d.src_job_id)
            self.say(f"{d.src}: switchover")
            self._wait(lambda: d.src_job.phase == pb.PHASE_COMPLETED,
                       f"{d.src} to complete")
        self.switched = True

    # ------------------------------------------------------------ following

    def _open_events(self):
        for c in (self.src, self.dst):
            try:
                self._events.append(c.events(timeout_ms=int(POLL_S * 500)))
            except VmigError as e:
                # events off on that daemon: GetJob alone will do
                self.say(f"{c.url}: no events ({e})")

    def _drain_events(self):
        ours = {d.src_job_id for d in self.devices} | \
            {d.dst_job_id for d in self.devices}
        for ev in self._events:
            while True:
                try:
                    e = next(ev)
                except (Timeout, StopIteration):
                    break
                if e.job_id not in ours:
                    continue
                if e.kind == e.KIND_PHASE:
                    self.say(f"{e.device}: {phase_name(e.previous)} -> "
                             f"{phase_name(e.phase)}"
                             f"{': ' + e.message if e.message else ''}")
                elif e.kind == e.KIND_DECISION:
                    self.say(f"{e.device}: {e.decision.action}: "
                             f"{e.decision.reason}")

    def _poll(self):
        for d in self.devices:
            if d.src_job_id:
                d.src_job = self.src.get_job(d.src_job_id)
            if d.dst_job_id:
                d.dst_job = self.dst.get_job(d.dst_job_id)
            for side, job in (("source", d.src_job),
                              ("destination", d.dst_job)):
                if job is not None and job.phase in (pb.PHASE_FAILED,
                                                     pb.PHASE_CANCELLED):
                    raise MigrationFailed(
                        f"{d.src}: the {side} job {job.id} "
                        f"{phase_name(job.phase)}: {job.error}",
                        self.report)

    def _wait(self, done, what):
        while True:
            self._drain_events()
            self._poll()
            if done():
                return
            if time.monotonic() > self.deadline:
                raise MigrationFailed(f"timed out waiting for {what}",
                                      self.report)
            time.sleep(POLL_S)

    # ------------------------------------------------------------ cleanup

    def _cleanup(self, why):
        """Cancel what is live on both sides, resume a guest we paused."""
        for d in self.devices:
            for client, jid in ((self.src, d.src_job_id),
                                (self.dst, d.dst_job_id)):
                if not jid:
                    continue
                try:
                    if client.get_job(jid).phase in LIVE:
                        client.cancel_job(jid, f"{self.vm}: {why}")
                except VmigError as e:
                    self.say(f"cleanup: job {jid} at {client.url}: {e}")
        end = time.monotonic() + 60
        for d in self.devices:
            for client, jid, attr in ((self.src, d.src_job_id, "src_job"),
                                      (self.dst, d.dst_job_id, "dst_job")):
                if not jid:
                    continue
                try:
                    job = client.wait_job(jid, timeout=max(
                        1, end - time.monotonic()))
                    setattr(d, attr, job)
                except VmigError as e:
                    self.say(f"cleanup: job {jid} at {client.url}: {e}")
        if self.paused_at is None or self.switched:
            return
        # devices already switched over: their state is still on the
        # source device (frozen), which runs again with the guest
        for d in self.devices:
            if d.src_job is not None and \
                    d.src_job.phase == pb.PHASE_COMPLETED:
                try:
                    self.src.release_device(d.src)
                    self.src.release_device(d.src, resume=True)
                    self.say(f"{d.src}: running again on the source; "
                             f"{d.dst} on the destination runs without "
                             "its VM: stop it there")
                except VmigError as e:
                    self.say(f"cleanup: {d.src}: {e}")
        if self.resume_fn is not None:
            self.resume_fn()
            self.resumed = True
            self.say(f"{self.vm}: resumed on the source")

    # ------------------------------------------------------------ run

    def run(self):
        t0 = time.monotonic()
        try:
            self._open_events()
            self._prepare()
            self._start()
            if self.manual:
                self._wait(lambda: all(d.src_job.phase ==
                                       pb.PHASE_SWITCHOVER_READY
                                       for d in self.devices),
                           "every device to be switchover-ready")
                self.say(f"{self.vm}: every device is ready: pausing")
                if self.pause_fn is not None:
                    self.pause_fn()
                self.paused_at = time.monotonic()
                self._switchover()
            self._wait(lambda: all(
                d.src_job.phase == pb.PHASE_COMPLETED and
                d.dst_job.phase == pb.PHASE_COMPLETED
                for d in self.devices), "both sides to complete")
            if self.release:
                for d in self.devices:
                    self.src.release_device(d.src)
            self.report["result"] = "completed"
        except (MigrationFailed, VmigError, Interrupted) as e:
            self.report["result"] = "failed"
            self.report["error"] = str(e)
            self.say(f"{self.vm}: {e}: cleaning up")
            self._cleanup(str(e))
            raise MigrationFailed(str(e), self.finish(t0)) from e
        return self.finish(t0)

    def finish(self, t0):
        self.report["time_ms"] = int((time.monotonic() - t0) * 1000)
        if self.paused_at is not None:
            self.report["paused_ms"] = int(
                (time.monotonic() - self.paused_at) * 1000)
        if self.resumed:
            self.report["resumed_on_source"] = True
        self.report["devices"] = [d.report() for d in self.devices]
        for c in (self.src, self.dst):
            c.close()
        for ev in self._events:
            ev.close()
        return self.report


# ---------------------------------------------------------------- command

def _hook(cmd, what):
    if not cmd:
        return None

    def run():
        # its output is not the report's (--json: stdout is JSON only)
        p = subprocess.run(cmd, shell=True, stdout=sys.stderr)
        if p.returncode != 0:
            raise MigrationFailed(f"{what} command '{cmd}' exited "
                                  f"{p.returncode}", {})
    return run


def _args(argv):
    ap = argparse.ArgumentParser(
        prog="python3 -m vmig.migrate",
        description="Migrate every passthrough device of one VM between "
        "two vmigd hosts, as an orchestrator would.")
    ap.add_argument("--vm", required=True, help="the VM's name (a label)")
    ap.add_argument("--src", required=True, help="the source vmigd's URL")
    ap.add_argument("--dst", required=True,
                    help="the destination vmigd's URL")
    ap.add_argument("--device", action="append", default=[],
                    metavar="SRC[=DST]", help="a device of the VM and, if "
                    "its name differs there, the destination's; its DMA "
                    "sees --src-region/--dst-region")
    ap.add_argument("--src-region", action="append", default=[],
                    metavar="R", help="the VM's memory on the source: "
                    "PATH,iova=A,size=N[,offset=O][,page=P]")
    ap.add_argument("--dst-region", action="append", default=[],
                    metavar="R", help="the VM's memory on the destination")
    ap.add_argument("--plan", metavar="FILE", help="devices as JSON, each "
                    "with its own regions: [{\"src\": DEV, \"dst\": DEV, "
                    "\"src_regions\": [R...], \"dst_regions\": [R...]}]")
    ap.add_argument("--switchover", choices=("manual", "auto"),
                    default="manual", help="manual: pause the guest "
                    "(--pause-cmd) once every device is ready, then switch "
                    "them over; auto: each device when vmigd decides")
    ap.add_argument("--pause-cmd", help="pauses the guest's vCPUs (the "
                    "VMM's command, e.g. virsh suspend VM)")
    ap.add_argument("--resume-cmd", help="resumes them on the source when "
                    "a migration that paused them fails")
    ap.add_argument("--downtime", type=int, metavar="MS")
    ap.add_argument("--bandwidth", type=parse_size, metavar="B/s")
    ap.add_argument("--timeout", type=int, default=600, metavar="S",
                    help="the whole migration (default 600)")
    ap.add_argument("--bulk", action="store_true",
                    help="vmigd sends the whole memory (no VMM RAM "
                    "migration)")
    ap.add_argument("--verify", action="store_true")
    ap.add_argument("--release", action="store_true",
                    help="release the source devices once migrated")
    ap.add_argument("--json", action="store_true",
                    help="the report as one JSON object on stdout")
    a = ap.parse_args(argv)
    try:
        src = [parse_region(r) for r in a.src_region]
        dst = [parse_region(r) for r in a.dst_region]
        a.devices = []
        for d in a.device:
            s, _, t = d.partition("=")
            if not src or not dst:
                raise ValueError("--device needs --src-region and "
                                 "--dst-region")
            a.devices.append((s, t or s, src, dst))
        if a.plan:
            with open(a.plan) as f:
                for d in json.load(f):
                    a.devices.append((d["src"], d.get("dst", d["src"]), [
                        parse_region(r) for r in d["src_regions"]], [
                        parse_region(r) for r in d["dst_regions"]]))
    except (ValueError, KeyError, OSError) as e:
        ap.error(str(e))
    if not a.devices:
        ap.error("no device: give --device or --plan")
    return a


def main(argv=None):
    a = _args(argv)
    policy = {"verify": a.verify, "bulk_copy": a.bulk,
              "completion_timeout_s": a.timeout}
    if a.downtime:
        policy["max_downtime_ms"] = a.downtime
    if a.bandwidth:
        policy["bandwidth_limit_bps"] = a.bandwidth
    out = sys.stderr if a.json else sys.stdout

    def say(line):
        print(f"{time.strftime('%H:%M:%S')} {line}", file=out, flush=True)

    def interrupted(sig, frame):
        raise Interrupted(sig)
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        m = Migration(a.vm, a.src, a.dst, a.devices, policy=policy,
                      switchover=a.switchover,
                      pause=_hook(a.pause_cmd, "pause"),
                      resume=_hook(a.resume_cmd, "resume"),
                      release=a.release, timeout_s=a.timeout, say=say)
    except ValueError as e:
        say(str(e))
        return 2
    except VmigError as e:
        say(str(e))
        return 3
    status = 0
    try:
        report = m.run()
    except MigrationFailed as e:
        report = e.report
        status = 1
        cause = e.__cause__
        if isinstance(cause, Interrupted):
            status = 128 + cause.sig
    if a.json:
        print(json.dumps(report), flush=True)
    else:
        for d in report["devices"]:
            say(f"{d['device']}: {d.get('source_phase', '-')}"
                f"{', downtime %d ms' % d['downtime_ms'] if d.get('downtime_ms') else ''}"
                f"{', ' + d['source_error'] if d.get('source_error') else ''}")
        say(f"{a.vm}: {report['result']} in {report.get('time_ms', 0)} ms"
            f"{': ' + report['error'] if 'error' in report else ''}")
    return status


if __name__ == "__main__":
    sys.exit(main())
