#!/usr/bin/python3
"""test_metrics: Prometheus metrics scraped from two real daemons during
real migrations between simulated PFs, every page parsed with Debian's
python3-prometheus-client text parser (the one Prometheus' Python
tooling uses).

- during a migration: the job is in vmigd_jobs and in the per-job gauges
  on both sides;
- after it: one completed migration per side, its downtime in the
  histogram (the job's own figure), the stream byte counters equal to
  the jobs' bytes, device commands per PF, RPC calls by method/status;
- a cancel: both sides count it cancelled/requested, in the duration
  histogram and not in the downtime one;
- metrics are off unless metrics_listen is set.
"""

import os
import sys
import unittest
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from prometheus_client.parser import text_string_to_metric_families  # noqa

import vmigtest  # noqa: E402
from test_migration_lib import (MigrationCase, LIVENESS_S, MEM,  # noqa: E402
                                DEVICE, phase_name)
import vmig  # noqa: E402
from vmig import pb  # noqa: E402

METRICS = "[daemon]\nmetrics_listen = 127.0.0.1:0\n"


class Scrape:
    """One page, parsed: samples by name and labels."""

    def __init__(self, url):
        with urllib.request.urlopen(url, timeout=LIVENESS_S) as r:
            self.content_type = r.headers["Content-Type"]
            self.text = r.read().decode()
        self.families = {f.name: f for f in
                         text_string_to_metric_families(self.text)}
        self.samples = {}
        for f in self.families.values():
            for s in f.samples:
                self.samples[(s.name, frozenset(s.labels.items()))] = s.value

    def get(self, name, **labels):
        """The value of one series; None if the page lacks it."""
        return self.samples.get((name, frozenset(labels.items())))

    def sum(self, name, **labels):
        """The sum of the series of name whose labels include labels."""
        want = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items()
                   if n == name and want <= set(ls))


def scrape_until(host, pred, what):
    """Scrape host until pred(scrape) is true; the last scrape."""
    url = host.daemon.metrics_url()
    last = []

    def ok():
        s = Scrape(url)
        last[:] = [s]
        return pred(s)
    try:
        vmigtest.wait_for(ok, what, interval=0.1)
    except TimeoutError:
        raise AssertionError(f"{what}; last page:\n{last[0].text}")
    return last[0]


class Metrics(MigrationCase):
    VFS = 1
    SRC_CONFIG = METRICS
    DST_CONFIG = METRICS

    def test_scrape_during_and_after_a_migration(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        job = f"{jid}"

        src = scrape_until(
            self.src, lambda s: s.get("vmigd_job_memory_processed_bytes",
                                      job=job, device=DEVICE % 1,
                                      direction="outgoing"),
            "the running job's bytes in the source's page")
        self.assertEqual(src.content_type,
                         "text/plain; version=0.0.4; charset=utf-8")
        self.assertEqual(src.families["vmigd_jobs"].type, "gauge")
        self.assertEqual(src.sum("vmigd_jobs", direction="outgoing"), 1)
        self.assertEqual(src.get("vmigd_job_memory_total_bytes", job=job,
                                 device=DEVICE % 1, direction="outgoing"),
                         MEM)
        self.assertEqual(src.get("vmigd_job_info", job=job,
                                 device=DEVICE % 1, direction="outgoing",
                                 phase="precopy", vm="vm1"), 1)
        self.assertEqual(src.get("vmigd_pf_up", pf="sim0",
                                 backend="virtio-admin"), 1)
        dst = scrape_until(
            self.dst, lambda s: s.sum("vmigd_jobs", direction="incoming"),
            "the incoming job in the destination's page")
        self.assertEqual(dst.sum("vmigd_jobs", direction="incoming"), 1)

        # let it finish
        self.src.client.set_job_policy(jid, bandwidth_limit_bps=1 << 40)
        sjob, djob = self.assert_completed(1, jid, prep)

        src = scrape_until(
            self.src, lambda s: s.get(
                "vmigd_migrations_total", direction="outgoing",
                result="completed", reason="none") == 1,
            "the completed migration counted on the source")
        self.assertEqual(src.sum("vmigd_jobs"), 0)
        self.assertIsNone(src.get("vmigd_job_memory_total_bytes", job=job,
                                  device=DEVICE % 1, direction="outgoing"))
        self.assertEqual(src.families["vmigd_migration_downtime_seconds"]
                         .type, "histogram")
        self.assertEqual(src.get("vmigd_migration_downtime_seconds_count",
                                 direction="outgoing"), 1)
        self.assertAlmostEqual(
            src.get("vmigd_migration_downtime_seconds_sum",
                    direction="outgoing"), sjob.stats.downtime_ms / 1000)
        self.assertEqual(src.get("vmigd_migration_duration_seconds_count",
                                 direction="outgoing", result="completed"),
                         1)
        self.assertEqual(src.get("vmigd_stream_sent_bytes_total"),
                         sjob.stats.bytes_sent)
        self.assertEqual(src.sum("vmigd_migrations_total",
                                 result="failed"), 0)
        self.assertEqual(src.get("vmigd_rpc_requests_total",
                                 method="StartMigration", status="OK"), 1)
        cmds = src.sum("vmigd_device_commands_total", pf="sim0")
        self.assertGreater(cmds, 0)
        self.assertEqual(src.sum("vmigd_device_command_duration_seconds_count",
                                 pf="sim0"), cmds)
        self.assertEqual(src.sum("vmigd_device_command_errors_total"), 0)

        dst = scrape_until(
            self.dst, lambda s: s.get(
                "vmigd_migrations_total", direction="incoming",
                result="completed", reason="none") == 1,
            "the completed migration counted on the destination")
        self.assertEqual(dst.get("vmigd_stream_received_bytes_total"),
                         djob.stats.bytes_sent)
        self.assertEqual(dst.get("vmigd_migration_downtime_seconds_count",
                                 direction="incoming"), 1)
        self.assertEqual(dst.get("vmigd_rpc_requests_total",
                                 method="PrepareIncoming", status="OK"), 1)

        # an error answer, by method and status
        with self.assertRaises(vmig.NotFound):
            self.src.client.get_job(9999)
        scrape_until(self.src, lambda s: s.get(
            "vmigd_rpc_requests_total", method="GetJob",
            status="NOT_FOUND") == 1, "GetJob NOT_FOUND counted")

    def test_cancel_counts_a_reason_on_each_side(self):
        self.pair(1, "hot")
        jid, prep = self.start_slow_migration(1)
        self.src.client.cancel_job(jid, "operator said so")
        sjob = self.src.client.wait_job(jid, timeout=LIVENESS_S)
        self.assertEqual(sjob.phase, pb.PHASE_CANCELLED,
                         phase_name(sjob.phase))
        djob = self.assert_dest_rolled_back(1, prep.job_id)
        scrape_until(self.src, lambda s: s.get(
            "vmigd_migrations_total", direction="outgoing",
            result="cancelled", reason="requested") == 1,
            "the cancel counted on the source")
        # the source's cancel reaches the destination as a cancel too
        self.assertEqual(djob.phase, pb.PHASE_CANCELLED, djob.error)
        dst = scrape_until(self.dst, lambda s: s.sum(
            "vmigd_migrations_total", direction="incoming",
            result="cancelled") == 1, "the cancel counted on the destination")
        self.assertEqual(dst.get("vmigd_migrations_total",
                                 direction="incoming", result="cancelled",
                                 reason="requested"), 1, djob.error)
        self.assertEqual(dst.get("vmigd_migration_duration_seconds_count",
                                 direction="incoming", result="cancelled"), 1)
        self.assertEqual(dst.sum("vmigd_migration_downtime_seconds_count"),
                         0)

class MetricsOff(MigrationCase):
    VFS = 1

    def test_off_by_default(self):
        self.assertNotIn("metrics:", self.src.daemon.log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
