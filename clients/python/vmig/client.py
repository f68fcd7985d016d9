"""The vmigd control API client: one generic call, and helpers per call.

    from vmig import Client
    c = Client("ipc:///run/vmigd/vmigd.sock")
    print(c.get_version().version)
    for d in c.list_devices().devices: print(d.name)

Every call goes through Client.call(request): a vmig.v1.Request in, its
vmig.v1.Response out, an exception (errors.py) when the status is not OK.
New calls need no new transport code: build the Request, call().
"""

import os

from . import _nng
from .errors import (ConnectError, ProtocolError, Timeout, VmigError,
                     error_for)

# Installed, vmig_pb2 is inside the package; in a build tree it is
# BUILDDIR/clients/python/vmig_pb2.py, beside the sources' package.
try:
    from . import vmig_pb2 as pb
except ImportError:
    try:
        import vmig_pb2 as pb
    except ImportError as e:  # pragma: no cover - depends on the build
        raise ImportError(
            "vmig_pb2 (generated from proto/vmig.proto) was not found: "
            "build the tree (make) and put BUILDDIR/clients/python on "
            "PYTHONPATH, or install the client (make install)") from e

DEFAULT_URL = "ipc:///run/vmigd/vmigd.sock"
DEFAULT_TIMEOUT_MS = 10000
MAX_RECV = 64 << 20


def downtime_prediction(job):
    """(predicted, measured) downtime in ms of a completed job: what the
    policy predicted when it decided to switch over (JobStats
    .predicted_downtime_ms) and what was measured; None before completion
    or without a switchover decision."""
    s = job.stats
    if job.phase != pb.PHASE_COMPLETED or s.predicted_downtime_ms == 0:
        return None
    return (s.predicted_downtime_ms, s.downtime_ms)


def default_url():
    return os.environ.get("VMIG_URL") or DEFAULT_URL


class Client:
    """A connection to one vmigd (an nng REQ socket)."""

    def __init__(self, url=None, timeout_ms=DEFAULT_TIMEOUT_MS,
                 max_message_bytes=MAX_RECV, tls_ca=None, tls_cert=None,
                 tls_key=None, tls_server_name=None):
        """tls_*: for a tls+tcp:// URL, the CA vmigd's certificate chains
        to, this client's certificate and key (PEM), the name vmigd's
        certificate carries (default: the URL's host)."""
        self.url = url or default_url()
        self.timeout_ms = timeout_ms
        self._next_id = (os.getpid() << 32) + 1
        self._sock = _nng.Socket("req")
        try:
            # REQ resends unanswered requests; calls are not all
            # idempotent, so send once and let the timeout bound the call.
            self._sock.set_ms(_nng.OPT_REQ_RESENDTIME,
                              _nng.NNG_DURATION_INFINITE)
            self._sock.set_size(_nng.OPT_RECVMAXSZ, max_message_bytes)
            self._sock.set_ms(_nng.OPT_RECVTIMEO, timeout_ms)
            self._sock.set_ms(_nng.OPT_SENDTIMEO, timeout_ms)
            if self.url.startswith("tls+tcp"):
                self._sock.dial_tls(self.url, tls_ca, tls_cert, tls_key,
                                    tls_server_name)
            else:
                self._sock.dial(self.url)
        except _nng.NngError as e:
            self._sock.close()
            hint = " (is vmigd running?)" if e.errno in (
                _nng.NNG_ECONNREFUSED, _nng.NNG_ENOENT) else ""
            if e.errno in (_nng.NNG_EPEERAUTH, _nng.NNG_ECRYPTO,
                           _nng.NNG_ECONNSHUT, _nng.NNG_ECLOSED):
                hint = (" (TLS: does vmigd take this client certificate, "
                        "and this CA vmigd's?)")
            raise ConnectError(f"cannot reach vmigd at {self.url}: "
                               f"{_nng.strerror(e.errno)}{hint}") from None

    # -- transport

    def call_raw(self, data):
        """Send bytes, return the answer's bytes (tests send garbage)."""
        try:
            self._sock.send(data)
            return self._sock.recv()
        except _nng.NngError as e:
            if e.errno == _nng.NNG_ETIMEDOUT:
                raise Timeout(f"vmigd at {self.url}: no answer within "
                              f"{self.timeout_ms} ms") from None
            raise ConnectError(f"vmigd at {self.url}: "
                               f"{_nng.strerror(e.errno)}") from None

    def call(self, request, check=True):
        """Send a vmig.v1.Request, return its vmig.v1.Response.

        request_id and api_version are filled in when unset. With check
        (the default) a status other than OK raises its VmigError.
        """
        if not request.request_id:
            request.request_id = self._next_id
            self._next_id += 1
        if not request.api_version:
            request.api_version = 1
        data = self.call_raw(request.SerializeToString())
        resp = pb.Response()
        try:
            resp.ParseFromString(data)
        except Exception as e:
            raise ProtocolError(f"vmigd at {self.url}: its answer "
                                f"({len(data)} bytes) does not decode: {e}")
        if resp.request_id != request.request_id:
            raise ProtocolError(f"vmigd at {self.url}: answer for request "
                                f"{resp.request_id}, expected "
                                f"{request.request_id}")
        if check and resp.status.code != pb.STATUS_OK:
            raise error_for(resp.status.code, resp.status.message, resp)
        return resp

    # -- calls

    def get_version(self):
        return self.call(pb.Request(
            get_version=pb.GetVersionRequest())).get_version

    def list_devices(self, pf=""):
        return self.call(pb.Request(
            list_devices=pb.ListDevicesRequest(pf=pf))).list_devices

    def status(self):
        return self.call(pb.Request(
            get_daemon_status=pb.GetDaemonStatusRequest())).get_daemon_status

    def attach_fds(self, target, fds, path=None):
        """Hand fds over for a device ("PF/vfN") or a PF: fds maps names
        ("device", "container", ...) to open fds, which vmigd dup()s in
        transit (close yours when you like). Over the daemon's fd socket
        (GetDaemonStatus.fd_socket; nng cannot carry fds)."""
        import socket
        path = path or self.status().fd_socket
        if not path:
            raise ConnectError(f"vmigd at {self.url} has no fd socket "
                               "(its control socket is not ipc://)")
        names = list(fds)
        req = pb.AttachFdsRequest(target=target, names=names)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.settimeout(self.timeout_ms / 1000)
            s.connect(path)
            socket.send_fds(s, [req.SerializeToString()],
                            [fds[n] for n in names])
            resp = pb.AttachFdsResponse.FromString(s.recv(4096))
        if resp.status.code != pb.STATUS_OK:
            raise error_for(resp.status.code, resp.status.message, resp)
        return resp

    # -- migration (see proto/vmig.proto for every field)

    @staticmethod
    def _regions(regions):
        """MemoryRegion messages from dicts (path, iova, length, ...)."""
        out = []
        for r in regions:
            out.append(r if isinstance(r, pb.MemoryRegion)
                       else pb.MemoryRegion(**r))
        return out

    @staticmethod
    def _policy(policy):
        if policy is None:
            return None
        if isinstance(policy, pb.MigrationPolicy):
            return policy
        return pb.MigrationPolicy(**policy)

    def prepare_incoming(self, device, regions, policy=None, vm="",
                         group=(), source_interfaces=()):
        """Destination: returns PrepareIncomingResponse (job_id, token,
        stream_url, job_ids). group: the VM's other devices, which move
        with device as one job (one memory, one downtime).
        source_interfaces: the source devices' interfaces (device, then
        group), checked before anything is touched."""
        return self.call(pb.Request(prepare_incoming=pb.PrepareIncomingRequest(
            device=device, regions=self._regions(regions),
            policy=self._policy(policy), vm=vm, group=list(group),
            source_interfaces=list(source_interfaces)))).prepare_incoming

    def start_migration(self, device, regions, dest_url, token, policy=None,
                        vm="", group=(), all_ids=False):
        """Source: returns the new job's id (all_ids: the ids of every
        device of the group, device's first)."""
        r = self.call(pb.Request(start_migration=pb.StartMigrationRequest(
            device=device, regions=self._regions(regions), dest_url=dest_url,
            token=token, policy=self._policy(policy), vm=vm,
            group=list(group)))).start_migration
        return list(r.job_ids) if all_ids else r.job_id

    def check_compat(self, device, source_interface):
        """May a device of source_interface migrate into device (on this
        daemon)? CheckCompatResponse: compatible, conditions, reason,
        interface. Touches nothing."""
        return self.call(pb.Request(check_compat=pb.CheckCompatRequest(
            device=device,
            source_interface=source_interface))).check_compat

    def get_job(self, job_id):
        return self.call(pb.Request(
            get_job=pb.GetJobRequest(job_id=job_id))).get_job.job

    def list_jobs(self, include_finished=False):
        return self.call(pb.Request(list_jobs=pb.ListJobsRequest(
            include_finished=include_finished))).list_jobs.jobs

    def cancel_job(self, job_id, reason=""):
        return self.call(pb.Request(cancel_job=pb.CancelJobRequest(
            job_id=job_id, reason=reason))).cancel_job.phase

    def set_job_policy(self, job_id, **changes):
        return self.call(pb.Request(set_job_policy=pb.SetJobPolicyRequest(
            job_id=job_id, **changes))).set_job_policy.policy

    def switchover(self, job_id):
        return self.call(pb.Request(switchover=pb.SwitchoverRequest(
            job_id=job_id))).switchover.phase

    def release_device(self, device, resume=False):
        """Free a source VF whose VM migrated away; with resume, make a
        VF that no job holds but that was left stopped active again."""
        return self.call(pb.Request(release_device=pb.ReleaseDeviceRequest(
            device=device, resume=resume))).release_device.mode

    TERMINAL = (pb.PHASE_COMPLETED, pb.PHASE_FAILED, pb.PHASE_CANCELLED)

    def wait_job(self, job_id, timeout=60.0, interval=0.05, until=None):
        """Poll GetJob until the job ends (or `until(job)` is true);
        returns the last Job. Raises Timeout after `timeout` seconds."""
        import time
        end = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job.phase in self.TERMINAL or (until and until(job)):
                return job
            if time.monotonic() > end:
                raise Timeout(f"job {job_id} still "
                              f"{pb.JobPhase.Name(job.phase)} after "
                              f"{timeout} s")
            time.sleep(interval)

    def watch_events(self):
        """The URL of the daemon's event publisher."""
        return self.call(pb.Request(
            watch_events=pb.WatchEventsRequest())).watch_events.events_url

    def events(self, timeout_ms=None):
        """An Events iterator on this daemon's publisher."""
        return Events(self.watch_events(), timeout_ms=timeout_ms)

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Events:
    """Iterate over vmig.v1.Event from a daemon's publisher (nng SUB).

    Connected when constructed: events published from then on arrive
    (PUB/SUB drops what came before; Event.seq shows gaps). With
    timeout_ms, next() raises Timeout when nothing comes in time.
    """

    def __init__(self, url, timeout_ms=None, max_message_bytes=MAX_RECV):
        self.url = url
        self._sock = _nng.Socket("sub")
        try:
            self._sock.subscribe(b"")
            self._sock.set_size(_nng.OPT_RECVMAXSZ, max_message_bytes)
            if timeout_ms is not None:
                self._sock.set_ms(_nng.OPT_RECVTIMEO, timeout_ms)
            self._sock.dial(url)
        except _nng.NngError as e:
            self._sock.close()
            raise ConnectError(f"cannot reach vmigd's events at {url}: "
                               f"{_nng.strerror(e.errno)}") from None
        self.timeout_ms = timeout_ms

    def __iter__(self):
        return self

    def __next__(self):
        try:
            data = self._sock.recv()
        except _nng.NngError as e:
            if e.errno == _nng.NNG_ETIMEDOUT:
                raise Timeout(f"no event from {self.url} within "
                              f"{self.timeout_ms} ms") from None
            if e.errno == _nng.NNG_ECLOSED:
                raise StopIteration from None
            raise ConnectError(f"events at {self.url}: "
                               f"{_nng.strerror(e.errno)}") from None
        ev = pb.Event()
        try:
            ev.ParseFromString(data)
        except Exception as e:
            raise ProtocolError(f"event of {len(data)} bytes from {self.url} "
                                f"does not decode: {e}")
        return ev

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def events(url, timeout_ms=None):
    """Iterate over the events published at url."""
    return Events(url, timeout_ms=timeout_ms)


__all__ = ["Client", "Events", "events", "default_url", "VmigError", "pb"]
