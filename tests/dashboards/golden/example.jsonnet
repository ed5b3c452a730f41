// A small dashboard that exercises the library: its rendering is compared with
// example.golden.json by tests/dashboards/test_library.py (inputs: example-inputs.json).
local g = import 'g.libsonnet';
local p = g.panel;
local q = g.query;

g.dashboard.new(
  g.uids.example,
  'Library example',
  'Two sections laid out by the grid helper.',
  ['example'],
  [g.variable.datasource, g.variable.job()],
  [
    g.grid.section('Traffic', [
      p.stat('Requests per second', 'All requests.', 'reqps', [q.instant(q.rate('demo_requests_total', 'job=~"$job"'))])
      + g.grid.size(12, 4),
      p.timeSeries(
        'Latency',
        'p50, p95 and p99; the line is the demo threshold.',
        's',
        q.percentiles('demo_duration_seconds', 'job=~"$job"'),
        thresholds=[p.threshold(g.inputs.alert('DemoLatencyHigh').p99_seconds)],
      ) + g.grid.size(16),
      p.heatmap('Latency buckets', 'Requests per bucket.', 's', [q.heatmapBuckets('demo_duration_seconds')])
      + g.grid.size(16),
    ]),
    g.grid.section('Details', [
      p.table('By job', 'Requests per second per job.', 'reqps', [q.instant(q.rate('demo_requests_total', '', ['job']))]),
    ]),
  ],
)
