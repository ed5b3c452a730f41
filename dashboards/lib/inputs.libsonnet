// The source of truth under observability/, passed in by obsctl as external variables so that no
// metric flag or threshold is typed twice: catalog.yaml, service-alerts.yaml and the SLO list; and
// Sloth's rule and label names, spelled once in obsctl/generate/conventions.py.
local catalog = std.extVar('catalog');
local metrics = std.foldl(
  function(acc, m) if std.objectHas(acc, m.name) then acc else acc { [m.name]: m },
  [
    m
    for s in std.objectFields(catalog.services)
    for m in std.flattenArrays(
      [catalog.metric_sets[set] for set in catalog.services[s].metric_sets]
    ) + catalog.services[s].metrics
  ] + [
    m
    for c in std.objectFields(catalog.external_components)
    for m in catalog.external_components[c].metrics
  ],
  {}
);
{
  catalog: catalog,
  thresholds: std.extVar('thresholds'),
  slos: std.extVar('slos'),
  generatedHeader: std.extVar('generatedHeader'),
  // labels.{id, service, slo, window, severity}, records.{objective, error_budget, ...}, and
  // sli_error[window]: the SLI recording of each window (5m ... 3d and every period).
  conventions: std.extVar('conventions'),

  // The catalog entry of a metric; evaluation fails when the metric is not declared.
  metric(name)::
    if std.objectHas(metrics, name) then metrics[name]
    else error 'metric %s is not in observability/catalog.yaml' % name,
  exemplars(name):: $.metric(name).exemplars,
  // Services that expose every one of the given metric sets.
  servicesWith(set):: [s for s in std.objectFields(catalog.services) if std.member(catalog.services[s].metric_sets, set)],
  // The thresholds of one alert; evaluation fails naming the entry when it is missing.
  alert(name)::
    if std.objectHas($.thresholds.alerts, name) then $.thresholds.alerts[name]
    else error 'observability/service-alerts.yaml: alerts.%s is missing (a dashboard draws its threshold)' % name,
}
