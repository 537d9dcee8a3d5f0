{{/* Names, labels and the per-role values every template shares. */}}

{{- define "crm.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name; a release already named after the chart is not doubled ("crm", not "crm-crm"). */}}
{{- define "crm.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Name of one role's objects: <fullname>-<role>, cut to the 63 characters Kubernetes allows. */}}
{{- define "crm.roleName" -}}
{{- printf "%s-%s" (include "crm.fullname" .root) .role | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "crm.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "crm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: crm
{{- end -}}

{{- define "crm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crm.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{/* Labels of one role's objects: the common ones plus the role as component. */}}
{{- define "crm.roleLabels" -}}
{{ include "crm.labels" .root }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{/* Every pod of the release (any role): the peers a service accepts calls from. */}}
{{- define "crm.releasePodSelector" -}}
app.kubernetes.io/name: {{ include "crm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The effective values of one role: the shared defaults overlaid by the role's own keys (maps merge,
lists and scalars are replaced), as a YAML document to read back with fromYaml.
*/}}
{{- define "crm.roleValues" -}}
{{- $defaults := deepCopy .root.Values.defaults -}}
{{- $own := deepCopy .values -}}
{{- toYaml (mergeOverwrite $defaults $own) -}}
{{- end -}}

{{- define "crm.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "crm.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "crm.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{/* Whether a role autoscales or runs several replicas: the only cases where a PodDisruptionBudget helps. */}}
{{- define "crm.needsPdb" -}}
{{- if or .autoscaling.enabled (gt (int .replicas) 1) -}}true{{- end -}}
{{- end -}}

{{/*
The secret environment: database URLs and the JWT key, each from an existing Secret named in values.
Shared by the roles and the migration Job.
*/}}
{{- define "crm.secretEnv" -}}
{{- with .Values.secrets.database }}
{{- if .existingSecret }}
- name: CRM_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- range $service, $ref := .Values.secrets.serviceDatabases }}
- name: {{ printf "CRM_%s_DATABASE_URL" ($service | upper) }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.existingSecret }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}

{{- define "crm.jwtEnv" -}}
{{- with .Values.secrets.jwt }}
{{- if .existingSecret }}
- name: CRM_JWT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .key }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The writable scratch space a read-only root file system still needs (temporary files). */}}
{{- define "crm.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}
{{- define "crm.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}
