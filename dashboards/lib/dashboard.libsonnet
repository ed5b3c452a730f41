// A dashboard: uid (from uids.libsonnet), title, description, variables and laid-out sections.
// The description ends with obsctl's generated marker, a field Grafana keeps on import.
local grid = import 'grid.libsonnet';
local inputs = import 'inputs.libsonnet';
{
  new(uid, title, description, tags, variables, sections, time='now-6h'):: {
    uid: uid,
    title: title,
    description: description + ' ' + inputs.generatedHeader,
    tags: ['payment-platform', 'generated'] + tags,
    editable: false,
    graphTooltip: 1,
    timezone: 'utc',
    time: { from: time, to: 'now' },
    refresh: '30s',
    schemaVersion: 39,
    fiscalYearStartMonth: 0,
    liveNow: false,
    links: [{
      title: 'Payment platform',
      type: 'dashboards',
      tags: ['payment-platform'],
      asDropdown: true,
      includeVars: false,
      keepTime: true,
      icon: 'external link',
      targetBlank: false,
      tooltip: '',
      url: '',
    }],
    // Grafana adds its built-in "Annotations & Alerts" entry itself on load.
    annotations: { list: [] },
    templating: { list: variables },
    panels: grid.layout(sections),
  },
}
