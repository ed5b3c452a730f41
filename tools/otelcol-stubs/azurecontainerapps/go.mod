// Stand-in for go.opentelemetry.io/contrib/detectors/azure/azurecontainerapps v0.18.0, which the Go module proxy
// reachable here does not serve. See tools/otelcol-stubs/README.md.
module go.opentelemetry.io/contrib/detectors/azure/azurecontainerapps

go 1.25.0

require go.opentelemetry.io/otel/sdk v1.46.0
