{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "simple-cli.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Fully qualified release name. */}}
{{- define "simple-cli.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Standard labels. */}}
{{- define "simple-cli.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "simple-cli.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: simple-cli
{{- range $k, $v := .Values.commonLabels }}
{{ $k }}: {{ $v | quote }}
{{- end }}
{{- end -}}

{{- define "simple-cli.selectorLabels" -}}
app.kubernetes.io/name: {{ include "simple-cli.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The failover state ConfigMap (failedRegions, servingRegions, state.json, simulatedOutages). */}}
{{- define "simple-cli.stateConfigMap" -}}
{{- printf "%s-failover" (include "simple-cli.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "simple-cli.controllerName" -}}
{{- printf "%s-failover-controller" (include "simple-cli.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "simple-cli.haImage" -}}
{{- printf "%s:%s" .Values.haImage.repository (default .Chart.AppVersion .Values.haImage.tag) -}}
{{- end -}}

{{/* Per-region agent name: <fullname>-<region>. */}}
{{- define "simple-cli.regionName" -}}
{{- printf "%s-%s" (include "simple-cli.fullname" .root) .region.name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Probe endpoint of a region: its own value, or the in-cluster probe Service. */}}
{{- define "simple-cli.regionEndpoint" -}}
{{- if .region.endpoint -}}
{{- .region.endpoint -}}
{{- else -}}
{{- printf "http://%s-probe.%s.svc:%d/health" (include "simple-cli.regionName" .) .root.Release.Namespace (int .root.Values.gate.port) -}}
{{- end -}}
{{- end -}}

{{/* The regions whose workloads this cluster runs. */}}
{{- define "simple-cli.localRegions" -}}
{{- $local := .Values.multiRegion.localRegion -}}
{{- $out := list -}}
{{- range .Values.multiRegion.regions -}}
{{- if or (eq $local "") (eq $local .name) -}}
{{- $out = append $out .name -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "simple-cli.restrictedContainer" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: ["ALL"]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{/* Replication remotes: the configured list, or one s3://<release>-agency-backup-<region>/agency
per region of multiRegion.regions (bucket names cut to the 63-character S3 limit). */}}
{{- define "simple-cli.replicationRemotes" -}}
{{- $out := list -}}
{{- if .Values.replicationSidecar.remotes -}}
{{- range .Values.replicationSidecar.remotes -}}
{{- $out = append $out . -}}
{{- end -}}
{{- else -}}
{{- range .Values.multiRegion.regions -}}
{{- $bucket := printf "%s-agency-backup-%s" $.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- $out = append $out (dict "url" (printf "s3://%s/agency" $bucket) "region" .name) -}}
{{- end -}}
{{- end -}}
{{- toJson $out -}}
{{- end -}}

{{- define "simple-cli.mcpName" -}}
{{- printf "%s-security-monitor" (include "simple-cli.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Where the Security Monitor's bearer token is mounted. */}}
{{- define "simple-cli.mcpTokenFile" -}}
/var/run/secrets/agency-ha-mcp/token
{{- end -}}

{{/* The region passive regions follow (warm standby): replicationSidecar.follow.region, else
the active region with the lowest (priority, name), the order the controller promotes in.
Empty when no region is active. */}}
{{- define "simple-cli.followRegion" -}}
{{- if .Values.replicationSidecar.follow.region -}}
{{- .Values.replicationSidecar.follow.region -}}
{{- else -}}
{{- $best := "" -}}
{{- $bestKey := "" -}}
{{- range .Values.multiRegion.regions -}}
{{- if ne .active false -}}
{{- $key := printf "%010d/%s" (int (.priority | default 0)) .name -}}
{{- if or (eq $best "") (lt $key $bestKey) -}}
{{- $best = .name -}}
{{- $bestKey = $key -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $best -}}
{{- end -}}
{{- end -}}

{{/* Static S3 keys for the replication containers from replicationSidecar.existingSecret (else
the pod's ambient credentials: IRSA / Pod Identity through the ServiceAccount). */}}
{{- define "simple-cli.awsEnv" -}}
{{- with include "simple-cli.awsEnvItems" . -}}
env:{{ . | nindent 2 }}
{{- end -}}
{{- end -}}
{{/* The same variables as list items (column 0), for containers that set more env. */}}
{{- define "simple-cli.awsEnvItems" -}}
{{- with .Values.replicationSidecar.existingSecret -}}
- name: AWS_ACCESS_KEY_ID
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: AWS_ACCESS_KEY_ID}}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: AWS_SECRET_ACCESS_KEY}}
- name: AWS_SESSION_TOKEN
  valueFrom: {secretKeyRef: {name: {{ . | quote }}, key: AWS_SESSION_TOKEN, optional: true}}
{{- end -}}
{{- end -}}

{{/* The controller's config file (controller.yaml; the MCP server reads it too). Its checksum
rolls the controller and the Security Monitor when it changes. */}}
{{- define "simple-cli.controllerConfig" -}}
regions:
{{- range .Values.multiRegion.regions }}
  - name: {{ .name }}
    active: {{ ne .active false }}
    endpoint: {{ include "simple-cli.regionEndpoint" (dict "root" $ "region" .) | quote }}
    priority: {{ .priority | default 0 }}
    {{- with .minHealthyEndpoints }}
    minHealthyEndpoints: {{ . }}
    {{- end }}
{{- end }}
probe:
  intervalSeconds: {{ .Values.failoverController.probe.intervalSeconds }}
  timeoutSeconds: {{ .Values.failoverController.probe.timeoutSeconds }}
  failureThreshold: {{ .Values.failoverController.probe.failureThreshold }}
  successThreshold: {{ .Values.failoverController.probe.successThreshold }}
policy:
  failbackSeconds: {{ .Values.failoverController.failbackSeconds }}
state:
  configMap: {namespace: {{ .Release.Namespace }}, name: {{ include "simple-cli.stateConfigMap" . }}}
leaderElection:
  lease: {namespace: {{ .Release.Namespace }}, name: {{ include "simple-cli.controllerName" . }}}
listen: "0.0.0.0:9090"
{{- $q := .Values.failoverController.quorum }}
{{- with $q.peers }}
# Observer quorum: the other regions' controllers.
peers:
{{- range . }}
  - {name: {{ .name }}, url: {{ .url | quote }}}
{{- end }}
quorum:
  region: {{ $.Values.multiRegion.localRegion }}
  {{- if $q.size }}
  size: {{ $q.size }}
  {{- end }}
  isolation: {{ $q.isolation }}
observationsToken: {{ include "simple-cli.observationsTokenFile" $ }}
{{- end }}
{{- if .Values.securityMonitor.enabled }}
# The Security Monitor MCP server's section (read by `agency-ha mcp` only).
mcp:
  defaultDurationSeconds: {{ .Values.securityMonitor.mcp.defaultDurationSeconds }}
  minDurationSeconds: {{ .Values.securityMonitor.mcp.minDurationSeconds }}
  maxDurationSeconds: {{ .Values.securityMonitor.mcp.maxDurationSeconds }}
  httpTokenFile: {{ include "simple-cli.mcpTokenFile" . }}
  # The controller's live observations (probes, reasons, data positions) for the tools.
  controllerUrl: "http://{{ include "simple-cli.controllerName" . }}.{{ .Release.Namespace }}.svc:9090"
  {{- $f := .Values.securityMonitor.faults }}
  {{- if or $f.pod.enabled $f.network.enabled }}
  # Real-fault drills: the agent pods (this release's, labelled with their region).
  faults:
    namespace: {{ .Release.Namespace }}
    podLabels:
      {{- include "simple-cli.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: agent
    regionLabel: agency-ha/region
    types:
      {{- if $f.pod.enabled }}
      - pod
      {{- end }}
      {{- if $f.network.enabled }}
      - network
      {{- end }}
  {{- end }}
  {{- if .Values.replicationSidecar.enabled }}
  # get_replication_status reads the remotes the regions replicate to.
  replication:
    remotes:
    {{- range (include "simple-cli.replicationRemotes" . | fromJsonArray) }}
      - url: {{ .url | quote }}
        {{- with .region }}
        region: {{ . | quote }}
        {{- end }}
        {{- with .endpoint }}
        endpoint: {{ . | quote }}
        {{- end }}
        {{- if hasKey . "pathStyle" }}
        pathStyle: {{ .pathStyle }}
        {{- end }}
    {{- end }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* Where the observer-quorum bearer token is mounted in the controller. */}}
{{- define "simple-cli.observationsTokenFile" -}}
/var/run/secrets/agency-ha-observations/token
{{- end -}}

{{/* A replication sidecar's config (`agency-ha sidecar --config`, docs/WRITER.md): the
replication keys plus `handoff:`. Arguments: root, source (the directory on the volume),
lineage, active (bool), follow (the lineage followed while passive and not promoted), suffix
(optional: a second volume's lineage suffix, e.g. "-brain"; roles follow the region name). The
restore init container reads the same file (it ignores handoff). */}}
{{- define "simple-cli.sidecarConfig" -}}
{{- $root := .root -}}
{{- $repl := $root.Values.replicationSidecar -}}
source: {{ .source }}
region: {{ .lineage }}
remotes:
{{- range (include "simple-cli.replicationRemotes" $root | fromJsonArray) }}
  - url: {{ .url | quote }}
    {{- with .region }}
    region: {{ . | quote }}
    {{- end }}
    {{- with .endpoint }}
    endpoint: {{ . | quote }}
    {{- end }}
    {{- if hasKey . "pathStyle" }}
    pathStyle: {{ .pathStyle }}
    {{- end }}
{{- end }}
syncIntervalSeconds: {{ $repl.syncInterval }}
retention:
  keepLast: {{ $repl.retention.keepLast | int64 }}
  keepWithinSeconds: {{ $repl.retention.keepWithinSeconds }}
listen: "0.0.0.0:{{ $repl.metricsPort }}"
handoff:
  active: {{ .active }}
  {{- if not .active }}
  followRegion: {{ .follow }}
  {{- end }}
  {{- with .suffix }}
  lineageSuffix: {{ . | quote }}
  {{- end }}
  state:
    configMap: {namespace: {{ $root.Release.Namespace }}, name: {{ include "simple-cli.stateConfigMap" $root }}}
  positionFile: {{ include "simple-cli.positionFile" $root }}
  timeoutSeconds: {{ $repl.handoff.timeoutSeconds }}
  followIntervalSeconds: {{ $repl.handoff.followIntervalSeconds }}
{{- end -}}

{{/* Where a replication sidecar writes its position (an emptyDir shared with the gate). */}}
{{- define "simple-cli.positionFile" -}}
/run/agency-ha/position.json
{{- end -}}

{{/* The brain's lineage: <lineage>-brain (a DNS-1123 label: region names of at most 57
characters; validate.yaml refuses longer ones with the brain replicated). */}}
{{- define "simple-cli.brainLineage" -}}
{{- printf "%s-brain" . -}}
{{- end -}}

{{/* The replication sidecar container. Arguments: root, source (for the comment only). */}}
{{- define "simple-cli.sidecarContainer" -}}
{{- $root := .root -}}
{{- $repl := $root.Values.replicationSidecar -}}
- name: sidecar
  image: {{ include "simple-cli.haImage" $root }}
  imagePullPolicy: {{ $root.Values.haImage.pullPolicy }}
  args: ["sidecar", "--config", "/etc/agency-ha/replicate.yaml"]
  ports:
    - {name: repl-metrics, containerPort: {{ $repl.metricsPort }}, protocol: TCP}
  env:
    # The sidecar's own Pod, for its Kubernetes Events (WriterFenced, DivergentTailPreserved):
    # `kubectl describe pod` matches Events on the Pod's uid.
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NAMESPACE
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_UID
      valueFrom: {fieldRef: {fieldPath: metadata.uid}}
  {{- with include "simple-cli.awsEnvItems" $root }}{{ . | nindent 4 }}{{ end }}
  livenessProbe:
    httpGet: {path: /healthz, port: repl-metrics}
    periodSeconds: 30
  resources: {{ toYaml $repl.resources | nindent 4 }}
  {{- include "simple-cli.restrictedContainer" $root | nindent 2 }}
  volumeMounts:
    - {name: {{ .config }}, mountPath: /etc/agency-ha, readOnly: true}
    - {name: data, mountPath: /data}
    - {name: run, mountPath: /run/agency-ha}
    - {name: tmp, mountPath: /tmp}
    {{- if .token }}
    - {name: kube-api-access, mountPath: /var/run/secrets/kubernetes.io/serviceaccount, readOnly: true}
    {{- end }}
{{- end -}}

{{/* The agents' ServiceAccount, Role and RoleBinding (gates and replication sidecars). */}}
{{- define "simple-cli.agentServiceAccount" -}}
{{- printf "%s-gate" (include "simple-cli.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
