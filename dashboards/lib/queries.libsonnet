// Prometheus targets and the PromQL shapes the dashboards repeat. Every range uses
// $__rate_interval (Grafana's scrape-aware window) and every counter is read through rate/increase.
local inputs = import 'inputs.libsonnet';
local datasource = { type: 'prometheus', uid: '${datasource}' };
local join(parts) =
  if std.length(parts) == 2 then (if parts[1] == '' then parts[0] else if parts[0] == '' then parts[1] else parts[0] + ',' + parts[1])
  else std.join(',', [p for p in parts if p != '']);
{
  datasource: datasource,

  // A range query. `exemplar` asks Grafana to fetch exemplars (trace links) with the series.
  target(expr, legend='__auto', exemplar=false):: {
    datasource: datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    range: true,
    exemplar: exemplar,
  },
  // A query for stat, gauge, bar gauge and table panels: only the latest value.
  instant(expr, legend='__auto'):: {
    datasource: datasource,
    editorMode: 'code',
    expr: expr,
    legendFormat: legend,
    instant: true,
    range: false,
    format: 'table',
  },
  // Heatmap buckets: one series per `le`, counted per interval.
  heatmapBuckets(histogram, selector=''):: {
    datasource: datasource,
    editorMode: 'code',
    expr: 'sum by (le) (increase(' + histogram + '_bucket{' + selector + '}[$__rate_interval]))',
    legendFormat: '{{le}}',
    range: true,
    format: 'heatmap',
    exemplar: inputs.exemplars(histogram),
  },

  // PromQL builders (strings). Plain concatenation: jsonnet's `%` formatting is implemented in
  // the standard library and costs milliseconds per call, which adds up over hundreds of queries.
  rate(metric, selector='', by=[]):: (
    if std.length(by) > 0 then 'sum by (' + std.join(', ', by) + ') ' else 'sum'
  ) + '(rate(' + metric + '{' + selector + '}[$__rate_interval]))',
  ratio(numerator, denominator):: '(' + numerator + ')\n/\n(' + denominator + ')',
  quantile(q, histogram, selector='', by=[])::
    'histogram_quantile(' + q + ', sum by (' + std.join(', ', ['le'] + by) + ') (rate('
    + histogram + '_bucket{' + selector + '}[$__rate_interval])))',
  // p50/p95/p99 targets of a histogram, exemplars on when the catalog says the metric has them.
  percentiles(histogram, selector='', by=[], legendPrefix=''):: [
    $.target(
      $.quantile(q[0], histogram, selector, by),
      legendPrefix + q[1],
      exemplar=inputs.exemplars(histogram)
    )
    for q in [['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']]
  ],
  selector(parts):: join(parts),
}
