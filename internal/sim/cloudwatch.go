package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

const cwID = cloudwatch.ServiceID

func init() {
	registerService(service{id: cwID, throttleCode: "Throttling", throttleMessage: "Rate exceeded"})
	components = append(components, func(s *Sim) {
		s.cw = &cwState{series: map[string]*metricSeries{}, alarms: map[string]*metricAlarm{}}
	})
	handle(cwID, "PutMetricData", (*Sim).putMetricData)
	handle(cwID, "GetMetricStatistics", (*Sim).getMetricStatistics)
	handle(cwID, "GetMetricData", (*Sim).getMetricData)
	handle(cwID, "ListMetrics", (*Sim).listMetrics)
	handle(cwID, "PutMetricAlarm", (*Sim).putMetricAlarm)
	handle(cwID, "DescribeAlarms", (*Sim).describeAlarms)
	handle(cwID, "DeleteAlarms", (*Sim).deleteAlarms)
	handle(cwID, "SetAlarmState", (*Sim).setAlarmState)
	handle(cwID, "ListTagsForResource", (*Sim).cwListTags)
	handle(cwID, "TagResource", (*Sim).cwTagResource)
	handle(cwID, "UntagResource", (*Sim).cwUntagResource)
}

// metricRetention is how long the simulator keeps datapoints; alarms and
// the simulator's users look back far less.
const metricRetention = 6 * time.Hour

// cwState is the simulated CloudWatch: metrics and metric alarms.
type cwState struct {
	seq     uint64
	series  map[string]*metricSeries
	alarms  map[string]*metricAlarm
	ticking bool
}

func (st *cwState) next() uint64 {
	st.seq++
	return st.seq
}

// metricSeries is one metric: a namespace, a name and a set of dimensions.
type metricSeries struct {
	seq             uint64
	namespace, name string
	dims            []types.Dimension
	points          []datapoint
}

// datapoint is what one PutMetricData datum (or one simulated minute)
// contributed.
type datapoint struct {
	ts                   time.Time
	sum, count, min, max float64
}

// metricKey identifies a series; dimensions are sorted by name.
func metricKey(namespace, name string, dims []types.Dimension) string {
	parts := make([]string, 0, len(dims))
	for _, d := range dims {
		parts = append(parts, aws.ToString(d.Name)+"="+aws.ToString(d.Value))
	}
	sort.Strings(parts)
	return namespace + "|" + name + "|" + strings.Join(parts, ",")
}

func sortedDims(dims []types.Dimension) []types.Dimension {
	out := slices.Clone(dims)
	slices.SortFunc(out, func(a, b types.Dimension) int { return cmp.Compare(aws.ToString(a.Name), aws.ToString(b.Name)) })
	return out
}

// dims builds dimensions from name/value pairs.
func dims(kv ...string) []types.Dimension {
	out := make([]types.Dimension, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Dimension{Name: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

// record adds a datapoint to a series, creating it if needed.
func (s *Sim) record(namespace, name string, d []types.Dimension, ts time.Time, p datapoint) {
	key := metricKey(namespace, name, d)
	ser, ok := s.cw.series[key]
	if !ok {
		ser = &metricSeries{seq: s.cw.next(), namespace: namespace, name: name, dims: sortedDims(d)}
		s.cw.series[key] = ser
	}
	p.ts = ts
	ser.points = append(ser.points, p)
	if cut := s.clock.now.Add(-metricRetention); len(ser.points) > 0 && ser.points[0].ts.Before(cut) {
		i := sort.Search(len(ser.points), func(i int) bool { return !ser.points[i].ts.Before(cut) })
		ser.points = append([]datapoint(nil), ser.points[i:]...)
	}
}

// putValue records one sample.
func (s *Sim) putValue(namespace, name string, d []types.Dimension, ts time.Time, v float64) {
	s.record(namespace, name, d, ts, datapoint{sum: v, count: 1, min: v, max: v})
}

// stat aggregates a series' points in [from, to) with a statistic; ok is
// false when there are none.
func (ser *metricSeries) stat(from, to time.Time, stat types.Statistic) (float64, float64, bool) {
	var agg datapoint
	agg.min, agg.max = math.Inf(1), math.Inf(-1)
	for _, p := range ser.points {
		if p.ts.Before(from) || !p.ts.Before(to) {
			continue
		}
		agg.sum += p.sum
		agg.count += p.count
		agg.min = math.Min(agg.min, p.min)
		agg.max = math.Max(agg.max, p.max)
	}
	if agg.count == 0 {
		return 0, 0, false
	}
	switch stat {
	case types.StatisticSum:
		return agg.sum, agg.count, true
	case types.StatisticMinimum:
		return agg.min, agg.count, true
	case types.StatisticMaximum:
		return agg.max, agg.count, true
	case types.StatisticSampleCount:
		return agg.count, agg.count, true
	}
	return agg.sum / agg.count, agg.count, true
}

func cwInvalid(format string, args ...any) error {
	return &types.InvalidParameterValueException{Message: aws.String(fmt.Sprintf(format, args...))}
}

func (s *Sim) putMetricData(in *cloudwatch.PutMetricDataInput) (*cloudwatch.PutMetricDataOutput, error) {
	ns := aws.ToString(in.Namespace)
	if strings.HasPrefix(ns, "AWS/") {
		return nil, cwInvalid("The value AWS/ for parameter Namespace is invalid.")
	}
	for _, d := range in.MetricData {
		ts := s.clock.now
		if d.Timestamp != nil {
			ts = *d.Timestamp
		}
		name := aws.ToString(d.MetricName)
		switch {
		case d.StatisticValues != nil:
			sv := d.StatisticValues
			s.record(ns, name, d.Dimensions, ts, datapoint{sum: aws.ToFloat64(sv.Sum), count: aws.ToFloat64(sv.SampleCount), min: aws.ToFloat64(sv.Minimum), max: aws.ToFloat64(sv.Maximum)})
		case len(d.Values) > 0:
			for i, v := range d.Values {
				n := 1.0
				if i < len(d.Counts) {
					n = d.Counts[i]
				}
				s.record(ns, name, d.Dimensions, ts, datapoint{sum: v * n, count: n, min: v, max: v})
			}
		default:
			s.putValue(ns, name, d.Dimensions, ts, aws.ToFloat64(d.Value))
		}
	}
	s.ensureMinuteTick()
	return &cloudwatch.PutMetricDataOutput{}, nil
}

func (s *Sim) getMetricStatistics(in *cloudwatch.GetMetricStatisticsInput) (*cloudwatch.GetMetricStatisticsOutput, error) {
	period := time.Duration(aws.ToInt32(in.Period)) * time.Second
	if period <= 0 {
		return nil, cwInvalid("The parameter Period must be greater than 0.")
	}
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, &types.MissingRequiredParameterException{Message: aws.String("Must specify either Statistics or ExtendedStatistics")}
	}
	out := &cloudwatch.GetMetricStatisticsOutput{Label: in.MetricName, Datapoints: []types.Datapoint{}}
	ser, ok := s.cw.series[metricKey(aws.ToString(in.Namespace), aws.ToString(in.MetricName), in.Dimensions)]
	if !ok {
		return out, nil
	}
	start, end := aws.ToTime(in.StartTime).Truncate(period), aws.ToTime(in.EndTime)
	for from := start; from.Before(end); from = from.Add(period) {
		dp := types.Datapoint{Timestamp: aws.Time(from), Unit: in.Unit}
		have := false
		for _, st := range in.Statistics {
			v, _, ok := ser.stat(from, from.Add(period), st)
			if !ok {
				continue
			}
			have = true
			switch st {
			case types.StatisticAverage:
				dp.Average = aws.Float64(v)
			case types.StatisticSum:
				dp.Sum = aws.Float64(v)
			case types.StatisticMinimum:
				dp.Minimum = aws.Float64(v)
			case types.StatisticMaximum:
				dp.Maximum = aws.Float64(v)
			case types.StatisticSampleCount:
				dp.SampleCount = aws.Float64(v)
			}
		}
		if have {
			if dp.Unit == "" {
				dp.Unit = types.StandardUnitNone
			}
			out.Datapoints = append(out.Datapoints, dp)
		}
	}
	return out, nil
}

// getMetricData answers MetricStat queries: one value per period in which
// the metric has datapoints, newest first unless ScanBy says otherwise, as
// GetMetricData returns them. Metric math expressions are not simulated.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html
func (s *Sim) getMetricData(in *cloudwatch.GetMetricDataInput) (*cloudwatch.GetMetricDataOutput, error) {
	if len(in.MetricDataQueries) == 0 || len(in.MetricDataQueries) > 500 {
		return nil, cwInvalid("The collection MetricDataQueries must not be empty and must hold at most 500 queries.")
	}
	start, end := aws.ToTime(in.StartTime), aws.ToTime(in.EndTime)
	if !start.Before(end) {
		return nil, cwInvalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	out := &cloudwatch.GetMetricDataOutput{}
	for _, q := range in.MetricDataQueries {
		ms := q.MetricStat
		if ms == nil || ms.Metric == nil {
			return nil, cwInvalid("The query %s has no MetricStat: the simulator answers MetricStat queries, not metric math.", aws.ToString(q.Id))
		}
		period := time.Duration(aws.ToInt32(ms.Period)) * time.Second
		if period <= 0 {
			return nil, cwInvalid("The parameter MetricStat.Period must be greater than 0.")
		}
		if !slices.Contains(types.Statistic("").Values(), types.Statistic(aws.ToString(ms.Stat))) {
			return nil, cwInvalid("The query %s's Stat %q is not one the simulator computes: SampleCount, Average, Sum, Minimum or Maximum.", aws.ToString(q.Id), aws.ToString(ms.Stat))
		}
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		res := types.MetricDataResult{Id: q.Id, Label: ms.Metric.MetricName, StatusCode: types.StatusCodeComplete}
		if q.Label != nil {
			res.Label = q.Label
		}
		if ser, ok := s.cw.series[metricKey(aws.ToString(ms.Metric.Namespace), aws.ToString(ms.Metric.MetricName), ms.Metric.Dimensions)]; ok {
			for from := start.Truncate(period); from.Before(end); from = from.Add(period) {
				if v, _, ok := ser.stat(from, from.Add(period), types.Statistic(aws.ToString(ms.Stat))); ok {
					res.Timestamps = append(res.Timestamps, from)
					res.Values = append(res.Values, v)
				}
			}
		}
		if in.ScanBy != types.ScanByTimestampAscending {
			slices.Reverse(res.Timestamps)
			slices.Reverse(res.Values)
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}

func (s *Sim) listMetrics(in *cloudwatch.ListMetricsInput) (*cloudwatch.ListMetricsOutput, error) {
	all := sortedBySeq(s.cw.series, func(m *metricSeries) uint64 { return m.seq })
	var out []types.Metric
	for _, m := range all {
		if in.Namespace != nil && m.namespace != *in.Namespace {
			continue
		}
		if in.MetricName != nil && m.name != *in.MetricName {
			continue
		}
		match := true
		for _, f := range in.Dimensions {
			found := false
			for _, d := range m.dims {
				found = found || (aws.ToString(d.Name) == aws.ToString(f.Name) && (f.Value == nil || aws.ToString(d.Value) == *f.Value))
			}
			match = match && found
		}
		if match {
			out = append(out, types.Metric{Namespace: aws.String(m.namespace), MetricName: aws.String(m.name), Dimensions: m.dims})
		}
	}
	page, next, err := listPage(out, nil, in.NextToken)
	if err != nil {
		return nil, &types.InvalidNextToken{Message: aws.String("The service cannot process the token.")}
	}
	return &cloudwatch.ListMetricsOutput{Metrics: page, NextToken: next}, nil
}
