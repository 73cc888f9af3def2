// The operator's Grafana dashboard, built with Grafana's own Go SDK (its
// types and builders, so the JSON is a dashboard Grafana's schema knows),
// every query parsed by Prometheus' PromQL parser and every metric it reads
// checked against docs/metrics.md. hack/monitoring-check.sh runs it:
//
//	go run . -metrics ../../docs/metrics.md -out ../../charts/immybot-operator/files/grafana-dashboard.json          (check)
//	go run . -metrics ../../docs/metrics.md -out ../../charts/immybot-operator/files/grafana-dashboard.json -write   (write)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/prometheus/prometheus/promql/parser"
)

// query is one PromQL expression and its legend.
type query struct{ expr, legend string }

// panel is what the dashboard shows, before the SDK builds it.
type panel struct {
	title, description, unit string
	stat                     bool
	queries                  []query
}

// row is a titled group of panels.
type row struct {
	title  string
	panels []panel
}

// The running sessions are reported by the leader only; a standby reports
// none, hence max over the replicas.
var rows = []row{
	{"Fleet", []panel{
		{title: "Awaiting approval", unit: "short", stat: true, description: "MaintenanceSessions waiting for an approval (kubectl get maintenancesessions -A).",
			queries: []query{{`max(immybot_operator_sessions{phase="AwaitingApproval"})`, ""}}},
		{title: "In progress", unit: "short", stat: true, description: "Starting, queued in ImmyBot, or running.",
			queries: []query{{`max(sum by (instance) (immybot_operator_sessions{phase=~"Starting|Queued|Running"}))`, ""}}},
		{title: "Halted rollouts", unit: "short", stat: true, description: "Rollouts that stopped on failures beyond their budget.",
			queries: []query{{`max(immybot_operator_sessions{phase="Halted"})`, ""}}},
		{title: "ImmyBot reachable", unit: "bool", stat: true, description: "1 when the leader's last poll of ImmyBot worked.",
			queries: []query{{`max(immybot_operator_instance_up)`, ""}}},
		{title: "MaintenanceSessions by phase", unit: "short", description: "Every MaintenanceSession by its phase, over time.",
			queries: []query{{`max by (phase) (immybot_operator_sessions)`, "{{phase}}"}}},
		{title: "Outcomes", unit: "short", description: "Finished sessions by their result: Succeeded, PartiallySucceeded, Failed, Cancelled.",
			queries: []query{{`max by (phase) (immybot_operator_sessions{phase=~"Succeeded|PartiallySucceeded|Failed|Cancelled"})`, "{{phase}}"}}},
		{title: "Sessions finished", unit: "short", description: "MaintenanceSessions reaching a final phase, by it.",
			queries: []query{{`sum by (result) (increase(immybot_operator_sessions_finished_total[$__rate_interval]))`, "{{result}}"}}},
		{title: "Computers finished", unit: "short", description: "The computers of finished sessions, by outcome.",
			queries: []query{{`sum by (result) (increase(immybot_operator_computers_finished_total[$__rate_interval]))`, "{{result}}"}}},
		{title: "Failed actions by item (top 10 over the range)", unit: "short", description: "Which software fails most (the first 100 items have a label each, later ones are other).",
			queries: []query{{`topk(10, sum by (item) (increase(immybot_operator_failed_actions_total[$__range])))`, "{{item}}"}}},
		{title: "MaintenanceSchedules", unit: "short", description: "MaintenanceSchedules by the reason of their Ready condition (MissedSchedule: a run was missed).",
			queries: []query{{`max by (reason) (immybot_operator_maintenance_schedules)`, "{{reason}}"}}},
		{title: "ImmyBotSchedules", unit: "short", description: "ImmyBotSchedules by standing (Drifted: changed in ImmyBot's UI).",
			queries: []query{{`max by (standing) (immybot_operator_schedules)`, "{{standing}}"}}},
	}},
	{"ImmyBot", []panel{
		{title: "Calls to ImmyBot by status code", unit: "reqps", description: "The budget in use (10 requests/s by default); 429 is throttling, none is no answer.",
			queries: []query{{`sum by (code) (rate(immybot_operator_instance_requests_total[$__rate_interval]))`, "{{code}}"}}},
		{title: "Calls to ImmyBot by route", unit: "reqps", description: "Where the budget goes: starts, listings, reads of ended sessions.",
			queries: []query{{`sum by (method, route) (rate(immybot_operator_instance_requests_total[$__rate_interval]))`, "{{method}} {{route}}"}}},
		{title: "ImmyBot latency", unit: "s", description: "Call latency, 50th and 99th percentile.",
			queries: []query{
				{`histogram_quantile(0.5, sum by (le) (rate(immybot_operator_instance_request_duration_seconds_bucket[$__rate_interval])))`, "p50"},
				{`histogram_quantile(0.99, sum by (le) (rate(immybot_operator_instance_request_duration_seconds_bucket[$__rate_interval])))`, "p99"},
			}},
		{title: "Since the last successful poll", unit: "s", description: "Grows when the poller is frozen or ImmyBot fails (alert: ImmyBotOperatorPollerFrozen).",
			queries: []query{{`time() - max(immybot_operator_last_successful_poll_timestamp_seconds)`, "seconds"}}},
		{title: "Active sessions in ImmyBot", unit: "short", description: "As the last poll listed them, whoever started them.",
			queries: []query{{`max(immybot_operator_instance_active_sessions)`, "active"}}},
	}},
	{"Operator", []panel{
		{title: "Reconciles by result", unit: "ops", description: "ok, requeued (a normal wait) or error.",
			queries: []query{{`sum by (result) (rate(immybot_operator_reconciles_total[$__rate_interval]))`, "{{result}}"}}},
		{title: "Reconcile duration", unit: "s", description: "99th percentile, from a reconcile's start to its status written.",
			queries: []query{{`histogram_quantile(0.99, sum by (le) (rate(immybot_operator_reconcile_duration_seconds_bucket[$__rate_interval])))`, "p99"}}},
		{title: "API-server write waits", unit: "s", description: "99th percentile wait at the write gate, by priority; long final waits: the API server cannot keep up.",
			queries: []query{{`histogram_quantile(0.99, sum by (le, priority) (rate(immybot_operator_api_write_wait_seconds_bucket[$__rate_interval])))`, "{{priority}}"}}},
		{title: "API-server requests", unit: "reqps", description: "Requests this operator sends to the Kubernetes API server, by verb.",
			queries: []query{{`sum by (verb) (rate(immybot_operator_kube_requests_total[$__rate_interval]))`, "{{verb}}"}}},
	}},
}

func main() {
	out := flag.String("out", "", "the dashboard's JSON file")
	metricsDoc := flag.String("metrics", "", "docs/metrics.md")
	write := flag.Bool("write", false, "write the file instead of comparing with it")
	flag.Parse()
	if err := run(*out, *metricsDoc, *write); err != nil {
		fmt.Fprintln(os.Stderr, "dashboard:", err)
		os.Exit(1)
	}
}

func run(out, metricsDoc string, write bool) error {
	documented, err := documentedMetrics(metricsDoc)
	if err != nil {
		return err
	}
	if err := checkQueries(documented); err != nil {
		return err
	}
	built, err := build()
	if err != nil {
		return err
	}
	text, err := json.MarshalIndent(built, "", "  ")
	if err != nil {
		return err
	}
	text = append(text, '\n')
	if write {
		return os.WriteFile(out, text, 0o644)
	}
	committed, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	if !bytes.Equal(committed, text) {
		return fmt.Errorf("%s is stale: run hack/monitoring-check.sh --write", out)
	}
	fmt.Printf("dashboard: %d panels, every query parsed, every metric documented, %s up to date\n", countPanels(), out)
	return nil
}

func countPanels() int {
	n := 0
	for _, r := range rows {
		n += len(r.panels)
	}
	return n
}

// documentedMetrics reads the metric names of docs/metrics.md's table.
func documentedMetrics(path string) (map[string]bool, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// The metric table only: from its header to the first line that is
	// not a table row (the spans' table comes later).
	table := string(text)
	if i := strings.Index(table, "| metric |"); i >= 0 {
		table = table[i:]
	}
	if i := strings.Index(table, "\n\n"); i >= 0 {
		table = table[:i]
	}
	names := map[string]bool{}
	re := regexp.MustCompile("(?m)^\\| `([a-z_]+)`")
	for _, m := range re.FindAllStringSubmatch(table, -1) {
		names["immybot_operator_"+m[1]] = true
	}
	if len(names) < 10 {
		return nil, fmt.Errorf("%s lists %d metrics: not the table this expects", path, len(names))
	}
	return names, nil
}

// checkQueries parses every query as Prometheus would and checks that each
// metric it selects is documented (a histogram by its _bucket, _sum, _count).
func checkQueries(documented map[string]bool) error {
	// Prometheus' own parser with its default options (its functions).
	promql := parser.NewParser(parser.Options{})
	var problems []string
	for _, r := range rows {
		for _, p := range r.panels {
			for _, q := range p.queries {
				// Grafana's interval variables, as Grafana replaces them.
				text := strings.NewReplacer("$__rate_interval", "5m", "$__range", "6h").Replace(q.expr)
				expr, err := promql.ParseExpr(text)
				if err != nil {
					problems = append(problems, fmt.Sprintf("%q: %s: %v", p.title, q.expr, err))
					continue
				}
				parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
					vs, ok := node.(*parser.VectorSelector)
					if !ok {
						return nil
					}
					name := vs.Name
					for _, suffix := range []string{"_bucket", "_sum", "_count"} {
						if base := strings.TrimSuffix(name, suffix); base != name && documented[base] {
							name = base
						}
					}
					if !documented[name] {
						problems = append(problems, fmt.Sprintf("%q reads %s, which docs/metrics.md does not list", p.title, vs.Name))
					}
					return nil
				})
			}
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		return fmt.Errorf("queries:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func build() (dashboard.Dashboard, error) {
	datasource := common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}
	b := dashboard.NewDashboardBuilder("ImmyBot operator").
		Uid("immybot-operator").
		Description("MaintenanceSessions, ImmyBot and the operator (docs/metrics.md, docs/alerts.md).").
		Tags([]string{"immybot", "kubernetes", "operator"}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Prometheus").Type("prometheus"))
	for _, r := range rows {
		b = b.WithRow(dashboard.NewRowBuilder(r.title))
		for _, p := range r.panels {
			if p.stat {
				s := stat.NewPanelBuilder().Title(p.title).Description(p.description).Unit(p.unit).Datasource(datasource).Span(6).Height(4)
				for _, q := range p.queries {
					s = s.WithTarget(prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend))
				}
				b = b.WithPanel(s)
				continue
			}
			t := timeseries.NewPanelBuilder().Title(p.title).Description(p.description).Unit(p.unit).Datasource(datasource).Span(12).Height(8)
			for _, q := range p.queries {
				t = t.WithTarget(prometheus.NewDataqueryBuilder().Expr(q.expr).LegendFormat(q.legend))
			}
			b = b.WithPanel(t)
		}
	}
	return b.Build()
}
