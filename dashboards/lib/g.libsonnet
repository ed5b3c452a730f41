// The dashboard library: import this file and nothing else from lib/.
// In the style of grafonnet's examples: dashboards, panels, queries and variables are split,
// and the grid helper assigns ids and positions so no source places panels by hand.
{
  dashboard: import 'dashboard.libsonnet',
  panel: import 'panels.libsonnet',
  query: import 'queries.libsonnet',
  variable: import 'variables.libsonnet',
  grid: import 'grid.libsonnet',
  uids: import 'uids.libsonnet',
  inputs: import 'inputs.libsonnet',
}
