{{- /*
The generated admission policies of files/NAME (`cargo run --bin crdgen`),
made this release's own so that two releases in one cluster never collide:
each `immybot.io-X` is named `<fullname>-X` and carries the release's labels,
and when the release watches one namespace its bindings match that namespace
only (a release governs what its operator serves; deploy/ keeps the
cluster-wide `immybot.io-` names). Call with (list $ "files/NAME").
*/}}
{{- define "immybot-operator.policies" -}}
{{- $root := index . 0 -}}
{{- $prefix := printf "%s-" (include "immybot-operator.fullname" $root) -}}
{{- range $doc := splitList "\n---\n" ($root.Files.Get (index . 1)) }}
{{- $obj := fromYaml $doc }}
{{- if $obj.kind }}
{{- $_ := set $obj.metadata "name" (replace "immybot.io-" $prefix $obj.metadata.name) }}
{{- $_ := set $obj.metadata "labels" (include "immybot-operator.labels" $root | fromYaml) }}
{{- if hasSuffix "Binding" $obj.kind }}
{{- $_ := set $obj.spec "policyName" (replace "immybot.io-" $prefix $obj.spec.policyName) }}
{{- include "immybot-operator.bindingScope" (list $root $obj) }}
{{- end }}
---
{{ toYaml $obj }}
{{- end }}
{{- end }}
{{- end -}}

{{- /* A binding of a release that watches one namespace matches only that
namespace. Call with (list $ binding). */}}
{{- define "immybot-operator.bindingScope" -}}
{{- $obj := index . 1 -}}
{{- with (index . 0).Values.watchNamespace -}}
{{- $_ := set $obj.spec "matchResources" (dict "namespaceSelector" (dict "matchLabels" (dict "kubernetes.io/metadata.name" .))) -}}
{{- end -}}
{{- end -}}
