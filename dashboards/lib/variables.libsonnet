// Template variables. Every panel's datasource is ${datasource}, so the same dashboard works on any
// Prometheus-compatible datasource (the dashboard-linter's template-datasource rule).
local datasource = { type: 'prometheus', uid: '${datasource}' };
{
  datasource: {
    type: 'datasource',
    name: 'datasource',
    label: 'Data source',
    query: 'prometheus',
    hide: 0,
    refresh: 1,
    regex: '',
    skipUrlSync: false,
    current: { selected: false, text: 'default', value: 'default' },
  },

  // A label_values() variable. `multi` variables get Grafana's "All" option matching any value.
  query(name, label, query, multi=true, description=''):: {
    type: 'query',
    name: name,
    label: label,
    description: description,
    datasource: datasource,
    query: query,
    refresh: 2,
    sort: 1,
    hide: 0,
    skipUrlSync: false,
    multi: multi,
    includeAll: multi,
    [if multi then 'allValue']: '.+',
    current: if multi then { selected: true, text: ['All'], value: ['$__all'] } else {},
    options: [],
    regex: '',
  },

  job(metric='up', multi=true):: $.query(
    'job', 'Job', 'label_values(%s, job)' % metric, multi, 'Scrape job (one per service).'
  ),
  instance(jobSelector='job=~"$job"'):: $.query(
    'instance', 'Instance', 'label_values(up{%s}, instance)' % jobSelector, true, 'Scrape target.'
  ),
  currency:: $.query(
    'currency', 'Currency', 'label_values(payments_total, currency)', true, 'ISO 4217 currency of the payment.'
  ),
  channel:: $.query(
    'channel', 'Channel', 'label_values(payments_total, channel)', true, 'Payment provider channel.'
  ),
}
