// Dependencies: PostgreSQL pools and query latency, Redis, Kafka (consumer lag, outbox backlog),
// circuit breakers and rate limiting, across every service that uses them.
local g = import 'g.libsonnet';
local p = g.panel;
local q = g.query;
local size = g.grid.size;
local alert = g.inputs.alert;

local sel = 'job=~"$job"';
local byJob(extra) = q.selector([sel, extra]);

g.dashboard.new(
  g.uids.dependencies,
  'Dependencies',
  'PostgreSQL connection pools and query latency, Redis, Kafka consumer lag and the payment outbox, circuit breakers, provider calls and rate limiting. Red lines are the alert thresholds from observability/service-alerts.yaml.',
  ['dependencies'],
  [g.variable.datasource, g.variable.job('up')],
  [
    g.grid.section('PostgreSQL', [
      p.timeSeries(
        'Connection pool saturation',
        'Used connections divided by the pool maximum, per service. The red line is the PostgresConnectionSaturation threshold.',
        'percentunit',
        [q.target(
          'sum by (job) (db_client_connections_usage{%s})\n/\nsum by (job) (db_client_connections_max{%s})' % [byJob('state="used"'), sel],
          '{{job}}'
        )],
        thresholds=[p.threshold(alert('PostgresConnectionSaturation').ratio)],
        min=0,
        max=1,
      ) + size(8),
      p.timeSeries(
        'Connections by state',
        'Pool connections per service and state (idle, used).',
        'short',
        [q.target('sum by (job, state) (db_client_connections_usage{%s})' % sel, '{{job}} {{state}}')],
      ) + size(8),
      p.timeSeries(
        'Query latency p99',
        '99th percentile of PostgreSQL transaction duration per service and logical operation.',
        's',
        [q.target(q.quantile('0.99', 'db_client_operation_duration_seconds', sel, ['job', 'db_operation_name']), '{{job}} {{db_operation_name}}')],
      ) + size(8),
      p.timeSeries(
        'Ledger operations',
        'Ledger debits and credits per second by result (applied, duplicate, insufficient_funds, error).',
        'ops',
        [q.target(q.rate('ledger_operations_total', 'job="account"', ['operation', 'result']), '{{operation}} {{result}}')],
        stacked=true,
      ) + size(12),
      p.heatmap(
        'Query latency distribution',
        'PostgreSQL transactions per duration bucket, all selected services.',
        's',
        [q.heatmapBuckets('db_client_operation_duration_seconds', sel)],
      ) + size(12),
    ]),
    g.grid.section('Redis', [
      p.timeSeries(
        'Redis latency p99',
        '99th percentile of Redis operation duration per service and operation.',
        's',
        [q.target(q.quantile('0.99', 'redis_client_operation_duration_seconds', sel, ['job', 'db_operation_name']), '{{job}} {{db_operation_name}}')],
      ) + size(8),
      p.timeSeries(
        'Redis errors',
        'Redis operations per second that failed, per service and operation.',
        'ops',
        [q.target(q.rate('redis_client_errors_total', sel, ['job', 'db_operation_name']), '{{job}} {{db_operation_name}}')],
      ) + size(8),
      p.timeSeries(
        'Idempotency store errors',
        'Idempotency store (Redis) failures per second in the payment service; each one refuses a payment with 503. The red line is the IdempotencyStoreUnreachable threshold.',
        'ops',
        [q.target(q.rate('payment_idempotency_store_errors_total', 'job="payment"'), 'errors')],
        thresholds=[p.threshold(alert('IdempotencyStoreUnreachable').errors_per_second)],
      ) + size(8),
    ]),
    g.grid.section('Kafka and the outbox', [
      p.timeSeries(
        'Consumer lag',
        'Records not yet consumed by the notification consumer group, per topic. The red line is the ConsumerLagHigh threshold.',
        'short',
        [q.target('max by (topic) (kafka_consumer_lag{job="notification"})', '{{topic}}')],
        thresholds=[p.threshold(alert('ConsumerLagHigh').records)],
        min=0,
      ) + size(8),
      p.timeSeries(
        'Outbox backlog',
        'Outbox events written with their payment but not yet published to Kafka. The red line is the OutboxBacklogGrowing threshold.',
        'short',
        [q.target('max(payment_outbox_backlog{job="payment"})', 'backlog')],
        thresholds=[p.threshold(alert('OutboxBacklogGrowing').events)],
        min=0,
      ) + size(8),
      p.timeSeries(
        'Outbox publishing',
        'Outbox events published per second by topic, and failed publish attempts per second.',
        'ops',
        [
          q.target(q.rate('payment_outbox_published_total', 'job="payment"', ['topic']), 'published {{topic}}'),
          q.target(q.rate('payment_outbox_publish_errors_total', 'job="payment"'), 'publish errors'),
        ],
      ) + size(8),
      p.timeSeries(
        'Notifications consumed',
        'Payment events consumed per second by event type and result (recorded, duplicate, error).',
        'ops',
        [q.target(q.rate('notifications_total', 'job="notification"', ['event_type', 'result']), '{{event_type}} {{result}}')],
        stacked=true,
      ) + size(12),
      p.timeSeries(
        'Notification delivery latency',
        "p50, p95 and p99 time from a payment event's creation to its notification being recorded.",
        's',
        q.percentiles('notification_delivery_latency_seconds', 'job="notification"'),
      ) + size(12),
    ]),
    g.grid.section('Circuit breakers and the provider', [
      p.stat(
        'Circuit breaker state',
        'State of each circuit breaker in the payment service: closed, open (calls fail fast) or half-open (probing).',
        'none',
        [q.instant('max by (dependency) (circuit_breaker_state{job="payment"})', '{{dependency}}')],
        thresholds=[p.threshold(1, 'red'), p.threshold(2, 'orange')],
        mappings=p.valueMapping([
          { value: 0, text: 'closed', color: 'green' },
          { value: 1, text: 'open', color: 'red' },
          { value: 2, text: 'half-open', color: 'orange' },
        ]),
      ) + size(8),
      p.timeSeries(
        'Provider call latency p99',
        "99th percentile of the payment service's calls to the channel (provider). The red line is the ChannelLatencyHigh threshold.",
        's',
        [q.target(
          q.quantile('0.99', 'http_client_request_duration_seconds', 'job="payment",server_address="channel"'),
          'p99',
          g.inputs.exemplars('http_client_request_duration_seconds')
        )],
        thresholds=[p.threshold(alert('ChannelLatencyHigh').p99_seconds)],
      ) + size(8),
      p.timeSeries(
        'Provider outcomes',
        'Provider charges and refunds per second by channel and outcome (approved, declined, error, timeout).',
        'ops',
        [q.target(q.rate('channel_requests_total', 'job="channel"', ['channel', 'outcome']), '{{channel}} {{outcome}}')],
        stacked=true,
      ) + size(8),
      p.timeSeries(
        'Dependency failure ratio',
        'Share of calls from each service to each dependency that failed (5xx or no answer). The red line is the DependencyErrorRateHigh threshold.',
        'percentunit',
        [q.target(
          q.ratio(
            q.rate('http_client_request_duration_seconds_count', byJob('http_response_status_code=~"5..|0"'), ['job', 'server_address']),
            q.rate('http_client_request_duration_seconds_count', sel, ['job', 'server_address'])
          ),
          '{{job}} → {{server_address}}'
        )],
        thresholds=[p.threshold(alert('DependencyErrorRateHigh').ratio)],
        min=0,
      ) + size(12),
      p.timeSeries(
        'Injected provider faults',
        'Faults switched on in the simulated provider (1 on, 0 off), by fault name.',
        'bool_on_off',
        [q.target('max by (fault) (channel_fault_active{job="channel"})', '{{fault}}')],
      ) + size(12),
    ]),
    g.grid.section('Rate limiting and authentication', [
      p.timeSeries(
        'Rate-limited share',
        'Share of gateway requests rejected with 429 because a merchant exceeded its limit. The red line is the RateLimitingSurge threshold.',
        'percentunit',
        [q.target(
          q.ratio(
            q.rate('gateway_rate_limited_requests_total', 'job="gateway"'),
            q.rate('http_server_request_duration_seconds_count', 'job="gateway"')
          ),
          '429 share'
        )],
        thresholds=[p.threshold(alert('RateLimitingSurge').ratio)],
        min=0,
      ) + size(12),
      p.timeSeries(
        'Authentication failures by reason',
        'Gateway requests per second rejected by authentication, by reason (missing_key, bad_key, bad_signature, stale_timestamp).',
        'reqps',
        [q.target(q.rate('gateway_auth_failures_total', 'job="gateway"', ['reason']), '{{reason}}')],
        stacked=true,
      ) + size(12),
    ]),
  ],
)
