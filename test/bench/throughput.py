#!/usr/bin/python3
"""throughput.py: one large migration's stream rate beside iperf3.

    test/bench/throughput.py [BUILDDIR] [--size 1G] [--runs 5] [--json]
        [--quick] [--no-verify] [--rows warm,cold]

Two vmigd (source and destination, each with a simulated virtio PF) on
one machine; the peer stream is TCP on loopback. A VM of --size bytes of
random data (no zero pages: every page goes with its data) and an idle
VF is migrated with bulk copy; `iperf3 -s -1` / `iperf3 -c 127.0.0.1 -n
BYTES -J` moves the same number of bytes over the same loopback. Every
run measures iperf3 and each row once, in an order rotated from run to
run (each migration on a fresh VF and a fresh destination file); we
report medians and the median of the per-run ratios.

Rows (never mixed in one median):
  warm     the headline: the destination's memory file is written in
           full before PrepareIncoming, as a VM with a passthrough device
           has all of its memory pinned and populated at the destination
           before an incoming migration (VFIO pins guest RAM at VM start),
           and both daemons run with prefault_memory = 1: on this
           project's nested VMs the hypervisor fills page tables lazily
           per process and per mode (user, kernel), ~10 us a 4 KiB page,
           which MAP_POPULATE does not do, while on hardware a mapped,
           pinned VM's pages cost nothing to touch. Default data
           connections (2).
  cold     the destination file is sparse and nothing is prefaulted:
           every first touch (user and kernel, both sides) and the
           allocation of fresh pages fall in the transfer.
  stream   warm, data_connections = 0: pages in nng messages on the
           control stream (one copy per side), the path before the data
           connections.
  c1, c4, c8   warm with 1, 4, 8 data connections.
  tls      warm over tls+tcp:// with mutual TLS (certificates made with
           openssl for the run): the stream on nng's TLS with the
           default engine ([daemon] tls_engine = openssl), the data
           connections sealed (daemon/dseal.h: a TLS 1.3 handshake, then
           AES-128-GCM records keyed from it, outside nng's TLS). With
           warm in the same run, tls_ratio_vs_plain is the median of
           tls / warm bulk rates.
  tls-mbedtls  the same with the stream on Debian libnng's own engine
           (mbedTLS 2.28): tls_mbedtls_ratio_vs_plain.
  paced, paced_z   a 1 Gbit/s link: the source daemon in one network
           namespace, the destination in another, joined by a veth pair
           shaped by tc tbf on both ends (test/integration/netns.py; the
           root namespace's loopback is never shaped), warm, source memory
           compressible (each page 1 KiB random, 3 KiB zeros). paced has
           [daemon] compression = off, paced_z = auto (the policy must
           see the link is the limit and compress). The reference of
           these rows is iperf3 across the same shaped link, and each
           other: paced_speedup is the median of per-run paced_z / paced
           bulk rates; bytes on the wire are JobStats.bytes_sent.

Rates (Mbit/s = 10^6 bit/s):
  bulk     memory_processed / (time from PRECOPY start to the first
           convergence decision), i.e. the bulk copy until the
           destination acknowledged every page, plus one write-record
           read and a state-size query (a few ms). This is the figure
           compared with iperf3 (ratio_vs_iperf3).
  job      memory_processed / the job's whole time (StartMigration to
           COMPLETED: setup, bulk copy, stop-copy, state, digest
           verification unless --no-verify, the destination's resume).
CPU: utime+stime of each vmigd (/proc/PID/stat) from the moment
StartMigration returned (both jobs exist, their memory mapped and, in
warm rows, prefaulted) to the end of the job (digests with verify
included); iperf3's own CPU (client + server) from its -J report. CPU s per
GiB: both daemons together per GiB moved (cpu_s_per_gib in the JSON),
iperf3's both ends beside it.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import json as jsonlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402
from benchlib import GiB, MiB  # noqa: E402


def options(p):
    p.add_argument("--size", default=None,
                   help="memory per VM (default 1G, --quick 128M)")
    p.add_argument("--runs", type=int, default=None,
                   help="alternations (default 5, --quick 2)")
    p.add_argument("--no-verify", action="store_true",
                   help="no digest verification at switchover")
    p.add_argument("--rows", default="warm,cold",
                   help="rows to measure, comma-separated: " +
                   ", ".join(ROWS))


# name -> (destination memory fill, daemon config); see the docstring
DEFAULT_CONNECTIONS = 2      # [daemon] data_connections' default
WARM = "prefault_memory = 1\n"


def row(dst, conns, warm, compression=None):
    cfg = "[daemon]\n" + (WARM if warm else "")
    if conns != DEFAULT_CONNECTIONS:
        cfg += f"data_connections = {conns}\n"
    if compression is not None:
        cfg += f"compression = {compression}\n"
    return dict(dst=dst, conns=conns, config=cfg,
                paced=compression is not None,
                fill="compressible" if compression is not None else
                "random")


PACED_RATE = "1gbit"


ROWS = {
    "warm": row("written", DEFAULT_CONNECTIONS, True),
    "cold": row("zero", DEFAULT_CONNECTIONS, False),
    "stream": row("written", 0, True),
    "c1": row("written", 1, True),
    "c4": row("written", 4, True),
    "c8": row("written", 8, True),
    "tls": row("written", DEFAULT_CONNECTIONS, True),   # + tls_config()
    "tls-mbedtls": row("written", DEFAULT_CONNECTIONS, True),
    "paced": row("written", DEFAULT_CONNECTIONS, True, "off"),
    "paced_z": row("written", DEFAULT_CONNECTIONS, True, "auto"),
}
TLS_ENGINES = {"tls": "openssl", "tls-mbedtls": "mbedtls"}


def paced_net():
    """Two namespaces, a veth pair between them, tbf at PACED_RATE on
    both ends (burst: 4 ms of the rate, over the 64 KiB of a GSO
    packet)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "integration"))
    from netns import NetPair, tbf_unavailable
    why = tbf_unavailable()
    if why:
        bl.die(f"the paced rows need a shaped link: {why}")
    net = NetPair().setup()
    for side in "ab":
        net._tc(side, "qdisc", "replace", "dev", net.dev[side], "root",
                "tbf", "rate", PACED_RATE, "burst", "512kb", "latency",
                "50ms")
    return net


def paced_sides(net):
    return {"src": dict(wrap=net.wrap("a"), args=[
        "--stream-bind", f"tcp://{net.addr('a')}"]),
        "dst": dict(wrap=net.wrap("b"), args=[
            "--stream-bind", f"tcp://{net.addr('b')}"])}


def tls_config(tmp):
    """The tls row's [daemon] stream_bind and [security]: one CA, one
    host certificate both daemons serve and dial with (certs.py)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "integration"))
    from certs import CA
    ca = CA(tmp, "bench-ca")
    host = ca.issue("host", peer=True)
    return ("stream_bind = tls+tcp://127.0.0.1\n[security]\n"
            f"tls_ca_file = {ca.cert}\ntls_cert_file = {host.cert}\n"
            f"tls_key_file = {host.key}\nstream_peer_name = localhost\n")


def run_vmigd(pair, vf, size, smem, verify, dst_fill):
    vm = pair.vm(0, vf, size, smem=smem, tag=f"tp{vf}", dst_fill=dst_fill)
    pair.workload(vm, "idle")
    c0 = None
    try:
        # Verifying 1 GiB hashes it on both sides inside the downtime
        # (~100-200 ms each here), which the policy counts in the PF's
        # switchover cost: with the ceiling at the 300 ms target a run
        # could abort on a noisy digest. This benchmark measures the
        # stream, so the ceiling leaves room for the digests.
        pair.start(vm, dict(bulk_copy=True, verify=verify,
                            max_downtime_ms=300, downtime_ceiling_ms=2000))
        c0 = pair.cpu()
        job, djob = pair.wait(vm, timeout=bl.LIVENESS_S)
        c1 = pair.cpu()
    finally:
        pair.finish(vm)
    row = bl.job_row(job)
    row["dest_phase"] = bl.phase_name(djob.phase) if djob else None
    ok = job.phase == bl.pb.PHASE_COMPLETED
    row["ok"] = ok
    ok_cpu = c0 is not None and None not in c0 + c1
    row["src_cpu_s"] = bl.rnd(c1[0] - c0[0]) if ok_cpu else None
    row["dst_cpu_s"] = bl.rnd(c1[1] - c0[1]) if ok_cpu else None
    if not ok:
        bl.note(f"run on vf{vf}: migration {row['phase']}: {job.error}")
        return row
    first = job.decisions[0] if len(job.decisions) else None
    proc = job.stats.memory_processed
    bulk_ms = None
    if first is not None and first.iteration == 1:
        bulk_ms = first.at_ms - job.stats.setup_time_ms
    row["bulk_ms"] = bulk_ms
    row["bulk_mbps"] = bl.rnd(proc * 8 / (bulk_ms * 1e3), 1) \
        if bulk_ms else None
    row["job_mbps"] = bl.rnd(proc * 8 / (job.stats.time_elapsed_ms * 1e3),
                             1) if job.stats.time_elapsed_ms else None
    return row


def run_iperf(nbytes, net=None):
    """iperf3 on loopback, or across net's shaped link (server in b)."""
    port = bl.free_port()
    host = net.addr("b") if net else "127.0.0.1"
    srv = subprocess.Popen((net.wrap("b") if net else []) +
                           ["iperf3", "-s", "-1", "-p", str(port)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        out = None
        for _ in range(50):     # the server needs a moment to listen
            p = subprocess.run((net.wrap("a") if net else []) +
                               ["iperf3", "-c", host, "-p", str(port),
                                "-n", str(nbytes), "-J"],
                               capture_output=True, text=True,
                               timeout=bl.LIVENESS_S)
            try:
                out = jsonlib.loads(p.stdout)
            except ValueError:
                out = None
            if out and "error" not in out and out.get("end", {}).get(
                    "sum_received"):
                break
            out = None
            time.sleep(0.1)
    finally:
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
    if out is None:
        return dict(ok=False)
    rcv = out["end"]["sum_received"]
    cpu = out["end"].get("cpu_utilization_percent", {})
    secs = rcv["seconds"]
    return dict(ok=True, mbps=bl.rnd(rcv["bits_per_second"] / 1e6, 1),
                seconds=bl.rnd(secs), bytes=rcv["bytes"],
                client_cpu_s=bl.rnd(cpu.get("host_total", 0) / 100 * secs),
                server_cpu_s=bl.rnd(cpu.get("remote_total", 0) / 100 * secs))


def med(v):
    return bl.rnd(bl.median(v), 3)


def ref_of(name):
    """The iperf3 a row is compared with: the shaped link's for paced."""
    return "iperf3_paced" if ROWS[name]["paced"] else "iperf3"


def summarize(name, rows, size):
    """Medians of one row over the runs; None where nothing completed."""
    ok = [r[name] for r in rows if r.get(name, {}).get("ok")]
    ref = ref_of(name)
    ratios = [r[name]["bulk_mbps"] / r[ref]["mbps"] for r in rows
              if r.get(name, {}).get("bulk_mbps") and
              r[ref].get("ok")]
    src = med([v.get("src_cpu_s") for v in ok])
    dst = med([v.get("dst_cpu_s") for v in ok])
    gib = size / GiB
    both = [v["src_cpu_s"] + v["dst_cpu_s"] for v in ok
            if v.get("src_cpu_s") is not None and
            v.get("dst_cpu_s") is not None]
    return dict(completed=len(ok), bulk_mbps=med([v.get("bulk_mbps")
                                                  for v in ok]),
                job_mbps=med([v.get("job_mbps") for v in ok]),
                ratio_vs_iperf3=med(ratios), src_cpu_s=src, dst_cpu_s=dst,
                cpu_s_per_gib=bl.rnd(bl.median(both) / gib) if both
                else None,
                src_cpu_s_per_gib=bl.rnd(src / gib) if src else None,
                dst_cpu_s_per_gib=bl.rnd(dst / gib) if dst else None,
                bulk_ms=med([v.get("bulk_ms") for v in ok]),
                time_ms=med([v.get("time_ms") for v in ok]),
                wire_bytes=med([v.get("bytes_sent") for v in ok]),
                compress_bytes_in=med([v.get("compress_bytes_in")
                                       for v in ok]),
                compress_bytes_out=med([v.get("compress_bytes_out")
                                        for v in ok]))


def main():
    args = bl.parse_args(__doc__, options)
    size = bl.size_arg(args.size or ("128M" if args.quick else "1G"))
    runs = args.runs or (2 if args.quick else 5)
    names = [n for n in args.rows.split(",") if n]
    if size % 4096 or size <= 0 or runs < 1:
        bl.die("--size must be a positive multiple of 4096, --runs >= 1")
    if not names or any(n not in ROWS for n in names):
        bl.die(f"--rows: a comma-separated list of {', '.join(ROWS)}")
    verify = not args.no_verify
    load0 = bl.loadavg()
    zfill = " (paced rows: compressible)" if any(
        ROWS[n]["paced"] for n in names) else ""
    bl.note(f"throughput: {size >> 20} MiB of random data{zfill}, {runs} "
            f"runs of {', '.join(names)} and iperf3, load {load0}")
    certdir = None
    if any(n in TLS_ENGINES for n in names):
        certdir = tempfile.mkdtemp(prefix="vmig-bench-tls-")
        tls = tls_config(certdir)
        for n, engine in TLS_ENGINES.items():
            ROWS[n]["config"] += f"tls_engine = {engine}\n" + tls
    paced = [n for n in names if ROWS[n]["paced"]]
    net = paced_net() if paced else None
    smems = {f: bl.memfile(f"tp-src-{f}", size, f)
             for f in sorted({ROWS[n]["fill"] for n in names})}
    rows = []
    # one pair of daemons per distinct config, all up for the whole run
    configs = sorted({(ROWS[n]["config"], ROWS[n]["paced"])
                      for n in names})
    pairs = {}
    try:
        for c, on_net in configs:
            pairs[c] = bl.Pair(npfs=1, vfs=runs * len(names), config=c,
                               sides=paced_sides(net) if on_net else None)
        order0 = ["iperf3"] + (["iperf3_paced"] if net else []) + names
        for i in range(runs):
            k = i % len(order0)
            order = order0[k:] + order0[:k]
            r = {"run": i + 1, "first": order[0]}
            for what in order:
                if what == "iperf3":
                    r["iperf3"] = run_iperf(size)
                    continue
                if what == "iperf3_paced":
                    r["iperf3_paced"] = run_iperf(size, net)
                    continue
                row = ROWS[what]
                pair = pairs[row["config"]]
                vf = i * len(names) + names.index(what) + 1
                r[what] = run_vmigd(pair, vf, size, smems[row["fill"]],
                                    verify, row["dst"])
            ip = r["iperf3"]
            for n in names:
                v, ref = r[n], r[ref_of(n)]
                r[n]["ratio"] = bl.rnd(v["bulk_mbps"] / ref["mbps"]) \
                    if v.get("bulk_mbps") and ref.get("ok") else None
            bl.note(f"run {i + 1}: iperf3 {ip.get('mbps')} Mbit/s; " +
                    "; ".join(f"{n} bulk {r[n].get('bulk_mbps')} "
                              f"(ratio {r[n]['ratio']}, cpu "
                              f"{r[n].get('src_cpu_s')}+"
                              f"{r[n].get('dst_cpu_s')} s)"
                              for n in names))
            rows.append(r)
            if not all(p.alive() for p in pairs.values()):
                bl.note("a daemon died: stopping")
                break
    finally:
        problems = []
        for p in pairs.values():
            p.close()
            problems += p.problems
        if net is not None:
            net.cleanup()
    for f in smems.values():
        bl.unlink(f)
    if certdir is not None:
        shutil.rmtree(certdir, ignore_errors=True)
    load1 = bl.loadavg()

    summary = {n: summarize(n, rows, size) for n in names}
    ip = med([r["iperf3"].get("mbps") for r in rows])
    ipc = med([(r["iperf3"].get("client_cpu_s") or 0) for r in rows
               if r["iperf3"].get("ok")])
    ips = med([(r["iperf3"].get("server_cpu_s") or 0) for r in rows
               if r["iperf3"].get("ok")])
    gib = size / GiB
    head = summary.get("warm") or summary[names[0]]
    def vs_warm(n):
        return [r[n]["bulk_mbps"] / r["warm"]["bulk_mbps"]
                for r in rows if r.get(n, {}).get("bulk_mbps") and
                r.get("warm", {}).get("bulk_mbps")]
    tls_ratios = vs_warm("tls")
    mbed_ratios = vs_warm("tls-mbedtls")
    ipp = med([r.get("iperf3_paced", {}).get("mbps") for r in rows])
    speedups = [r["paced_z"]["bulk_mbps"] / r["paced"]["bulk_mbps"]
                for r in rows if r.get("paced_z", {}).get("bulk_mbps") and
                r.get("paced", {}).get("bulk_mbps")]

    result = dict(
        benchmark="throughput", bytes=size, runs=len(rows), verify=verify,
        rows=names,
        rate_definition="bulk: memory_processed / (PRECOPY start -> first "
        "decision: bulk copy acknowledged); job: memory_processed / whole "
        "job time; Mbit/s = 1e6 bit/s",
        ratio_vs_iperf3=head["ratio_vs_iperf3"],
        ratio_cold_vs_iperf3=summary.get("cold", {}).get("ratio_vs_iperf3"),
        cpu_s_per_gib=head["cpu_s_per_gib"],
        connections=DEFAULT_CONNECTIONS, tls_ratio_vs_plain=med(tls_ratios)
        if tls_ratios else None, tls_mbedtls_ratio_vs_plain=med(
            mbed_ratios) if mbed_ratios else None,
        vmigd_mbps=head["bulk_mbps"], iperf3_mbps=ip,
        paced_rate=PACED_RATE if net else None,
        iperf3_paced_mbps=ipp if net else None,
        paced_speedup=med(speedups) if speedups else None,
        iperf3_cpu_s_per_gib=bl.rnd(((ipc or 0) + (ips or 0)) / gib),
        iperf3_client_cpu_s=ipc, iperf3_server_cpu_s=ips,
        summary=summary,
        loadavg_start=load0, loadavg_end=load1, machine=bl.machine(),
        problems=problems, runs_detail=rows)

    lines = [f"throughput: one migration of {size >> 20} MiB (random"
             f"{zfill}, idle VF, bulk copy{', verify' if verify else ''}) "
             f"vs iperf3 -n {size} on the same loopback"
             f"{' (paced rows: across the shaped link)' if net else ''}"]
    trows = []
    for r in rows:
        i = r["iperf3"]
        trows.append([r["run"], "iperf3", None, i.get("mbps"), None, None,
                      bl.rnd((i.get("client_cpu_s") or 0) +
                             (i.get("server_cpu_s") or 0)) if i.get("ok")
                      else None, None])
        for n in names:
            v = r[n]
            trows.append([r["run"], n, v.get("phase"), v.get("bulk_mbps"),
                          v.get("job_mbps"), v.get("src_cpu_s"),
                          v.get("dst_cpu_s"), v.get("ratio")])
    lines += bl.table(["run", "row", "vmigd", "bulk Mbit/s", "job Mbit/s",
                       "src cpu s", "dst cpu s", "ratio"], trows)
    srows = [["iperf3", ip, None, None,
              result["iperf3_cpu_s_per_gib"], None]]
    for n in names:
        m = summary[n]
        srows.append([n, m["bulk_mbps"], m["job_mbps"],
                      m["ratio_vs_iperf3"], m["cpu_s_per_gib"],
                      f"{m['completed']}/{len(rows)}"])
    lines += ["", "medians:", *bl.table(
        ["row", "bulk Mbit/s", "job Mbit/s", "ratio vs iperf3",
         "CPU s/GiB (both)", "completed"], srows),
        f"load average {load0} -> {load1}"]
    if tls_ratios:
        lines.append(f"tls vs warm (plain), median of per-run ratios: "
                     f"{result['tls_ratio_vs_plain']}")
    if mbed_ratios:
        lines.append(f"tls-mbedtls vs warm (plain), median of per-run "
                     f"ratios: {result['tls_mbedtls_ratio_vs_plain']}")
    if net:
        prow = []
        for n in paced:
            m = summary[n]
            prow.append([n, m["bulk_ms"], m["bulk_mbps"],
                         bl.rnd((m["wire_bytes"] or 0) / MiB, 1),
                         bl.rnd((m["compress_bytes_in"] or 0) / MiB, 1),
                         bl.rnd((m["compress_bytes_out"] or 0) / MiB, 1),
                         m["src_cpu_s_per_gib"], m["dst_cpu_s_per_gib"],
                         m["ratio_vs_iperf3"]])
        lines += ["", f"paced link ({PACED_RATE}, tbf, veth between two "
                  f"namespaces; iperf3 across it {ipp} Mbit/s), medians:",
                  *bl.table(["row", "bulk ms", "bulk Mbit/s",
                             "wire MiB", "compressed MiB in", "out",
                             "src CPU s/GiB", "dst CPU s/GiB",
                             "ratio vs iperf3"], prow)]
        if speedups:
            lines.append(f"paced_z vs paced, median of per-run bulk "
                         f"ratios: {result['paced_speedup']}")
    for p in problems:
        lines.append(f"problem: {p}")
    bl.emit(args, result, lines)
    return 0 if rows and all(summary[n]["completed"] == len(rows)
                             for n in names) else 1


if __name__ == "__main__":
    sys.exit(main())
