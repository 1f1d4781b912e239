{{/* Chart name, overridable with nameOverride. */}}
{{- define "fly-tunnel-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Prefix of every resource name: the release name, plus the chart name unless the release already contains it. */}}
{{- define "fly-tunnel-operator.fullname" -}}
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

{{- define "fly-tunnel-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object of the release. */}}
{{- define "fly-tunnel-operator.labels" -}}
helm.sh/chart: {{ include "fly-tunnel-operator.chart" . }}
{{ include "fly-tunnel-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: fly-tunnel-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator pods; immutable once installed. */}}
{{- define "fly-tunnel-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fly-tunnel-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fly-tunnel-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fly-tunnel-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secret holding the Fly API token under the key fly-api-token. */}}
{{- define "fly-tunnel-operator.tokenSecretName" -}}
{{- default (include "fly-tunnel-operator.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "fly-tunnel-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's Pods (not the uninstall hook's, whose component differs). */}}
{{- define "fly-tunnel-operator.operatorPodSelector" -}}
{{- printf "app.kubernetes.io/name=%s,app.kubernetes.io/instance=%s,app.kubernetes.io/component=operator" (include "fly-tunnel-operator.name" .) .Release.Name }}
{{- end }}

{{/* Labels of the uninstall hook's objects: the release's, with their own component. */}}
{{- define "fly-tunnel-operator.hookLabels" -}}
helm.sh/chart: {{ include "fly-tunnel-operator.chart" . }}
app.kubernetes.io/name: {{ include "fly-tunnel-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: uninstall-hook
app.kubernetes.io/part-of: fly-tunnel-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* A pre-delete hook object, created before the Job (lower weight), deleted once the hook succeeded or before the next attempt. */}}
{{- define "fly-tunnel-operator.hookAnnotations" -}}
"helm.sh/hook": pre-delete
"helm.sh/hook-weight": {{ .weight | quote }}
"helm.sh/hook-delete-policy": before-hook-creation,hook-succeeded
{{- end }}
