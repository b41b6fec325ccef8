package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/ecsplane/ecsplane/internal/ingress"
	"github.com/ecsplane/ecsplane/internal/ledger"
	reportpage "github.com/ecsplane/ecsplane/internal/report"
	"github.com/ecsplane/ecsplane/internal/scenario"
	"github.com/ecsplane/ecsplane/internal/service"
	"github.com/ecsplane/ecsplane/internal/stack"
)

var reportCommand = command{
	name: "report", args: "<service>",
	about: "Write the report page of a deployed stack: its healthy and unhealthy targets per zone,\n" +
		"requests, target 5xx and CPU from CloudWatch (GetMetricData, one-minute periods), and\n" +
		"its deployments and actions from the ledger, over --from to --to. The page is one\n" +
		"self-contained HTML file. Tasks and instances per zone are not CloudWatch metrics; the\n" +
		"page of `ecsplane local` draws them from the simulator.",
	json: "print the page's data (charts, tables) as JSON instead of HTML",
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := reportCommand
	fs := cmd.flags()
	table := cmd.setting(fs, tableSetting)
	region := cmd.setting(fs, regionSetting)
	out := fs.String("out", "", "write the page to this file instead of stdout")
	fromFlag := fs.String("from", "", "start of the period, RFC 3339 (default: 3 hours before --to)")
	toFlag := fs.String("to", "", "end of the period, RFC 3339 (default: now)")
	positional, err := cmd.parse(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(positional) != 1 {
		return usagef(cmd.name, "want one %s, got %d arguments", cmd.args, len(positional))
	}
	to, from := time.Now().UTC().Truncate(time.Minute), time.Time{}
	for _, f := range []struct {
		flag string
		val  string
		into *time.Time
	}{{"to", *toFlag, &to}, {"from", *fromFlag, &from}} {
		if f.val == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, f.val)
		if err != nil {
			return usagef(cmd.name, "--%s: %v", f.flag, err)
		}
		*f.into = t
	}
	if from.IsZero() {
		from = to.Add(-3 * time.Hour)
	}
	if !from.Before(to) {
		return usagef(cmd.name, "--from %s is not before --to %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if err := cmd.require(table); err != nil {
		return err
	}
	cfg, err := cmd.loadAWS(ctx, region)
	if err != nil {
		return err
	}
	name := positional[0]
	led := ledger.New(dynamodb.NewFromConfig(cfg), *table.value)
	p, err := reportPage(ctx, cfg, led, name, from, to)
	if err != nil {
		return err
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if cmd.asJSON(fs) {
		return json.NewEncoder(w).Encode(p)
	}
	if err := reportpage.Render(w, p); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stderr, "report page of %s written to %s\n", name, *out)
	}
	return nil
}

// reportPage reads the stack's metrics and its ledger over [from, to).
func reportPage(ctx context.Context, cfg aws.Config, led *ledger.Ledger, name string, from, to time.Time) (reportpage.Page, error) {
	spec := stack.Spec{Name: name}
	ds, _, err := led.History(ctx, name, ledger.PageRequest{Limit: 100})
	if err != nil {
		return reportpage.Page{}, fmt.Errorf("reading the ledger's history of %s: %w", name, err)
	}
	as, _, err := led.Actions(ctx, name, ledger.PageRequest{Limit: 100})
	if err != nil {
		return reportpage.Page{}, fmt.Errorf("reading the ledger's actions of %s: %w", name, err)
	}
	elbc := elb.NewFromConfig(cfg)
	lbs, err := elbc.DescribeLoadBalancers(ctx, &elb.DescribeLoadBalancersInput{Names: []string{ingress.LoadBalancerName(spec)}})
	if err != nil || len(lbs.LoadBalancers) == 0 {
		return reportpage.Page{}, fmt.Errorf("finding the load balancer %s: %w", ingress.LoadBalancerName(spec), err)
	}
	lb := lbs.LoadBalancers[0]
	tgs, err := elbc.DescribeTargetGroups(ctx, &elb.DescribeTargetGroupsInput{Names: []string{ingress.TargetGroupName(spec)}})
	if err != nil || len(tgs.TargetGroups) == 0 {
		return reportpage.Page{}, fmt.Errorf("finding the target group %s: %w", ingress.TargetGroupName(spec), err)
	}
	lbDim, tgDim := service.ARNDimension(aws.ToString(lb.LoadBalancerArn)), service.ARNDimension(aws.ToString(tgs.TargetGroups[0].TargetGroupArn))
	var zones []string
	for _, z := range lb.AvailabilityZones {
		zones = append(zones, aws.ToString(z.ZoneName))
	}
	sort.Strings(zones)

	type query struct {
		chart, series, ns, metric, stat string
		dims                            []string
	}
	var qs []query
	for _, z := range zones {
		d := []string{"AvailabilityZone", z, "LoadBalancer", lbDim, "TargetGroup", tgDim}
		qs = append(qs, query{"healthy-targets", "healthy " + z, "AWS/ApplicationELB", "HealthyHostCount", "Minimum", d},
			query{"healthy-targets", "unhealthy " + z, "AWS/ApplicationELB", "UnHealthyHostCount", "Maximum", d})
	}
	qs = append(qs,
		query{"requests", "requests a minute", "AWS/ApplicationELB", "RequestCount", "Sum", []string{"LoadBalancer", lbDim}},
		query{"requests", "target 5xx a minute", "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum", []string{"LoadBalancer", lbDim}},
		query{"cpu", "CPU %", "AWS/ECS", "CPUUtilization", "Average", []string{"ClusterName", service.ClusterName(spec), "ServiceName", service.Name(spec)}})
	in := &cloudwatch.GetMetricDataInput{StartTime: aws.Time(from), EndTime: aws.Time(to), ScanBy: cwtypes.ScanByTimestampAscending}
	for i, q := range qs {
		var dims []cwtypes.Dimension
		for j := 0; j+1 < len(q.dims); j += 2 {
			dims = append(dims, cwtypes.Dimension{Name: aws.String(q.dims[j]), Value: aws.String(q.dims[j+1])})
		}
		in.MetricDataQueries = append(in.MetricDataQueries, cwtypes.MetricDataQuery{Id: aws.String(fmt.Sprintf("m%d", i)), Label: aws.String(q.series), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(q.ns), MetricName: aws.String(q.metric), Dimensions: dims}, Period: aws.Int32(60), Stat: aws.String(q.stat),
		}})
	}
	series := map[string]*reportpage.Series{}
	p := cloudwatch.NewGetMetricDataPaginator(cloudwatch.NewFromConfig(cfg), in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return reportpage.Page{}, fmt.Errorf("reading the metrics of %s: %w", name, err)
		}
		for _, r := range page.MetricDataResults {
			s := series[aws.ToString(r.Id)]
			if s == nil {
				s = &reportpage.Series{Name: aws.ToString(r.Label)}
				series[aws.ToString(r.Id)] = s
			}
			for i, t := range r.Timestamps {
				s.Points = append(s.Points, reportpage.Point{At: t, Value: r.Values[i]})
			}
		}
	}
	charts := map[string]*reportpage.Chart{
		"healthy-targets": {ID: "healthy-targets", Title: "Healthy and unhealthy targets per zone", Note: "HealthyHostCount (minimum) and UnHealthyHostCount (maximum) of the target group, per zone and minute."},
		"requests":        {ID: "requests", Title: "Requests and target 5xx", Note: "RequestCount and HTTPCode_Target_5XX_Count of the load balancer, per minute."},
		"cpu":             {ID: "cpu", Title: "Service CPU", Note: "CPUUtilization of the ECS service, average per minute."},
	}
	for i, q := range qs {
		if s := series[fmt.Sprintf("m%d", i)]; s != nil {
			charts[q.chart].Lines = append(charts[q.chart].Lines, *s)
		}
	}
	ledgerChart := reportpage.Chart{ID: "deployments", Title: "Deployments and actions", Note: "Each deployment of the ledger from its creation to its end, coloured by its status; each action at its time."}
	for _, d := range ds {
		end := d.UpdatedAt
		if t, ok := d.At(ledger.PhaseFinished); ok {
			end = t
		}
		ledgerChart.Spans = append(ledgerChart.Spans, reportpage.Span{Lane: "deployments", Label: d.ImageTag + " " + string(d.Status), Class: scenario.StatusClass(d.Status), From: d.CreatedAt, To: end})
	}
	for _, a := range as {
		ledgerChart.Marks = append(ledgerChart.Marks, reportpage.Mark{Lane: a.Kind + " actions", Label: a.Action + " " + a.Outcome + " " + a.Detail["instance"], At: a.At})
	}
	return reportpage.Page{
		Title: "ecsplane: stack " + name, Subtitle: fmt.Sprintf("%s to %s", from.Format(time.RFC3339), to.Format(time.RFC3339)),
		Source: fmt.Sprintf("CloudWatch metrics of load balancer %s and service %s (GetMetricData), and the ledger table %s.", lbDim, service.Name(spec), led.Table()),
		From:   from, To: to,
		Charts: []reportpage.Chart{*charts["healthy-targets"], *charts["requests"], *charts["cpu"], ledgerChart},
		Tables: []reportpage.Table{scenario.DeploymentsTable(ds), scenario.ActionsTable(as)},
	}, nil
}
