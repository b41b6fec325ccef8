package sim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/ecsplane/ecsplane/internal/events"
)

// metricAlarm is a single-metric alarm.
type metricAlarm struct {
	seq                                 uint64
	name, arn, desc                     string
	namespace, metric                   string
	dims                                []types.Dimension
	stat                                types.Statistic
	period, evalPeriods, toAlarm        int32
	threshold                           float64
	comparison                          types.ComparisonOperator
	treatMissing                        string
	actionsEnabled                      bool
	alarmActions, okActions, insActions []string
	unit                                types.StandardUnit
	state                               types.StateValue
	reason, reasonData                  string
	stateUpdated, configUpdated         time.Time
	metricID                            string
	tags                                []types.Tag
}

func (s *Sim) alarmArn(name string) string { return s.arn("cloudwatch", "alarm:"+name) }

func (s *Sim) putMetricAlarm(in *cloudwatch.PutMetricAlarmInput) (*cloudwatch.PutMetricAlarmOutput, error) {
	if len(in.Metrics) > 0 {
		return nil, cwInvalid("The simulator evaluates single-metric alarms only; Metrics is not supported.")
	}
	if in.ThresholdMetricId != nil || strings.Contains(string(in.ComparisonOperator), "Band") {
		return nil, cwInvalid("The simulator does not evaluate anomaly detection alarms.")
	}
	if in.Statistic == "" {
		return nil, &types.MissingRequiredParameterException{Message: aws.String("Statistic or ExtendedStatistic must be specified.")}
	}
	period := aws.ToInt32(in.Period)
	if period != 10 && period != 20 && period != 30 && (period < 60 || period%60 != 0) {
		return nil, cwInvalid("The parameter Period must be 10, 20, 30 or a multiple of 60.")
	}
	evals := aws.ToInt32(in.EvaluationPeriods)
	if evals < 1 {
		return nil, cwInvalid("The parameter EvaluationPeriods must be greater than or equal to 1.")
	}
	toAlarm := evals
	if in.DatapointsToAlarm != nil {
		toAlarm = *in.DatapointsToAlarm
		if toAlarm < 1 || toAlarm > evals {
			return nil, cwInvalid("DatapointsToAlarm must be between 1 and EvaluationPeriods.")
		}
	}
	treat := aws.ToString(in.TreatMissingData)
	if treat == "" {
		treat = "missing"
	}
	if !containsString([]string{"missing", "breaching", "notBreaching", "ignore"}, treat) {
		return nil, cwInvalid("The value %s for parameter TreatMissingData is invalid.", treat)
	}
	name := aws.ToString(in.AlarmName)
	a, exists := s.cw.alarms[name]
	if !exists {
		a = &metricAlarm{
			seq: s.cw.next(), name: name, arn: s.alarmArn(name), state: types.StateValueInsufficientData,
			reason: "Unchecked: Initial alarm creation", stateUpdated: s.clock.now, metricID: s.newUUID(),
		}
	}
	a.desc, a.namespace, a.metric, a.dims = aws.ToString(in.AlarmDescription), aws.ToString(in.Namespace), aws.ToString(in.MetricName), sortedDims(in.Dimensions)
	a.stat, a.period, a.evalPeriods, a.toAlarm = in.Statistic, period, evals, toAlarm
	a.threshold, a.comparison, a.treatMissing = aws.ToFloat64(in.Threshold), in.ComparisonOperator, treat
	a.actionsEnabled = in.ActionsEnabled == nil || *in.ActionsEnabled
	a.alarmActions, a.okActions, a.insActions = in.AlarmActions, in.OKActions, in.InsufficientDataActions
	a.unit, a.configUpdated = in.Unit, s.clock.now
	// Tags given to PutMetricAlarm apply only when it creates the alarm.
	if !exists {
		a.tags = append([]types.Tag(nil), in.Tags...)
	}
	s.cw.alarms[name] = a
	s.ensureMinuteTick()
	return &cloudwatch.PutMetricAlarmOutput{}, nil
}

func (s *Sim) alarmOut(a *metricAlarm) types.MetricAlarm {
	out := types.MetricAlarm{
		AlarmName: aws.String(a.name), AlarmArn: aws.String(a.arn), Namespace: aws.String(a.namespace), MetricName: aws.String(a.metric),
		Dimensions: a.dims, Statistic: a.stat, Period: aws.Int32(a.period), EvaluationPeriods: aws.Int32(a.evalPeriods),
		DatapointsToAlarm: aws.Int32(a.toAlarm), Threshold: aws.Float64(a.threshold), ComparisonOperator: a.comparison,
		TreatMissingData: aws.String(a.treatMissing), ActionsEnabled: aws.Bool(a.actionsEnabled),
		AlarmActions: append([]string{}, a.alarmActions...), OKActions: append([]string{}, a.okActions...),
		InsufficientDataActions: append([]string{}, a.insActions...), StateValue: a.state, StateReason: aws.String(a.reason),
		StateUpdatedTimestamp: aws.Time(a.stateUpdated), StateTransitionedTimestamp: aws.Time(a.stateUpdated),
		AlarmConfigurationUpdatedTimestamp: aws.Time(a.configUpdated), Unit: a.unit,
	}
	if a.dims == nil {
		out.Dimensions = []types.Dimension{}
	}
	if a.desc != "" {
		out.AlarmDescription = aws.String(a.desc)
	}
	if a.reasonData != "" {
		out.StateReasonData = aws.String(a.reasonData)
	}
	return out
}

func (s *Sim) describeAlarms(in *cloudwatch.DescribeAlarmsInput) (*cloudwatch.DescribeAlarmsOutput, error) {
	if len(in.AlarmNames) > 0 && in.AlarmNamePrefix != nil {
		return nil, &types.InvalidParameterCombinationException{Message: aws.String("AlarmNamePrefix and AlarmNames cannot be specified together.")}
	}
	all := sortedBySeq(s.cw.alarms, func(a *metricAlarm) uint64 { return a.seq })
	// DescribeAlarms lists alarms by name.
	sortAlarms(all)
	var alarms []types.MetricAlarm
	for _, a := range all {
		if len(in.AlarmNames) > 0 && !containsString(in.AlarmNames, a.name) {
			continue
		}
		if p := aws.ToString(in.AlarmNamePrefix); p != "" && !strings.HasPrefix(a.name, p) {
			continue
		}
		if in.StateValue != "" && a.state != in.StateValue {
			continue
		}
		if p := aws.ToString(in.ActionPrefix); p != "" {
			found := false
			for _, act := range append(append(append([]string{}, a.alarmActions...), a.okActions...), a.insActions...) {
				found = found || strings.HasPrefix(act, p)
			}
			if !found {
				continue
			}
		}
		alarms = append(alarms, s.alarmOut(a))
	}
	page, next, err := listPage(alarms, in.MaxRecords, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextToken{Message: aws.String("The service cannot process the token.")}
	}
	return &cloudwatch.DescribeAlarmsOutput{MetricAlarms: page, CompositeAlarms: []types.CompositeAlarm{}, NextToken: next}, nil
}

func sortAlarms(as []*metricAlarm) {
	slices.SortFunc(as, func(a, b *metricAlarm) int { return cmp.Compare(a.name, b.name) })
}

func (s *Sim) deleteAlarms(in *cloudwatch.DeleteAlarmsInput) (*cloudwatch.DeleteAlarmsOutput, error) {
	for _, n := range in.AlarmNames {
		if _, ok := s.cw.alarms[n]; !ok {
			return nil, &types.ResourceNotFound{Message: aws.String("Alarm(s) not found: [" + n + "]")}
		}
	}
	for _, n := range in.AlarmNames {
		delete(s.cw.alarms, n)
	}
	return &cloudwatch.DeleteAlarmsOutput{}, nil
}

func (s *Sim) setAlarmState(in *cloudwatch.SetAlarmStateInput) (*cloudwatch.SetAlarmStateOutput, error) {
	a, ok := s.cw.alarms[aws.ToString(in.AlarmName)]
	if !ok {
		return nil, &types.ResourceNotFound{Message: aws.String("Alarm " + aws.ToString(in.AlarmName) + " not found")}
	}
	if in.StateReasonData != nil && !json.Valid([]byte(*in.StateReasonData)) {
		return nil, &types.InvalidFormatFault{Message: aws.String("The StateReasonData is not valid JSON.")}
	}
	s.transition(a, in.StateValue, aws.ToString(in.StateReason), aws.ToString(in.StateReasonData))
	return &cloudwatch.SetAlarmStateOutput{}, nil
}

// bucket is one evaluated period.
type bucket struct {
	start   time.Time
	value   float64
	samples float64
	present bool
}

// evaluationRangeExtra is how many periods beyond its evaluation periods an
// alarm looks back for datapoints. CloudWatch retrieves "a higher number of
// data points than the number specified as Evaluation Periods" without
// giving the number; the simulator takes two more, as the documentation's
// example (3 evaluation periods, 5 datapoints) shows.
const evaluationRangeExtra = 2

// evaluateAlarm evaluates an alarm as CloudWatch does each minute, over its
// evaluation range: N evaluation periods, of which M must breach to alarm,
// with missing datapoints treated as the alarm says.
func (s *Sim) evaluateAlarm(a *metricAlarm) {
	period := time.Duration(a.period) * time.Second
	end := s.clock.now.Truncate(period)
	ser := s.cw.series[metricKey(a.namespace, a.metric, a.dims)]
	n := int(a.evalPeriods) + evaluationRangeExtra
	buckets := make([]bucket, n)
	points := make([]datapointClass, n)
	for i := range buckets {
		from := end.Add(-time.Duration(n-i) * period)
		buckets[i].start = from
		if ser != nil {
			buckets[i].value, buckets[i].samples, buckets[i].present = ser.stat(from, from.Add(period), a.stat)
		}
		switch {
		case !buckets[i].present:
			points[i] = pointMissing
		case a.breaches(buckets[i].value):
			points[i] = pointBreaching
		default:
			points[i] = pointOK
		}
	}
	next := alarmStateFor(points, int(a.evalPeriods), int(a.toAlarm), a.treatMissing, a.state)
	if next == a.state {
		s.repeatActions(a)
		return
	}
	evaluated := buckets[n-int(a.evalPeriods):]
	breaching := 0
	for _, p := range points[n-int(a.evalPeriods):] {
		if p == pointBreaching {
			breaching++
		}
	}
	reason, data := s.thresholdReason(a, evaluated, breaching, next)
	s.transition(a, next, reason, data)
}

// datapointClass is what one period of an alarm's evaluation range holds.
type datapointClass int8

const (
	pointMissing datapointClass = iota
	pointOK
	pointBreaching
)

// alarmStateFor decides an alarm's state from its evaluation range (oldest
// first), its evaluation periods n, its datapoints to alarm m, its treatment
// of missing data and its current state, following "How alarm state is
// evaluated when data is missing" and its two tables:
//
//   - With at least n real datapoints in the range, the most recent n decide
//     and the treatment of missing data does not matter.
//   - With none, missing goes to INSUFFICIENT_DATA, ignore keeps the state,
//     breaching alarms and notBreaching is OK.
//   - Otherwise every real datapoint of the range is evaluated, and the rest
//     of the n is filled: breaching and notBreaching fill as their names
//     say. missing and ignore fill nothing: enough breaching datapoints
//     alarm, and a datapoint within the threshold makes it OK. When every
//     real datapoint breaches but there are fewer than m, missing alarms if
//     the oldest of them is at least m periods old ("the oldest evaluated
//     data point is breaching and there aren't any non-breaching data
//     points", the documentation's "premature transition" rule) and is
//     INSUFFICIENT_DATA otherwise; ignore keeps the state.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#CloudWatch-alarms-avoiding-premature-transition
func alarmStateFor(points []datapointClass, n, m int, treat string, current types.StateValue) types.StateValue {
	var real []datapointClass
	breached, oldestBreach := 0, -1
	for i, p := range points {
		if p == pointMissing {
			continue
		}
		real = append(real, p)
		if p == pointBreaching {
			breached++
			if oldestBreach < 0 {
				oldestBreach = len(points) - i
			}
		}
	}
	verdict := func(alarm bool) types.StateValue {
		if alarm {
			return types.StateValueAlarm
		}
		return types.StateValueOk
	}
	if len(real) >= n {
		recent := 0
		for _, p := range real[len(real)-n:] {
			if p == pointBreaching {
				recent++
			}
		}
		return verdict(recent >= m)
	}
	fill := n - len(real)
	switch treat {
	case "breaching":
		return verdict(breached+fill >= m)
	case "notBreaching":
		return verdict(breached >= m)
	}
	switch {
	case len(real) == 0 && treat == "missing":
		return types.StateValueInsufficientData
	case breached >= m || breached < len(real):
		return verdict(breached >= m)
	case treat == "missing" && oldestBreach >= m:
		return types.StateValueAlarm
	case treat == "missing":
		return types.StateValueInsufficientData
	}
	return current
}

func (a *metricAlarm) breaches(v float64) bool {
	switch a.comparison {
	case types.ComparisonOperatorGreaterThanThreshold:
		return v > a.threshold
	case types.ComparisonOperatorGreaterThanOrEqualToThreshold:
		return v >= a.threshold
	case types.ComparisonOperatorLessThanThreshold:
		return v < a.threshold
	case types.ComparisonOperatorLessThanOrEqualToThreshold:
		return v <= a.threshold
	}
	return false
}

// javaFloat formats a number the way CloudWatch's reasons do (50.0, 0.25).
func javaFloat(v float64) string {
	out := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(out, ".eE") {
		out += ".0"
	}
	return out
}

func (s *Sim) thresholdReason(a *metricAlarm, buckets []bucket, breaching int, next types.StateValue) (string, string) {
	var shown []string
	var recent []float64
	type evaluated struct {
		Timestamp   string   `json:"timestamp"`
		SampleCount *float64 `json:"sampleCount,omitempty"`
		Value       *float64 `json:"value,omitempty"`
	}
	var evals []evaluated
	for i := len(buckets) - 1; i >= 0; i-- {
		b := buckets[i]
		ev := evaluated{Timestamp: cwTime(b.start)}
		if b.present {
			shown = append(shown, fmt.Sprintf("%s (%s)", javaFloat(b.value), b.start.UTC().Format("02/01/06 15:04:05")))
			recent = append([]float64{b.value}, recent...)
			v, n := b.value, b.samples
			ev.Value, ev.SampleCount = &v, &n
		}
		evals = append(evals, ev)
	}
	verb := map[types.ComparisonOperator]string{
		types.ComparisonOperatorGreaterThanThreshold:          "greater than",
		types.ComparisonOperatorGreaterThanOrEqualToThreshold: "greater than or equal to",
		types.ComparisonOperatorLessThanThreshold:             "less than",
		types.ComparisonOperatorLessThanOrEqualToThreshold:    "less than or equal to",
	}[a.comparison]
	count := breaching
	if next != types.StateValueAlarm {
		count = len(buckets) - breaching
		verb = "not " + verb
	}
	var reason string
	if len(shown) == 0 {
		reason = fmt.Sprintf("Insufficient Data: %d datapoints were unknown.", len(buckets))
	} else {
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] was %s the threshold (%s) (minimum %d datapoint for %s -> %s transition).",
			count, len(buckets), strings.Join(shown, ", "), verb, javaFloat(a.threshold), a.toAlarm, stateWord(a.state), stateWord(next))
	}
	if recent == nil {
		recent = []float64{}
	}
	data, _ := json.Marshal(struct {
		Version             string      `json:"version"`
		QueryDate           string      `json:"queryDate"`
		StartDate           string      `json:"startDate"`
		Statistic           string      `json:"statistic"`
		Period              int32       `json:"period"`
		RecentDatapoints    []float64   `json:"recentDatapoints"`
		Threshold           float64     `json:"threshold"`
		EvaluatedDatapoints []evaluated `json:"evaluatedDatapoints"`
	}{"1.0", cwTime(s.clock.now), cwTime(buckets[0].start), string(a.stat), a.period, recent, a.threshold, evals})
	return reason, string(data)
}

func stateWord(v types.StateValue) string {
	if v == types.StateValueInsufficientData {
		return "INSUFFICIENT_DATA"
	}
	return string(v)
}

// cwTime is CloudWatch's timestamp format in alarm events and reason data.
func cwTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

// transition moves an alarm to a new state, emits its state change and runs
// its actions.
func (s *Sim) transition(a *metricAlarm, next types.StateValue, reason, data string) {
	prev := events.AlarmState{Reason: a.reason, ReasonData: a.reasonData, Timestamp: cwTime(a.stateUpdated), Value: stateWord(a.state)}
	changed := next != a.state
	a.state, a.reason, a.reasonData, a.stateUpdated = next, reason, data, s.clock.now
	m := events.AlarmMetric{ID: a.metricID, ReturnData: true}
	m.MetricStat.Metric.Dimensions = map[string]string{}
	for _, d := range a.dims {
		m.MetricStat.Metric.Dimensions[aws.ToString(d.Name)] = aws.ToString(d.Value)
	}
	m.MetricStat.Metric.Name, m.MetricStat.Metric.Namespace = a.metric, a.namespace
	m.MetricStat.Period, m.MetricStat.Stat = a.period, string(a.stat)
	if changed {
		s.emit([]string{a.arn}, events.AlarmStateChange{
			AlarmName: a.name, Configuration: events.AlarmConfiguration{Description: a.desc, Metrics: []events.AlarmMetric{m}}, PreviousState: prev,
			State: events.AlarmState{Reason: reason, ReasonData: data, Timestamp: cwTime(s.clock.now), Value: stateWord(next)},
		})
		s.log.Debug("sim_alarm_state", "alarm", a.name, "from", prev.Value, "to", next)
		s.ecsOnAlarm(a.name)
	}
	s.runActions(a)
}

// runActions invokes the actions of the alarm's state. The simulator
// understands Application Auto Scaling policy ARNs; other actions are
// recorded nowhere, as their targets are not simulated.
func (s *Sim) runActions(a *metricAlarm) {
	if !a.actionsEnabled {
		return
	}
	var acts []string
	switch a.state {
	case types.StateValueAlarm:
		acts = a.alarmActions
	case types.StateValueOk:
		acts = a.okActions
	default:
		acts = a.insActions
	}
	for _, arn := range acts {
		if strings.Contains(arn, ":scalingPolicy:") {
			s.aasExecute(arn, a)
		}
	}
}

// repeatActions re-invokes scaling actions while an alarm stays in ALARM:
// CloudWatch repeats Auto Scaling actions every evaluation.
func (s *Sim) repeatActions(a *metricAlarm) {
	if a.state == types.StateValueAlarm {
		s.runActions(a)
	}
}

// latestValue returns the most recent complete period's value of the
// alarm's metric.
func (s *Sim) latestValue(a *metricAlarm) (float64, bool) {
	ser := s.cw.series[metricKey(a.namespace, a.metric, a.dims)]
	if ser == nil {
		return 0, false
	}
	period := time.Duration(a.period) * time.Second
	end := s.clock.now.Truncate(period)
	v, _, ok := ser.stat(end.Add(-period), end, a.stat)
	if math.IsNaN(v) {
		return 0, false
	}
	return v, ok
}

func (s *Sim) alarmByArn(arn string) (*metricAlarm, error) {
	for _, a := range s.cw.alarms {
		if a.arn == arn {
			return a, nil
		}
	}
	return nil, &types.ResourceNotFoundException{Message: aws.String("Resource " + arn + " not found")}
}

func (s *Sim) cwListTags(in *cloudwatch.ListTagsForResourceInput) (*cloudwatch.ListTagsForResourceOutput, error) {
	a, err := s.alarmByArn(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	return &cloudwatch.ListTagsForResourceOutput{Tags: append([]types.Tag{}, a.tags...)}, nil
}

func (s *Sim) cwTagResource(in *cloudwatch.TagResourceInput) (*cloudwatch.TagResourceOutput, error) {
	a, err := s.alarmByArn(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	for _, t := range in.Tags {
		a.tags = slices.DeleteFunc(a.tags, func(o types.Tag) bool { return aws.ToString(o.Key) == aws.ToString(t.Key) })
		a.tags = append(a.tags, t)
	}
	return &cloudwatch.TagResourceOutput{}, nil
}

func (s *Sim) cwUntagResource(in *cloudwatch.UntagResourceInput) (*cloudwatch.UntagResourceOutput, error) {
	a, err := s.alarmByArn(aws.ToString(in.ResourceARN))
	if err != nil {
		return nil, err
	}
	a.tags = slices.DeleteFunc(a.tags, func(t types.Tag) bool { return slices.Contains(in.TagKeys, aws.ToString(t.Key)) })
	return &cloudwatch.UntagResourceOutput{}, nil
}
