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

// TestMissingDataTable reproduces the two tables of "How alarm state is
// evaluated when data is missing", row for row: CloudWatch retrieves the 5
// most recent datapoints (oldest first, 0 within the threshold, X breaching,
// - missing) and each treatment of missing data gives the state in its
// column. "keep" is "Retain current state"; each row runs from both OK and
// ALARM so that keeping is told apart from deciding.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html
func TestMissingDataTable(t *testing.T) {
	type row struct {
		points                                string
		missing, ignore, breaching, notBreach string
	}
	for _, table := range []struct {
		name string
		n, m int
		rows []row
	}{
		{"3 of 3", 3, 3, []row{
			{"0 - X - X", "OK", "OK", "OK", "OK"},
			{"0 - - - -", "OK", "OK", "OK", "OK"},
			{"- - - - -", "INSUFFICIENT_DATA", "keep", "ALARM", "OK"},
			{"0 X X - X", "ALARM", "ALARM", "ALARM", "ALARM"},
			{"- - - - X", "INSUFFICIENT_DATA", "keep", "ALARM", "OK"},
			{"X - - - -", "ALARM", "keep", "ALARM", "OK"},
		}},
		{"2 of 3", 3, 2, []row{
			{"0 - X - X", "ALARM", "ALARM", "ALARM", "ALARM"},
			{"0 0 X 0 X", "ALARM", "ALARM", "ALARM", "ALARM"},
			{"0 - X - -", "OK", "OK", "ALARM", "OK"},
			{"- - - - 0", "OK", "OK", "ALARM", "OK"},
			{"- - - - X", "INSUFFICIENT_DATA", "keep", "ALARM", "OK"},
		}},
	} {
		for _, r := range table.rows {
			for treat, want := range map[string]string{"missing": r.missing, "ignore": r.ignore, "breaching": r.breaching, "notBreaching": r.notBreach} {
				for _, current := range []types.StateValue{types.StateValueOk, types.StateValueAlarm} {
					w := types.StateValue(want)
					if want == "keep" {
						w = current
					}
					if got := alarmStateFor(pattern(r.points), table.n, table.m, treat, current); got != w {
						t.Errorf("%s: %s with %s from %s: %s, want %s", table.name, r.points, treat, current, got, w)
					}
				}
			}
		}
	}
}

// TestPrematureAlarm follows "Avoiding premature transitions to alarm
// state": with missing data treated as missing, an alarm goes to ALARM when
// its oldest breaching datapoint is at least datapoints-to-alarm periods old
// and every later one is breaching or missing, even with fewer breaching
// datapoints than that; a younger one is not enough to decide.
//
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#CloudWatch-alarms-avoiding-premature-transition
func TestPrematureAlarm(t *testing.T) {
	for _, tc := range []struct {
		points string
		n, m   int
		want   types.StateValue
	}{
		{"- - X - -", 3, 3, types.StateValueAlarm},
		{"- - - X -", 3, 3, types.StateValueInsufficientData},
		{"- - - X -", 3, 2, types.StateValueAlarm},
		{"- - - X X", 3, 3, types.StateValueInsufficientData},
		{"- - X X -", 3, 3, types.StateValueAlarm},
	} {
		if got := alarmStateFor(pattern(tc.points), tc.n, tc.m, "missing", types.StateValueOk); got != tc.want {
			t.Errorf("%s, %d of %d: %s, want %s", tc.points, tc.m, tc.n, got, tc.want)
		}
	}
}
