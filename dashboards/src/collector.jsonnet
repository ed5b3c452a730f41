// The OpenTelemetry Collector's own health, from its internal telemetry (otelcol_* metrics):
// what it accepted, refused, exported and failed to export, its queues and its memory.
local g = import 'g.libsonnet';
local p = g.panel;
local q = g.query;
local size = g.grid.size;
local alert = g.inputs.alert;

local sel = 'job=~"$job",instance=~"$instance"';
local signal(kind, metric, label) = q.target(q.rate(metric, sel, [label]), kind + ' {{' + label + '}}');

g.dashboard.new(
  g.uids.collector,
  'OpenTelemetry Collector',
  "The collector's own health: data accepted and refused by receivers, sent and failed by exporters, exporter queues, and memory. Red lines are thresholds from observability/service-alerts.yaml.",
  ['collector', 'opentelemetry'],
  [
    g.variable.datasource,
    g.variable.job('otelcol_process_memory_rss_bytes'),
    g.variable.instance('job=~"$job"'),
  ],
  [
    g.grid.section('Receivers', [
      p.timeSeries(
        'Accepted',
        'Spans and log records per second accepted by each receiver and pushed into the pipeline.',
        'short',
        [
          signal('spans', 'otelcol_receiver_accepted_spans_total', 'receiver'),
          signal('logs', 'otelcol_receiver_accepted_log_records_total', 'receiver'),
        ],
      ) + size(12),
      p.timeSeries(
        'Refused',
        'Spans and log records per second refused by receivers, usually because the memory limiter is applying back-pressure. The red line is the CollectorRefusingData threshold.',
        'short',
        [
          signal('spans', 'otelcol_receiver_refused_spans_total', 'receiver'),
          signal('logs', 'otelcol_receiver_refused_log_records_total', 'receiver'),
        ],
        thresholds=[p.threshold(alert('CollectorRefusingData').per_second)],
      ) + size(12),
    ]),
    g.grid.section('Exporters', [
      p.timeSeries(
        'Sent',
        'Spans, log records and metric points per second sent by each exporter.',
        'short',
        [
          signal('spans', 'otelcol_exporter_sent_spans_total', 'exporter'),
          signal('logs', 'otelcol_exporter_sent_log_records_total', 'exporter'),
          signal('metric points', 'otelcol_exporter_sent_metric_points_total', 'exporter'),
        ],
      ) + size(8),
      p.timeSeries(
        'Failed to send',
        'Spans, log records and metric points per second that exporters failed to send after retries.',
        'short',
        [
          signal('spans', 'otelcol_exporter_send_failed_spans_total', 'exporter'),
          signal('logs', 'otelcol_exporter_send_failed_log_records_total', 'exporter'),
          signal('metric points', 'otelcol_exporter_send_failed_metric_points_total', 'exporter'),
        ],
      ) + size(8),
      p.timeSeries(
        'Span export failure ratio',
        'Share of spans each exporter failed to send. The red line is the CollectorExportFailures threshold.',
        'percentunit',
        [q.target(
          q.ratio(
            q.rate('otelcol_exporter_send_failed_spans_total', sel, ['exporter']),
            q.rate('otelcol_exporter_send_failed_spans_total', sel, ['exporter']) + '\n+\n' + q.rate('otelcol_exporter_sent_spans_total', sel, ['exporter'])
          ),
          '{{exporter}}'
        )],
        thresholds=[p.threshold(alert('CollectorExportFailures').ratio)],
        min=0,
      ) + size(8),
      p.timeSeries(
        'Exporter queue size',
        "Batches waiting in each exporter's sending queue, and the queue capacity; a full queue drops data.",
        'short',
        [
          q.target('max by (exporter) (otelcol_exporter_queue_size{%s})' % sel, 'size {{exporter}}'),
          q.target('max by (exporter) (otelcol_exporter_queue_capacity{%s})' % sel, 'capacity {{exporter}}'),
        ],
      ) + size(12),
      p.barGauge(
        'Exporter queue usage',
        'Queue size divided by capacity, per exporter.',
        'percentunit',
        [q.instant(
          'max by (exporter) (otelcol_exporter_queue_size{%s})\n/\nmax by (exporter) (otelcol_exporter_queue_capacity{%s})' % [sel, sel],
          '{{exporter}}'
        )],
        min=0,
        max=1,
      ) + size(12),
    ]),
    g.grid.section('Process and span metrics', [
      p.timeSeries(
        'Memory (RSS)',
        'Resident memory of each collector process.',
        'bytes',
        [q.target('max by (instance) (otelcol_process_memory_rss_bytes{%s})' % sel, '{{instance}}')],
      ) + size(12),
      p.timeSeries(
        'Span-derived calls per service',
        "Server spans per second per service, as the spanmetrics connector counts them (a cross-check of the services' own HTTP metrics).",
        'reqps',
        [q.target(q.rate('traces_span_metrics_calls_total', 'span_kind="SPAN_KIND_SERVER"', ['service_name']), '{{service_name}}')],
      ) + size(12),
    ]),
  ],
)
