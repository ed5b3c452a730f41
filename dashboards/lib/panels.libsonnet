// Panels. Every constructor takes a title, a description and a unit, because the linter requires
// all three; targets get refIds A, B, C... in order. Thresholds are passed in from inputs, never
// written as literals in a dashboard source.
local datasource = { type: 'prometheus', uid: '${datasource}' };
local refIds = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

local thresholdSteps(thresholds, baseColor) = {
  mode: 'absolute',
  steps: [{ color: baseColor, value: null }] + [
    { color: t.color, value: t.value }
    for t in thresholds
  ],
};

local base(type, title, description, unit, targets, thresholds, baseColor='green') = {
  type: type,
  title: title,
  description: description,
  datasource: datasource,
  targets: [targets[i] { refId: refIds[i] } for i in std.range(0, std.length(targets) - 1)],
  fieldConfig: {
    defaults: {
      unit: unit,
      thresholds: thresholdSteps(thresholds, baseColor),
    },
    overrides: [],
  },
};

local reduceOptions = { calcs: ['lastNotNull'], fields: '', values: false };

{
  // A threshold line or colour step: `value` comes from inputs (service-alerts.yaml or the SLO list).
  threshold(value, color='red'):: { value: value, color: color },

  timeSeries(title, description, unit, targets, thresholds=[], stacked=false, min=null, max=null)::
    base('timeseries', title, description, unit, targets, thresholds) {
      fieldConfig+: {
        defaults+: {
          [if min != null then 'min']: min,
          [if max != null then 'max']: max,
          custom: {
            drawStyle: 'line',
            lineWidth: 1,
            fillOpacity: if stacked then 30 else 10,
            showPoints: 'never',
            spanNulls: false,
            stacking: { mode: if stacked then 'normal' else 'none', group: 'A' },
            thresholdsStyle: { mode: if std.length(thresholds) > 0 then 'line' else 'off' },
          },
        },
      },
      options: {
        legend: { displayMode: 'list', placement: 'bottom', showLegend: true, calcs: [] },
        tooltip: { mode: 'multi', sort: 'desc' },
      },
    },

  stat(title, description, unit, targets, thresholds=[], mappings=[], baseColor='green')::
    base('stat', title, description, unit, targets, thresholds, baseColor) {
      fieldConfig+: { defaults+: { mappings: mappings } },
      options: {
        reduceOptions: reduceOptions,
        colorMode: if std.length(thresholds) > 0 then 'background' else 'value',
        graphMode: 'area',
        justifyMode: 'auto',
        orientation: 'auto',
        textMode: 'auto',
      },
    },

  // `baseColor` colours values below the first threshold (red when low is bad, as for budgets).
  gauge(title, description, unit, targets, thresholds=[], min=0, max=1, baseColor='green')::
    base('gauge', title, description, unit, targets, thresholds, baseColor) {
      fieldConfig+: { defaults+: { min: min, max: max } },
      options: {
        reduceOptions: reduceOptions,
        orientation: 'auto',
        showThresholdLabels: false,
        showThresholdMarkers: true,
      },
    },

  barGauge(title, description, unit, targets, thresholds=[], min=null, max=null)::
    base('bargauge', title, description, unit, targets, thresholds) {
      fieldConfig+: {
        defaults+: {
          [if min != null then 'min']: min,
          [if max != null then 'max']: max,
        },
      },
      options: {
        reduceOptions: reduceOptions,
        orientation: 'horizontal',
        displayMode: 'gradient',
        showUnfilled: true,
      },
    },

  // Histogram buckets over time; `unit` is the bucket boundaries' unit (the y axis).
  heatmap(title, description, unit, targets)::
    base('heatmap', title, description, unit, targets, []) {
      options: {
        calculate: false,
        cellGap: 1,
        color: { mode: 'scheme', scheme: 'Oranges', steps: 64, exponent: 0.5, fill: 'dark-orange', reverse: false },
        exemplars: { color: 'rgba(255,0,255,0.7)' },
        filterValues: { le: 1e-9 },
        legend: { show: true },
        rowsFrame: { layout: 'auto' },
        tooltip: { show: true, yHistogram: false },
        yAxis: { axisPlacement: 'left', unit: unit, reverse: false },
      },
    },

  // Instant queries joined into one row per label set (Grafana's "merge" transformation).
  // `renames` maps Grafana's column names (`Value #A`...) to headers; `units` sets a column's unit.
  table(title, description, unit, targets, thresholds=[], hide=['Time'], renames={}, units={})::
    base('table', title, description, unit, targets, thresholds) {
      fieldConfig+: {
        overrides: [
          { matcher: { id: 'byName', options: column }, properties: [{ id: 'unit', value: units[column] }] }
          for column in std.objectFields(units)
        ],
      },
      options: { showHeader: true, cellHeight: 'sm', footer: { show: false, reducer: ['sum'], fields: '' } },
      transformations: [
        { id: 'merge', options: {} },
        { id: 'organize', options: { excludeByName: { [h]: true for h in hide }, renameByName: renames } },
      ],
    },

  // Value-to-text mappings for state gauges (for example the circuit breaker's 0/1/2).
  valueMapping(texts):: [{
    type: 'value',
    options: {
      [std.toString(t.value)]: { text: t.text, color: t.color, index: i }
      for i in std.range(0, std.length(texts) - 1)
      for t in [texts[i]]
    },
  }],
}
