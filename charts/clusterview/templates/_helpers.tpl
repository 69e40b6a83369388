{{/*
Names. Namespaced objects are prefixed with the fullname (default
"clusterview", the names of the kustomize base); cluster-scoped ones keep
fixed names.
*/}}
{{- define "clusterview.fullname" -}}
{{- default "clusterview" .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "clusterview.apiserver" -}}
{{- include "clusterview.fullname" . }}-apiserver
{{- end -}}

{{- define "clusterview.etcd" -}}
{{- include "clusterview.fullname" . }}-etcd
{{- end -}}

{{- define "clusterview.namespace" -}}
{{- default .Release.Namespace .Values.namespace.name -}}
{{- end -}}

{{/* The in-cluster DNS name the aggregator verifies the serving certificate for. */}}
{{- define "clusterview.serviceDNS" -}}
{{- include "clusterview.apiserver" . }}.{{ include "clusterview.namespace" . }}.svc
{{- end -}}

{{/* The etcd members' headless-Service domain. */}}
{{- define "clusterview.etcdDomain" -}}
{{- include "clusterview.etcd" . }}.{{ include "clusterview.namespace" . }}.svc
{{- end -}}

{{/*
Labels of every object's metadata: the base's app.kubernetes.io/name plus
Helm's. Selectors and Pod labels use only clusterview.selectorLabels, which are
those of the base, so that objects installed with kustomize can be taken over.
Call with (dict "ctx" $ "component" "apiserver"); component may be empty.
*/}}
{{- define "clusterview.labels" -}}
{{ include "clusterview.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{- end -}}

{{- define "clusterview.selectorLabels" -}}
app.kubernetes.io/name: clusterview
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end -}}

{{/* The clusterview-apiserver image, by digest when one is set. */}}
{{- define "clusterview.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* --etcd-servers: the StatefulSet's members, or etcd.external.servers. */}}
{{- define "clusterview.etcdServers" -}}
{{- if eq .Values.etcd.mode "statefulset" -}}
{{- $servers := list -}}
{{- range $i := until (int .Values.etcd.statefulset.replicas) -}}
{{- $servers = append $servers (printf "https://%s-%d.%s:2379" (include "clusterview.etcd" $) $i (include "clusterview.etcdDomain" $)) -}}
{{- end -}}
{{- join "," $servers -}}
{{- else -}}
{{- join "," .Values.etcd.external.servers -}}
{{- end -}}
{{- end -}}

{{/* etcd's --initial-cluster: every member's name and peer URL. */}}
{{- define "clusterview.etcdInitialCluster" -}}
{{- $members := list -}}
{{- range $i := until (int .Values.etcd.statefulset.replicas) -}}
{{- $name := printf "%s-%d" (include "clusterview.etcd" $) $i -}}
{{- $members = append $members (printf "%s=https://%s.%s:2380" $name $name (include "clusterview.etcdDomain" $)) -}}
{{- end -}}
{{- join "," $members -}}
{{- end -}}

{{/*
Checks of value combinations the schema cannot express; every template
includes it so that a bad combination fails the render whatever is shown.
*/}}
{{- define "clusterview.validate" -}}
{{- $mode := .Values.etcd.mode -}}
{{- if not (has $mode (list "statefulset" "external" "embedded")) -}}
{{- fail (printf "etcd.mode must be statefulset, external or embedded, not %q" $mode) -}}
{{- end -}}
{{- if and (eq $mode "embedded") (ne (int .Values.replicas) 1) -}}
{{- fail (printf "etcd.mode=embedded runs etcd inside the one clusterview-apiserver process: replicas must be 1, not %d" (int .Values.replicas)) -}}
{{- end -}}
{{- if and (eq $mode "external") (empty .Values.etcd.external.servers) -}}
{{- fail "etcd.mode=external needs etcd.external.servers (your etcd members' client URLs)" -}}
{{- end -}}
{{- if and .Values.namespace.create (eq (include "clusterview.namespace" .) .Release.Namespace) -}}
{{- fail (printf "namespace.create renders the Namespace %s, but Helm stores the release there before it creates anything: set namespace.name to another namespace than the release's, or create the namespace beforehand" .Release.Namespace) -}}
{{- end -}}
{{- end -}}
