{{/* Names, labels and the pieces the Deployment and the migrations Job share. */}}

{{- define "tenantbase.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tenantbase.fullname" -}}
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

{{- define "tenantbase.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tenantbase.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tenantbase.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "tenantbase.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tenantbase
{{- end }}

{{- define "tenantbase.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tenantbase.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tenantbase.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The Secret the pods read, or nothing when no secret settings are configured. */}}
{{- define "tenantbase.secretName" -}}
{{- if .Values.existingSecret }}
{{- .Values.existingSecret }}
{{- else if or .Values.secretEnv .Values.externalSecret.enabled }}
{{- include "tenantbase.fullname" . }}
{{- end }}
{{- end }}

{{/* Settings every tenantbase process of this release gets, besides the ConfigMap. */}}
{{- define "tenantbase.fixedEnv" -}}
- name: TENANTBASE_LISTEN
  value: "0.0.0.0:8080"
- name: TENANTBASE_DATA_DIR
  value: /data
{{- if .Values.metrics.enabled }}
- name: TENANTBASE_METRICS__LISTEN
  value: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
{{- end }}
{{- end }}

{{/* Pod-level security settings and volumes shared by the Deployment and the Job. */}}
{{- define "tenantbase.podCommon" -}}
serviceAccountName: {{ include "tenantbase.serviceAccountName" . }}
automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
