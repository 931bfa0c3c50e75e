{{/* Chart name, shortened to the 63 characters Kubernetes names allow. */}}
{{- define "sd-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sd-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sd-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sd-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sd-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sd-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sd-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sd-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sd-operator.peeringName" -}}
{{- default (include "sd-operator.fullname" .) .Values.peering.name }}
{{- end }}

{{/* "true" when more than one replica: kopf peering instead of --standalone. */}}
{{- define "sd-operator.peered" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
"true" when the namespaced permissions must be granted cluster-wide: all namespaces watched, or a
watched namespace given as a glob (RoleBindings need literal namespaces).
*/}}
{{- define "sd-operator.clusterWide" -}}
{{- $wide := .Values.allNamespaces }}
{{- range .Values.watchNamespaces }}
{{- if regexMatch "[*?\\[]" . }}{{ $wide = true }}{{ end }}
{{- end }}
{{- if $wide }}true{{ end }}
{{- end }}

{{/* The watched namespaces that are literal names (not globs). */}}
{{- define "sd-operator.literalNamespaces" -}}
{{- range .Values.watchNamespaces }}
{{- if not (regexMatch "[*?\\[]" .) }}
- {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sd-operator.validate" -}}
{{- if and (not .Values.allNamespaces) (empty .Values.watchNamespaces) }}
{{- fail "set allNamespaces: true, or list the namespaces to watch in watchNamespaces" }}
{{- end }}
{{- if and .Values.allNamespaces (not (empty .Values.watchNamespaces)) }}
{{- fail "watchNamespaces is only used with allNamespaces: false" }}
{{- end }}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "metrics.serviceMonitor.enabled needs metrics.service.enabled: the ServiceMonitor selects the metrics Service" }}
{{- end }}
{{- end }}

{{/* The drift sweep interval. resyncSeconds, its deprecated old name, wins when set: only a
values file written for an older chart sets it, and that file's interval must not change. */}}
{{- define "sd-operator.sweepSeconds" -}}
{{- if hasKey .Values "resyncSeconds" }}
{{- .Values.resyncSeconds }}
{{- else }}
{{- .Values.sweepSeconds }}
{{- end }}
{{- end }}

{{- define "sd-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The pod's affinity: .Values.affinity as given, else the podAntiAffinity preset. */}}
{{- define "sd-operator.affinity" -}}
{{- if .Values.affinity }}
{{- toYaml .Values.affinity }}
{{- else if .Values.podAntiAffinity }}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "sd-operator.selectorLabels" . | fromYaml)) }}
podAntiAffinity:
{{- if eq .Values.podAntiAffinity "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    - {{- toYaml $term | nindent 6 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sd-operator.monitoringNamespace" -}}
{{- default .root.Release.Namespace .namespace }}
{{- end }}

{{/* What the operator does where it watches: reconcile our resources (kopf patches finalizers
and annotations on them, the operator writes their status) and post events. */}}
{{/* Reading the DiscoveryGrants: never writing them, which is the platform team's part. */}}
{{- define "sd-operator.grantRules" -}}
- apiGroups: [sd-operator.io]
  resources: [discoverygrants]
  verbs: [get, list, watch]
{{- end }}

{{- define "sd-operator.namespacedRules" -}}
- apiGroups: [sd-operator.io]
  resources: [cloudmapnamespaces, servicediscoveries, cloudmapimports]
  verbs: [get, list, watch, patch]
- apiGroups: [sd-operator.io]
  resources: [cloudmapnamespaces/status, servicediscoveries/status, cloudmapimports/status]
  verbs: [get, patch]
- apiGroups: [sd-operator.io]
  resources: [cloudmapnamespaces/finalizers, servicediscoveries/finalizers, cloudmapimports/finalizers]
  verbs: [patch, update]
{{- if .Values.import.enabled }}
# CloudMapImport maintains a Service and EndpointSlices (and lists its own slices).
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch, create, patch, update, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [get, create, patch, update, delete]
{{- else if .Values.export.enabled }}
# Hybrid export watches EndpointSlices; it writes none.
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch]
{{- end }}
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end }}
