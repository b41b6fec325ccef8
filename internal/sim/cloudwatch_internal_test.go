package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// pattern turns the documentation's notation into an evaluation range:
// 0 a datapoint within the threshold, X a breaching one, - a missing one.
func pattern(s string) []datapointClass {
	var out []datapointClass
	for _, f := range strings.Fields(s) {
		out = append(out, map[string]datapointClass{"0": pointOK, "X": pointBreaching, "-": pointMissing}[f])
	}
	return out
}

// TestMissingDataTable reproduces the table in "How alarm state is evaluated
// when data is missing": an alarm of 3 evaluation periods and 3 datapoints
// to alarm, an evaluation range of 5, and the state each treatment of
// missing data gives. "keep" is "Retain current state"; each row runs from
// both OK and ALARM so that keeping is told apart from deciding.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
func TestMissingDataTable(t *testing.T) {
	for _, row := range []struct {
		points                                string
		missing, ignore, breaching, notBreach string
	}{
		{"0 - X - X", "OK", "OK", "OK", "OK"},
		{"- - - - 0", "OK", "OK", "OK", "OK"},
		{"- - - - -", "INSUFFICIENT_DATA", "keep", "ALARM", "OK"},
		{"0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"},
		{"- - X - -", "ALARM", "keep", "ALARM", "OK"},
	} {
		for treat, want := range map[string]string{"missing": row.missing, "ignore": row.ignore, "breaching": row.breaching, "notBreaching": row.notBreach} {
			for _, current := range []types.StateValue{types.StateValueOk, types.StateValueAlarm} {
				w := types.StateValue(want)
				if want == "keep" {
					w = current
				}
				if got := alarmStateFor(pattern(row.points), 3, 3, treat, current); got != w {
					t.Errorf("%s with %s from %s: %s, want %s", row.points, treat, current, got, w)
				}
			}
		}
	}
}

// TestPrematureAlarm follows "Avoiding premature transitions to alarm
// state": an alarm goes to ALARM when its oldest breaching datapoint in the
// evaluation periods is at least datapoints-to-alarm old and every later
// one is breaching or missing, even with fewer datapoints than that.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#CloudWatch-alarms-avoiding-premature-transition
func TestPrematureAlarm(t *testing.T) {
	for _, tc := range []struct {
		window string
		m      int
		want   bool
	}{
		{"X - -", 3, true},
		{"- X -", 3, false},
		{"- X -", 2, true},
		{"X 0 -", 2, false},
		{"0 X -", 2, true},
		{"- - -", 1, false},
	} {
		if got := prematureAlarm(pattern(tc.window), tc.m); got != tc.want {
			t.Errorf("%s with %d datapoints to alarm: %v, want %v", tc.window, tc.m, got, tc.want)
		}
	}
}
