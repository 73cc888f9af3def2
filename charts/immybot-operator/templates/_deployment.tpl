{{/*
One operator Deployment: the main one (shard empty), or a shard's
(docs/connections.md, "Shards"): its own name, Lease and selector.
*/}}
{{- define "immybot-operator.deployment" -}}
{{- $root := .root -}}
{{- $shard := .shard -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "immybot-operator.fullname" $root }}{{ with $shard.name }}-{{ . }}{{ end }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "immybot-operator.labels" $root | nindent 4 }}
spec:
  replicas: {{ $shard.replicaCount | default $root.Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "immybot-operator.selectorLabels" $root | nindent 6 }}
      {{- with $shard.name }}
      immybot.io/operator-shard: {{ . }}
      {{- end }}
  template:
    metadata:
      labels:
        {{- include "immybot-operator.selectorLabels" $root | nindent 8 }}
        {{- with $shard.name }}
        immybot.io/operator-shard: {{ . }}
        {{- end }}
        {{- with $root.Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $root.Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "immybot-operator.serviceAccountName" $root }}
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with $root.Values.podSecurityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: operator
          image: "{{ $root.Values.image.repository }}:{{ $root.Values.image.tag | default $root.Chart.AppVersion }}"
          imagePullPolicy: {{ $root.Values.image.pullPolicy }}
          args:
            - --immybot-url={{ required "immybot.url is required" $root.Values.immybot.url }}
            - --entra-tenant-id={{ required "immybot.entraTenantId is required" $root.Values.immybot.entraTenantId }}
            - --client-id={{ required "immybot.clientId is required" $root.Values.immybot.clientId }}
            - --client-secret-file=/var/run/secrets/immybot/client-secret
            {{- with $root.Values.immybot.tokenUrl }}
            - --token-url={{ . }}
            {{- end }}
            {{- with $root.Values.immybot.scope }}
            - --scope={{ . }}
            {{- end }}
            {{- if $root.Values.immybot.allowInsecureHttp }}
            - --allow-insecure-http
            {{- end }}
            - --request-timeout-seconds={{ $root.Values.immybot.requestTimeoutSeconds }}
            - --requests-per-second={{ $root.Values.immybot.requestsPerSecond }}
            - --request-burst={{ $root.Values.immybot.requestBurst }}
            - --max-concurrent-requests={{ $root.Values.immybot.maxConcurrentRequests }}
            - --action-log-excerpts={{ $root.Values.immybot.actionLogExcerpts }}
            - --max-concurrent-api-writes={{ $root.Values.apiServer.maxConcurrentWrites }}
            {{- with $root.Values.connections.clusterSecretNamespace }}
            - --cluster-connection-secret-namespace={{ . }}
            {{- end }}
            - --connection-recheck-seconds={{ $root.Values.connections.recheckSeconds }}
            {{- with $root.Values.approval.inlineNamespaces }}
            - --inline-approval-namespaces={{ join "," . }}
            {{- end }}
            {{- if not (kindIs "invalid" $root.Values.approval.pilotRequiredAbove) }}
            - --pilot-required-above={{ $root.Values.approval.pilotRequiredAbove }}
            {{- end }}
            {{- with $root.Values.approval.pilotRequiredAboveIn }}
            - --pilot-required-above-in={{ range $i, $ns := keys . | sortAlpha }}{{ if $i }},{{ end }}{{ $ns }}={{ index $root.Values.approval.pilotRequiredAboveIn $ns }}{{ end }}
            {{- end }}
            - --record-tenant-sizes=true
            - --settings-configmap={{ include "immybot-operator.fullname" $root }}-settings
            {{- if not (kindIs "invalid" $root.Values.approval.planRequiredAbove) }}
            - --plan-required-above={{ $root.Values.approval.planRequiredAbove }}
            {{- end }}
            - --plan-detection-needs-approval={{ $root.Values.approval.planDetectionNeedsApproval }}
            {{- with $root.Values.approval.unapprovedNamespaces }}
            - --unapproved-namespaces={{ join "," . }}
            {{- end }}
            {{- with $root.Values.watchNamespace }}
            - --watch-namespace={{ . }}
            {{- end }}
            - --poll-active-seconds={{ $root.Values.polling.activeSeconds }}
            - --poll-idle-seconds={{ $root.Values.polling.idleSeconds }}
            - --start-grace-seconds={{ $root.Values.polling.startGraceSeconds }}
            - --admin-addr=0.0.0.0:{{ $root.Values.metrics.port }}
            - --log-format={{ $root.Values.logFormat }}
            {{- with $root.Values.notifications.defaultCloudEventsSink }}
            - --default-cloud-events-sink={{ . }}
            - --notification-retry-seconds={{ $root.Values.notifications.retrySeconds }}
            {{- end }}
            {{- with $root.Values.tracing.otlpEndpoint }}
            - --otlp-endpoint={{ . }}
            {{- end }}
            - --lease-name={{ include "immybot-operator.fullname" $root }}{{ with $shard.name }}-{{ . }}{{ end }}
            {{- if $shard.name }}
            - --shard-selector=immybot.io/shard in ({{ join "," $shard.values }})
            {{- else if $root.Values.shards }}
            {{- $taken := list }}
            {{- range $root.Values.shards }}{{ $taken = concat $taken .values }}{{ end }}
            - --shard-selector=immybot.io/shard notin ({{ join "," $taken }})
            {{- end }}
            {{- range $root.Values.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          env:
            - name: RUST_LOG
              value: {{ $root.Values.logLevel | quote }}
            - name: POD_NAME
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            {{- with $root.Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: admin
              containerPort: {{ $root.Values.metrics.port }}
              protocol: TCP
          livenessProbe:
            httpGet:
              path: /livez
              port: admin
            periodSeconds: 10
          readinessProbe:
            httpGet:
              path: /readyz
              port: admin
            periodSeconds: 5
          {{- with $root.Values.securityContext }}
          securityContext:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          resources:
            {{- toYaml $root.Values.resources | nindent 12 }}
          volumeMounts:
            - name: immybot-secret
              mountPath: /var/run/secrets/immybot
              readOnly: true
      # In-flight status writes land before the pod goes (see graceful shutdown).
      terminationGracePeriodSeconds: 30
      volumes:
        - name: immybot-secret
          secret:
            secretName: {{ required "existingSecret.name is required: create a Secret with the ImmyBot client secret" $root.Values.existingSecret.name }}
            items:
              - key: {{ $root.Values.existingSecret.key }}
                path: client-secret
      {{- with $root.Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $root.Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- if $root.Values.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml $root.Values.topologySpreadConstraints | nindent 8 }}
      {{- else if ge (int ($shard.replicaCount | default $root.Values.replicaCount)) 2 }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "immybot-operator.selectorLabels" $root | nindent 14 }}
              {{- with $shard.name }}
              immybot.io/operator-shard: {{ . }}
              {{- end }}
      {{- end }}
{{- end }}
