{{/* The chart's short name: also the DaemonSet's selector label `app`, as in earlier releases of this chart family. */}}
{{- define "sscsi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Name of the DaemonSet: the release name, suffixed with the chart name unless it already contains it. */}}
{{- define "sscsi.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "sscsi.labels" -}}
{{ include "sscsi.labelsWithoutApp" . }}
app: {{ include "sscsi.name" . }}
{{- end -}}

{{/* The labels on every object but `app` (the restarter's pods carry an `app` of their own). */}}
{{- define "sscsi.labelsWithoutApp" -}}
app.kubernetes.io/name: {{ include "sscsi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An image reference from image values: repository@digest when a digest is given, else repository:tag. */}}
{{- define "sscsi.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository (toString .tag) -}}
{{- end -}}
{{- end -}}

{{/* The driver image of Linux nodes: its tag defaults to the chart's appVersion. */}}
{{- define "sscsi.image" -}}
{{- $image := .Values.linux.image -}}
{{- include "sscsi.imageRef" (dict "repository" $image.repository "digest" $image.digest "tag" (default .Chart.AppVersion (toString $image.tag))) -}}
{{- end -}}

{{/* The ServiceAccount the driver runs as (the name the ClusterRoleBindings and the upstream driver use). */}}
{{- define "sscsi.serviceAccountName" -}}
secrets-store-csi-driver
{{- end -}}

{{/* True (non-empty) when a value was set: "" and null mean "leave the driver's default". */}}
{{- define "sscsi.isSet" -}}
{{- if not (or (kindIs "invalid" .) (and (kindIs "string" .) (eq . ""))) -}}true{{- end -}}
{{- end -}}

{{/* The port of a listen address such as ":8095" or "0.0.0.0:8095"; empty when there is none (or it is 0). */}}
{{- define "sscsi.port" -}}
{{- $port := regexFind "[0-9]+$" (toString (default "" .)) -}}
{{- if and $port (gt (int $port) 0) -}}{{ int $port }}{{- end -}}
{{- end -}}

{{/* The restarter's ServiceAccount, Deployment and Lease name (the Lease name is also its --leader-election-lease-name default). */}}
{{- define "sscsi.restarterName" -}}
secrets-store-csi-restarter
{{- end -}}
