{{- /* What the operator does to the objects it serves: in every namespace
(a ClusterRole) or, with watchNamespace, in that namespace only (a Role). */}}
{{- define "immybot-operator.namespacedRules" -}}
# Watch sessions; add and remove the finalizer (a JSON patch); create a
# MaintenanceSchedule's runs and delete them (Replace, history limits).
- apiGroups: ["immybot.io"]
  resources: ["maintenancesessions"]
  verbs: ["get", "list", "watch", "patch", "create", "delete"]
# Status is replaced whole, with a resourceVersion precondition; a
# notification's delivery is recorded by a merge patch with one.
- apiGroups: ["immybot.io"]
  resources: ["maintenancesessions/status"]
  verbs: ["update", "patch"]
# ImmyBotSchedules: watch, finalizer (JSON patch), status (replaced whole).
- apiGroups: ["immybot.io"]
  resources: ["immybotschedules"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["immybot.io"]
  resources: ["immybotschedules/status"]
  verbs: ["update"]
# MaintenanceSchedules: watch, status (replaced whole), and the
# finalizers subresource that owning a run with blockOwnerDeletion needs.
- apiGroups: ["immybot.io"]
  resources: ["maintenanceschedules"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["immybot.io"]
  resources: ["maintenanceschedules/status", "maintenanceschedules/finalizers"]
  verbs: ["update"]
# SessionSearches: watch, answer (status replaced whole), delete once
# their ttl passed.
- apiGroups: ["immybot.io"]
  resources: ["sessionsearches"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["immybot.io"]
  resources: ["sessionsearches/status"]
  verbs: ["update"]
# MaintenanceReports: the same; and the sessions' approvals and
# cancellations a report counts are read from objects already watched.
- apiGroups: ["immybot.io"]
  resources: ["maintenancereports"]
  verbs: ["get", "list", "watch", "delete"]
- apiGroups: ["immybot.io"]
  resources: ["maintenancereports/status"]
  verbs: ["update"]
# ImmyBotConnections: watch; Ready (a merge patch of status).
- apiGroups: ["immybot.io"]
  resources: ["immybotconnections"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["immybot.io"]
  resources: ["immybotconnections/status"]
  verbs: ["patch"]
{{ include "immybot-operator.secretRule" . }}
# Read approvals; make each session the owner of the approvals that
# approve it (a merge patch of metadata.ownerReferences; the spec is immutable).
- apiGroups: ["immybot.io"]
  resources: ["maintenanceapprovals"]
  verbs: ["get", "list", "watch", "patch"]
# Events for transitions (the recorder creates, then patches a series).
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end -}}

{{- /* The Secrets connections name: get only, never list or watch. */}}
{{- define "immybot-operator.secretRule" -}}
{{- if or .Values.connections.readAnySecret .Values.connections.secretNames -}}
- apiGroups: [""]
  resources: ["secrets"]
  {{- if not .Values.connections.readAnySecret }}
  resourceNames: {{ toJson .Values.connections.secretNames }}
  {{- end }}
  verbs: ["get"]
{{- end -}}
{{- end -}}

{{- /* What is cluster-wide whatever the release watches. */}}
{{- define "immybot-operator.clusterRules" -}}
# ClusterImmyBotConnections: watch; Ready (a merge patch of status).
- apiGroups: ["immybot.io"]
  resources: ["clusterimmybotconnections"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["immybot.io"]
  resources: ["clusterimmybotconnections/status"]
  verbs: ["patch"]
# The operator's own user name, the requestedBy of the runs it creates.
- apiGroups: ["authentication.k8s.io"]
  resources: ["selfsubjectreviews"]
  verbs: ["create"]
{{- end -}}
