{{/* Prefix of every object name: the release name unless overridden (kept short for DNS). */}}
{{- define "pp.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "pp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" -}}
{{- end -}}

{{/* Labels of every object. Call with (dict "ctx" $ "component" "gateway"). */}}
{{- define "pp.labels" -}}
{{ include "pp.selectorLabels" . }}
helm.sh/chart: {{ include "pp.chart" .ctx }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: payment-platform
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "pp.selectorLabels" -}}
app.kubernetes.io/name: payment-platform
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "pp.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/* Container security context shared by every container: no root, no privilege, no caps. */}}
{{- define "pp.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: {{ .readOnly | default false }}
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod security context. Call with (dict "uid" 10001). */}}
{{- define "pp.podSecurity" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Names of the Secrets (existing or generated) and their keys. */}}
{{- define "pp.dbSecret" -}}
{{- default (printf "%s-database" (include "pp.fullname" .)) .Values.secrets.database.existingSecret -}}
{{- end -}}
{{- define "pp.merchantSecret" -}}
{{- default (printf "%s-merchant-keys" (include "pp.fullname" .)) .Values.secrets.merchantKeys.existingSecret -}}
{{- end -}}
{{- define "pp.internalAuthSecret" -}}
{{- default (printf "%s-internal-auth" (include "pp.fullname" .)) .Values.secrets.internalAuth.existingSecret -}}
{{- end -}}
{{- define "pp.grafanaSecret" -}}
{{- default (printf "%s-grafana" (include "pp.fullname" .)) .Values.secrets.grafana.existingSecret -}}
{{- end -}}

{{/* Connection targets: our backends when enabled, the external ones otherwise. */}}
{{- define "pp.dbHost" -}}
{{- if .Values.postgresql.enabled -}}{{ include "pp.fullname" . }}-postgresql{{- else -}}{{ required "externalDatabase.host is required when postgresql.enabled is false" .Values.externalDatabase.host }}{{- end -}}
{{- end -}}
{{- define "pp.databaseUrl" -}}
{{- $db := ternary .Values.postgresql .Values.externalDatabase .Values.postgresql.enabled -}}
{{- $port := ternary 5432 .Values.externalDatabase.port .Values.postgresql.enabled -}}
{{- printf "postgresql://%s:$(DB_PASSWORD)@%s:%v/%s" $db.username (include "pp.dbHost" .) $port $db.database -}}
{{- end -}}
{{- define "pp.redisUrl" -}}
{{- if .Values.redis.enabled -}}redis://{{ include "pp.fullname" . }}-redis:6379/0{{- else -}}{{ required "externalRedis.url is required when redis.enabled is false" .Values.externalRedis.url }}{{- end -}}
{{- end -}}
{{- define "pp.kafkaBootstrap" -}}
{{- if .Values.kafka.enabled -}}{{ include "pp.fullname" . }}-kafka:9092{{- else -}}{{ required "externalKafka.bootstrap is required when kafka.enabled is false" .Values.externalKafka.bootstrap }}{{- end -}}
{{- end -}}
{{- define "pp.otlpEndpoint" -}}
{{- if .Values.otel.endpoint -}}{{ .Values.otel.endpoint }}{{- else if .Values.collector.enabled -}}http://{{ include "pp.fullname" . }}-collector:4318{{- else -}}{{ fail "otel.endpoint is required when collector.enabled is false" }}{{- end -}}
{{- end -}}

{{/* The generated rule files: every YAML file under alerts/ with a top-level `groups`
(alertmanager.yml and promtool test files have none), keyed by file name. Returns JSON
{file name: content}: a YAML round trip would lose the files' final newline, JSON keeps them byte
for byte. */}}
{{- define "pp.ruleFiles" -}}
{{- $out := dict -}}
{{- range $path, $_ := .Files.Glob "alerts/**.{yml,yaml}" -}}
{{- $content := $.Files.Get $path -}}
{{- if hasKey (fromYaml $content) "groups" -}}
{{- if hasKey $out (base $path) -}}
{{- fail (printf "two generated rule files are named %s under alerts/" (base $path)) -}}
{{- end -}}
{{- $_ := set $out (base $path) $content -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{/* A generated Secret value: kept from the live object on upgrade (lookup), random on install. */}}
{{- define "pp.keepOrRandom" -}}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .name -}}
{{- if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key -}}
{{- else -}}
{{- randAlphaNum (int .length) | b64enc -}}
{{- end -}}
{{- end -}}

{{/* OTEL_* environment of a service (zero-code telemetry). Call with (dict "ctx" $ "service" name). */}}
{{- define "pp.otelEnv" -}}
{{- $o := .ctx.Values.otel -}}
{{- $extra := list -}}
{{- range $k, $v := $o.resourceAttributes }}{{ $extra = append $extra (printf "%s=%v" $k $v) }}{{ end -}}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_NAMESPACE_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: OTEL_SERVICE_NAME
  value: {{ .service }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(K8S_POD_NAME),k8s.namespace.name=$(K8S_NAMESPACE_NAME),k8s.node.name=$(K8S_NODE_NAME),service.namespace=payment-platform%s" (ternary (printf ",%s" (join "," $extra)) "" (gt (len $extra) 0)) | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ include "pp.otlpEndpoint" .ctx | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $o.protocol | quote }}
{{- /* The Python OTLP exporters read OTEL_EXPORTER_OTLP_TIMEOUT in seconds; the batch span
processor reads OTEL_BSP_EXPORT_TIMEOUT in milliseconds. */}}
- name: OTEL_EXPORTER_OTLP_TIMEOUT
  value: {{ $o.exportTimeoutSeconds | quote }}
- name: OTEL_BSP_EXPORT_TIMEOUT
  value: {{ mul $o.exportTimeoutSeconds 1000 | quote }}
- name: OTEL_BLRP_EXPORT_TIMEOUT
  value: {{ mul $o.exportTimeoutSeconds 1000 | quote }}
- name: OTEL_TRACES_SAMPLER
  value: {{ $o.sampler | quote }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $o.samplerArg | quote }}
- name: OTEL_TRACES_EXPORTER
  value: otlp
- name: OTEL_LOGS_EXPORTER
  value: otlp
- name: OTEL_METRICS_EXPORTER
  value: none
{{- /* The SDK's meters, which no exporter reads, disabled (pyproject's `disabled` entry point; the
image installs it). */}}
- name: OTEL_PYTHON_METER_CONFIGURATOR
  value: disabled
- name: OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION
  value: "true"
- name: OTEL_PYTHON_LOG_HANDLER_LEVEL
  value: {{ $o.logsExportLevel | quote }}
{{- /* One export batch holds the whole queue, so a shutdown makes at most one bounded attempt per
signal (see docs/telemetry.md); probes and scrapes are not traced. Same values as the local stack. */}}
- name: OTEL_BSP_SCHEDULE_DELAY
  value: "2000"
- name: OTEL_BLRP_SCHEDULE_DELAY
  value: "2000"
- name: OTEL_BSP_MAX_QUEUE_SIZE
  value: "2048"
- name: OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  value: "2048"
- name: OTEL_BLRP_MAX_QUEUE_SIZE
  value: "2048"
- name: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE
  value: "2048"
- name: OTEL_PYTHON_FLASK_EXCLUDED_URLS
  value: healthz,readyz,metrics
- name: OTEL_PROPAGATORS
  value: tracecontext,baggage
{{- end -}}

{{/* Environment of the collector: the pod's identity and the backends' endpoints. */}}
{{- define "pp.collectorEnv" -}}
{{- $fullname := include "pp.fullname" . -}}
{{- range .Values.collector.extraEnv }}
{{- if eq (toString .name) "MY_POD_IP" }}
{{- fail "collector.extraEnv must not set MY_POD_IP: the collector's listeners bind to it, and it comes from status.podIP" }}
{{- end }}
{{- end }}
- name: MY_POD_IP
  valueFrom: {fieldRef: {fieldPath: status.podIP}}
- name: K8S_POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: K8S_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: K8S_NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: GOMEMLIMIT
  value: {{ printf "%dMiB" (div (mul (include "pp.memMiB" .Values.collector.resources.limits.memory | int) 8) 10) | quote }}
- name: JAEGER_OTLP_ENDPOINT
  value: {{ ternary (printf "%s-jaeger:4317" $fullname) .Values.collector.jaegerEndpoint .Values.jaeger.enabled | quote }}
{{- if .Values.victorialogs.enabled }}
- name: OTLP_LOGS_ENDPOINT
  value: {{ printf "http://%s-victorialogs:9428/insert/opentelemetry/v1/logs" $fullname | quote }}
{{- else if .Values.collector.logsEndpoint }}
- name: OTLP_LOGS_ENDPOINT
  value: {{ .Values.collector.logsEndpoint | quote }}
{{- end }}
{{- with .Values.collector.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* A memory quantity (Mi or Gi) in MiB. */}}
{{- define "pp.memMiB" -}}
{{- if hasSuffix "Gi" . -}}{{ mul (trimSuffix "Gi" . | int) 1024 }}{{- else -}}{{ trimSuffix "Mi" . | int }}{{- end -}}
{{- end -}}

{{/* prometheus.yml: one scrape job per service named after it (the job="<service>" contract),
pods found in the release's namespace by their component label. */}}
{{- define "pp.prometheusConfig" -}}
{{- $fullname := include "pp.fullname" . -}}
global:
  scrape_interval: {{ .Values.prometheus.scrapeInterval }}
  evaluation_interval: {{ .Values.prometheus.scrapeInterval }}
  external_labels:
    cluster_release: {{ .Release.Name }}
rule_files:
  - /etc/prometheus-rules/*.yml
  - /etc/prometheus-rules/*.yaml
{{- if .Values.alertmanager.enabled }}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["{{ $fullname }}-alertmanager:9093"]
{{- end }}
scrape_configs:
{{- range $name, $svc := .Values.services }}
{{- if $svc.enabled }}
  - job_name: {{ $name }}
    metrics_path: /metrics
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [{{ $.Release.Namespace }}]
        selectors:
          - role: pod
            label: "app.kubernetes.io/instance={{ $.Release.Name }},app.kubernetes.io/component={{ $name }}"
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        action: keep
        regex: http
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: instance
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
{{- end }}
{{- end }}
{{- if .Values.collector.enabled }}
{{- /* Every collector pod: its own telemetry (8888) and the span-derived metrics (8889). */}}
{{- range $job, $port := dict "otel-collector" "metrics" "otel-collector-spanmetrics" "prom-exporter" }}
  - job_name: {{ $job }}
    honor_labels: {{ eq $port "prom-exporter" }}
    kubernetes_sd_configs:
      - role: pod
        namespaces:
          names: [{{ $.Release.Namespace }}]
        selectors:
          - role: pod
            label: "app.kubernetes.io/instance={{ $.Release.Name }},app.kubernetes.io/component=collector"
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_container_port_name]
        action: keep
        regex: {{ $port }}
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: instance
{{- end }}
{{- end }}
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
{{- if .Values.alertmanager.enabled }}
  - job_name: alertmanager
    static_configs:
      - targets: ["{{ $fullname }}-alertmanager:9093"]
{{- end }}
{{- end -}}

{{/* Grafana provisioning files: datasources with fixed UIDs (the dashboards refer to them),
exemplars linking trace ids to Jaeger, and a file provider for the mounted dashboards. */}}
{{- define "pp.grafanaProvisioning" -}}
{{- $uids := .ctx.Values.grafana.datasourceUids -}}
datasources.yaml: |
  apiVersion: 1
  datasources:
    - name: Prometheus
      uid: {{ $uids.prometheus }}
      type: prometheus
      access: proxy
      url: {{ required "grafana.externalPrometheusUrl is required when prometheus.enabled is false" .promUrl }}
      isDefault: true
      editable: false
      jsonData:
        httpMethod: POST
        exemplarTraceIdDestinations:
          - name: trace_id
            datasourceUid: {{ $uids.jaeger }}
    - name: Jaeger
      uid: {{ $uids.jaeger }}
      type: jaeger
      access: proxy
      url: {{ required "grafana.externalJaegerUrl is required when jaeger.enabled is false" .jaegerUrl }}
      editable: false
    {{- if .ctx.Values.alertmanager.enabled }}
    - name: Alertmanager
      uid: {{ $uids.alertmanager }}
      type: alertmanager
      access: proxy
      url: http://{{ include "pp.fullname" .ctx }}-alertmanager:9093
      editable: false
      jsonData:
        implementation: prometheus
    {{- end }}
dashboards.yaml: |
  apiVersion: 1
  providers:
    - name: payment-platform
      folder: Payment platform
      type: file
      disableDeletion: true
      allowUiUpdates: false
      options:
        path: /var/lib/grafana-dashboards
{{- end -}}

{{/* NetworkPolicy peer: the pods of one component of this release. Call with (dict "ctx" $ "component" name). */}}
{{- define "pp.npPeer" -}}
- podSelector:
    matchLabels:
      {{- include "pp.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* NetworkPolicy egress rule: name resolution, wherever the cluster's DNS runs (a node-local
cache included). */}}
{{- define "pp.npDns" -}}
- ports: [{protocol: UDP, port: 53}, {protocol: TCP, port: 53}]
{{- end -}}

{{/* NetworkPolicy egress rule: the Kubernetes API server (pod discovery, pod metadata). Its address
is the cluster's, not a pod's, so only the ports are fixed. */}}
{{- define "pp.npKubernetesApi" -}}
- ports: [{protocol: TCP, port: 443}, {protocol: TCP, port: 6443}]
{{- end -}}

{{/* NetworkPolicy egress rule to a data store: our pod when the chart runs it, else the external
store's port (its address is outside the cluster). Call with (dict "ctx" $ "store" "database"). */}}
{{- define "pp.npStore" -}}
{{- $v := .ctx.Values -}}
{{- if eq .store "database" -}}
{{- if $v.postgresql.enabled -}}
- ports: [{protocol: TCP, port: 5432}]
  to:
    {{- include "pp.npPeer" (dict "ctx" .ctx "component" "postgresql") | nindent 4 }}
{{- else -}}
- ports: [{protocol: TCP, port: {{ $v.externalDatabase.port }}}]
{{- end -}}
{{- else if eq .store "redis" -}}
{{- if $v.redis.enabled -}}
- ports: [{protocol: TCP, port: 6379}]
  to:
    {{- include "pp.npPeer" (dict "ctx" .ctx "component" "redis") | nindent 4 }}
{{- else -}}
- ports: [{protocol: TCP, port: {{ include "pp.endpointPort" (include "pp.redisUrl" .ctx) | default "6379" }}}]
{{- end -}}
{{- else if eq .store "kafka" -}}
{{- if $v.kafka.enabled -}}
- ports: [{protocol: TCP, port: 9092}]
  to:
    {{- include "pp.npPeer" (dict "ctx" .ctx "component" "kafka") | nindent 4 }}
{{- else -}}
- ports:
  {{- range $broker := splitList "," (include "pp.kafkaBootstrap" .ctx) }}
    - {protocol: TCP, port: {{ include "pp.endpointPort" (trim $broker) | default "9092" }}}
  {{- end }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The port of an endpoint given as a URL or host:port: its explicit port, else the scheme's
(443 for https, 80 for http), else nothing (the caller's default). */}}
{{- define "pp.endpointPort" -}}
{{- $rest := regexReplaceAll "^[a-zA-Z][a-zA-Z0-9+.-]*://" . "" -}}
{{- $hostport := regexReplaceAll "[/?#].*$" $rest "" -}}
{{- $port := regexFind ":[0-9]+$" $hostport -}}
{{- if $port -}}{{ trimPrefix ":" $port }}{{- else if hasPrefix "https://" . -}}443{{- else if hasPrefix "http://" . -}}80{{- end -}}
{{- end -}}

{{- /* A StatefulSet's claim retention: kept on uninstall (Kubernetes' default) unless
uninstall.deleteData, when the StatefulSet controller deletes the claims with the StatefulSet. */}}
{{- define "pp.claimRetention" -}}
{{- if .Values.uninstall.deleteData -}}
persistentVolumeClaimRetentionPolicy:
  whenDeleted: Delete
  whenScaled: Retain
{{- end -}}
{{- end }}
