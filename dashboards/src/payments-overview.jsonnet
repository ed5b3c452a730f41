// Payments overview: what merchants experience, from the payment service's business metrics.
local g = import 'g.libsonnet';
local p = g.panel;
local q = g.query;
local size = g.grid.size;

local paymentSlos = [s for s in g.inputs.slos.list if s.service == 'gateway' && s.name == 'payment-latency'];
local latencyThreshold = [p.threshold(s.latency_threshold_seconds) for s in paymentSlos];

local sel = 'job="payment",channel=~"$channel",currency=~"$currency"';
local failSel = 'job="payment",channel=~"$channel"';
local amountSel = 'job="payment",currency=~"$currency"';
local refundSel = 'job="payment",currency=~"$currency"';
local gatewaySel = 'job="gateway",http_route="/api/v1/payments",http_request_method="POST"';

local payments(extra='', by=[]) = q.rate('payments_total', q.selector([sel, extra]), by);

g.dashboard.new(
  g.uids.paymentsOverview,
  'Payments overview',
  'Payments per second, success rate, declines, latency, amounts, channels, currencies and refunds, from the payment service.',
  ['payments'],
  [g.variable.datasource, g.variable.channel, g.variable.currency],
  [
    g.grid.section('Throughput and success', [
      p.stat(
        'Payments per second',
        'Payments that reached a final state (succeeded or failed) per second.',
        'ops',
        [q.instant(payments())],
      ) + size(6, 5),
      p.stat(
        'Success rate',
        'Share of final payments that succeeded. Declines (risk, funds, provider) count as not succeeded.',
        'percentunit',
        [q.instant(q.ratio(payments('status="succeeded"'), payments()))],
      ) + size(6, 5),
      p.stat(
        'Failures per second',
        'Failed payments per second, all reasons.',
        'ops',
        [q.instant(q.rate('payment_failures_total', failSel))],
      ) + size(6, 5),
      p.stat(
        'Refunds per second',
        'Refund requests per second, all outcomes.',
        'ops',
        [q.instant(q.rate('refunds_total', refundSel))],
      ) + size(6, 5),
      p.timeSeries(
        'Payments per second by status',
        'Final payments per second by status.',
        'ops',
        [q.target(payments(by=['status']), '{{status}}')],
        stacked=true,
      ) + size(12),
      p.timeSeries(
        'Declines and failures by reason',
        "Failed payments per second by reason: risk_rejected, insufficient_funds and channel_declined are declines; channel_error, channel_timeout and dependency_unavailable are our or the provider's faults.",
        'ops',
        [q.target(q.rate('payment_failures_total', failSel, ['reason']), '{{reason}}')],
        stacked=true,
      ) + size(12),
    ]),
    g.grid.section('Latency', [
      p.timeSeries(
        'Payment processing latency',
        'p50, p95 and p99 of the time the payment service takes from request to final state; exemplars link to traces. The red line is the payment-latency SLO threshold.',
        's',
        q.percentiles('payment_duration_seconds', failSel),
        thresholds=latencyThreshold,
      ) + size(12),
      p.timeSeries(
        'Payment API latency at the gateway',
        'p50, p95 and p99 of POST /api/v1/payments as merchants see it (gateway); the red line is the payment-latency SLO threshold.',
        's',
        q.percentiles('http_server_request_duration_seconds', gatewaySel),
        thresholds=latencyThreshold,
      ) + size(12),
      p.heatmap(
        'Payment processing latency distribution',
        'Payments per latency bucket over time.',
        's',
        [q.heatmapBuckets('payment_duration_seconds', failSel)],
      ) + size(24),
    ]),
    g.grid.section('Amounts', [
      p.heatmap(
        'Amount distribution',
        'Final payments per amount bucket, in minor units of their currency (cents for USD).',
        'short',
        [q.heatmapBuckets('payment_amount_minor_units', amountSel)],
      ) + size(12),
      p.timeSeries(
        'Median and p95 amount by currency',
        'Estimated median and p95 payment amount per currency, in minor units (from histogram buckets).',
        'short',
        [
          q.target(q.quantile('0.5', 'payment_amount_minor_units', amountSel, ['currency']), 'p50 {{currency}}'),
          q.target(q.quantile('0.95', 'payment_amount_minor_units', amountSel, ['currency']), 'p95 {{currency}}'),
        ],
      ) + size(12),
    ]),
    g.grid.section('By channel and currency', [
      p.barGauge(
        'Payments per second by channel',
        'Final payments per second for each provider channel.',
        'ops',
        [q.instant(payments(by=['channel']), '{{channel}}')],
      ) + size(8),
      p.barGauge(
        'Success rate by channel',
        'Share of final payments that succeeded, per channel.',
        'percentunit',
        [q.instant(q.ratio(payments('status="succeeded"', ['channel']), payments(by=['channel'])), '{{channel}}')],
        min=0,
        max=1,
      ) + size(8),
      p.barGauge(
        'Payments per second by currency',
        'Final payments per second for each currency.',
        'ops',
        [q.instant(payments(by=['currency']), '{{currency}}')],
      ) + size(8),
      p.table(
        'Payments by channel, currency and status',
        'Final payments per second for every channel, currency and status combination.',
        'ops',
        [q.instant(payments(by=['channel', 'currency', 'status']))],
      ) + size(24),
    ]),
    g.grid.section('Refunds and safety nets', [
      p.timeSeries(
        'Refunds per second by status',
        'Refund requests per second by outcome (succeeded, failed, rejected).',
        'ops',
        [q.target(q.rate('refunds_total', refundSel, ['status']), '{{status}}')],
        stacked=true,
      ) + size(8),
      p.timeSeries(
        'Compensations by reason',
        'Debits credited back per second because the channel failed or timed out, or the reconciler found a stuck payment.',
        'ops',
        [q.target(q.rate('payment_compensations_total', 'job="payment"', ['reason']), '{{reason}}')],
      ) + size(8),
      p.timeSeries(
        'Idempotency outcomes',
        'Idempotency-key lookups per second: new, replayed (a retry answered from the stored result), conflict, in_flight.',
        'ops',
        [q.target(q.rate('payment_idempotency_requests_total', 'job="payment"', ['outcome']), '{{outcome}}')],
      ) + size(8),
    ]),
  ],
)
