// One RED dashboard per service (rendered once per catalog service): rate, errors and duration of
// its inbound HTTP requests, then the client metrics of the dependencies it calls.
local g = import 'g.libsonnet';
local p = g.panel;
local q = g.query;
local size = g.grid.size;

function(service)
  local svc = g.inputs.catalog.services[service];
  local has(set) = std.member(svc.metric_sets, set);
  local sel = 'job="%s",instance=~"$instance"' % service;
  local http = 'http_server_request_duration_seconds';
  local requests(extra='', by=[]) = q.rate(http + '_count', q.selector([sel, extra]), by);
  local errors5xx = 'http_response_status_code=~"5.."';
  local depErrorRatio = [p.threshold(g.inputs.alert('DependencyErrorRateHigh').ratio)];
  local poolRatio = [p.threshold(g.inputs.alert('PostgresConnectionSaturation').ratio)];
  local clientFailed = 'http_response_status_code=~"5..|0"';
  // The error budgets of this service's availability SLOs: the error ratio they allow.
  local budgets = std.set([
    s.error_budget
    for s in g.inputs.slos.list
    if s.service == service && s.latency_threshold_seconds == null
  ]);
  local budgetLines = [p.threshold(b, 'orange') for b in budgets];

  local red = g.grid.section('Requests (RED)', [
    p.stat('Requests per second', 'Inbound HTTP requests per second, all routes.', 'reqps', [q.instant(requests())])
    + size(6, 5),
    p.stat(
      'Error ratio (5xx)',
      "Share of inbound requests answered with a 5xx status. 4xx answers (declines, validation) are not errors. Coloured above the error budget of the service's availability SLOs.",
      'percentunit',
      [q.instant(q.ratio(requests(errors5xx), requests()))],
      thresholds=budgetLines,
    ) + size(6, 5),
    p.stat(
      'p99 latency',
      '99th percentile of inbound request duration, all routes.',
      's',
      [q.instant(q.quantile('0.99', http, sel))],
    ) + size(6, 5),
    p.stat(
      'Requests in flight',
      'Inbound HTTP requests being served right now, summed over workers.',
      'short',
      [q.instant('sum(http_server_active_requests{%s})' % sel)],
    ) + size(6, 5),
    p.timeSeries(
      'Request rate by route',
      'Inbound requests per second by route template and method.',
      'reqps',
      [q.target(requests(by=['http_request_method', 'http_route']), '{{http_request_method}} {{http_route}}')],
    ) + size(12),
    p.timeSeries(
      'Error ratio by route',
      "Share of requests answered with 5xx, per route. Orange lines: the error budgets (1 - objective) of the service's availability SLOs.",
      'percentunit',
      [q.target(q.ratio(requests(errors5xx, ['http_route']), requests(by=['http_route'])), '{{http_route}}')],
      thresholds=budgetLines,
      min=0,
    ) + size(12),
    p.timeSeries(
      'Responses by status code',
      'Inbound responses per second by HTTP status code.',
      'reqps',
      [q.target(requests(by=['http_response_status_code']), '{{http_response_status_code}}')],
      stacked=true,
    ) + size(12),
    p.timeSeries(
      'Request duration',
      'p50, p95 and p99 of inbound request duration, all routes; exemplars link to traces.',
      's',
      q.percentiles(http, sel),
    ) + size(12),
    p.timeSeries(
      'p99 duration by route',
      '99th percentile of inbound request duration per route.',
      's',
      [q.target(q.quantile('0.99', http, sel, ['http_route']), '{{http_route}}', g.inputs.exemplars(http))],
    ) + size(12),
    p.heatmap(
      'Request duration distribution',
      'Inbound requests per duration bucket over time.',
      's',
      [q.heatmapBuckets(http, sel)],
    ) + size(12),
  ]);

  local httpClient = 'http_client_request_duration_seconds';
  local calls(extra='', by=[]) = q.rate(httpClient + '_count', q.selector([sel, extra]), by);
  local httpDeps = if has('http_client') then [g.grid.section('Calls to other services', [
    p.timeSeries(
      'Outbound calls by dependency',
      'Calls per second to each internal service (server_address is the callee).',
      'reqps',
      [q.target(calls(by=['server_address']), '{{server_address}}')],
    ) + size(8),
    p.timeSeries(
      'Outbound failure ratio by dependency',
      'Share of calls answered with 5xx or with no answer at all (status 0: timeout, refused). The red line is the DependencyErrorRateHigh threshold.',
      'percentunit',
      [q.target(q.ratio(calls(clientFailed, ['server_address']), calls(by=['server_address'])), '{{server_address}}')],
      thresholds=depErrorRatio,
      min=0,
    ) + size(8),
    p.timeSeries(
      'Outbound p99 by dependency',
      '99th percentile of call duration per callee, including retries inside the deadline.',
      's',
      [q.target(q.quantile('0.99', httpClient, sel, ['server_address']), '{{server_address}}', g.inputs.exemplars(httpClient))],
    ) + size(8),
  ])] else [];

  local dbPanels = if has('db_client') then [
    p.timeSeries(
      'PostgreSQL pool usage',
      'Used connections divided by the pool maximum. The red line is the PostgresConnectionSaturation threshold.',
      'percentunit',
      [q.target(
        'sum(db_client_connections_usage{%s,state="used"})\n/\nsum(db_client_connections_max{%s})' % [sel, sel],
        'used / max'
      )],
      thresholds=poolRatio,
      min=0,
      max=1,
    ) + size(8),
    p.timeSeries(
      'PostgreSQL p99 by operation',
      '99th percentile of PostgreSQL transaction duration per logical operation.',
      's',
      [q.target(q.quantile('0.99', 'db_client_operation_duration_seconds', sel, ['db_operation_name']), '{{db_operation_name}}')],
    ) + size(8),
  ] else [];
  local redisPanels = if has('redis_client') then [
    p.timeSeries(
      'Redis p99 by operation',
      '99th percentile of Redis operation duration per logical operation.',
      's',
      [q.target(q.quantile('0.99', 'redis_client_operation_duration_seconds', sel, ['db_operation_name']), '{{db_operation_name}}')],
    ) + size(8),
    p.timeSeries(
      'Redis errors',
      'Redis operations per second that failed (connection refused, timeout).',
      'ops',
      [q.target(q.rate('redis_client_errors_total', sel, ['db_operation_name']), '{{db_operation_name}}')],
    ) + size(8),
  ] else [];
  local storeDeps = if std.length(dbPanels + redisPanels) > 0 then
    [g.grid.section('Datastores', dbPanels + redisPanels)] else [];

  g.dashboard.new(
    g.uids.serviceRed(service),
    'Service: %s' % service,
    'Rate, errors and duration of the %s service (%s), and the client side of its dependencies.' % [service, svc.description],
    ['red', service],
    [g.variable.datasource, g.variable.instance('job="%s"' % service)],
    [red] + httpDeps + storeDeps,
  )
