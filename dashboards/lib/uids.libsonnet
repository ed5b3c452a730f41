// Every dashboard uid, set here once. Grafana links and bookmarks use the uid, so changing one
// breaks them: add new entries, do not rename old ones.
{
  paymentsOverview: 'payments-overview',
  serviceRed(service): 'service-red-' + service,
  slos: 'slo-error-budgets',
  dependencies: 'payment-dependencies',
  collector: 'otelcol-health',
  example: 'library-example',
}
