// Package hetzner stands in for the upstream detector of the same import path: that module is not
// served by the Go module proxy reachable here, and the resource detection processor of
// collector-contrib v0.161.0 imports it. Detection always fails with an error naming the
// detector, so a config that asks for it fails loudly instead of reporting nothing.
package hetzner

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/sdk/resource"
)

// ErrNotInThisBuild is what Detect returns.
var ErrNotInThisBuild = errors.New("the hetzner resource detector is not in this collector build " +
	"(its module is not served where it was built; see tools/otelcol-stubs/README.md)")

type detector struct{}

func (detector) Detect(context.Context) (*resource.Resource, error) {
	return nil, ErrNotInThisBuild
}

// NewResourceDetector returns the stand-in detector.
func NewResourceDetector() resource.Detector { return detector{} }
