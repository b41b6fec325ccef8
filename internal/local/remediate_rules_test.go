package local_test

// The remediation state machine's rule: the stack's zone alarms, CPU,
// memory and capacity going to ALARM or back from ALARM to OK (the pattern
// test's stack is called "patterns"). The stack-wide 5xx alarms are the
// rollout's deployment alarms and stay apart.
func init() {
	alarm, ok := "cloudwatch-alarm-state-change-alarm.json", "cloudwatch-alarm-state-change-ok.json"
	named := func(name string) map[string]any { return map[string]any{"detail.alarmName": name} }
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for key, val := range m {
			out[key] = val
		}
		return out
	}
	// The OK sample's previous state is ALARM; the ALARM sample's is OK.
	templateRuleSamples["RemediateStateMachineOnAlarm"] = ruleSamples{
		Match: []sample{
			{File: alarm, Set: named("patterns-unhealthy-hosts-us-east-1a")},
			{File: alarm, Set: named("patterns-target-5xx-us-east-1b")},
			{File: alarm, Set: named("patterns-elb-5xx-us-east-1a")},
			{File: alarm, Set: named("patterns-cpu-high")},
			{File: alarm, Set: named("patterns-memory-high")},
			{File: alarm, Set: named("patterns-capacity")},
			{File: ok, Set: named("patterns-unhealthy-hosts-us-east-1a")},
		},
		Miss: []sample{
			{Why: "another stack's zone alarm", File: alarm, Set: named("batch-unhealthy-hosts-us-east-1a")},
			{Why: "another stack's CPU alarm", File: alarm, Set: named("batch-cpu-high")},
			{Why: "the rollout's deployment alarm (target 5xx)", File: alarm, Set: named("patterns-target-5xx")},
			{Why: "the rollout's deployment alarm (load balancer 5xx)", File: alarm, Set: named("patterns-elb-5xx")},
			{Why: "an alarm whose name only starts with the stack's CPU alarm", File: alarm, Set: named("patterns-cpu-high-2")},
			{Why: "an OK → OK change", File: ok, Set: with(named("patterns-unhealthy-hosts-us-east-1a"), "detail.previousState.value", "OK")},
			{Why: "INSUFFICIENT_DATA → OK", File: ok, Set: with(named("patterns-unhealthy-hosts-us-east-1a"), "detail.previousState.value", "INSUFFICIENT_DATA")},
			{Why: "ALARM → INSUFFICIENT_DATA", File: ok, Set: with(named("patterns-unhealthy-hosts-us-east-1a"), "detail.state.value", "INSUFFICIENT_DATA")},
			{Why: "another detail-type", File: alarm, Set: with(named("patterns-unhealthy-hosts-us-east-1a"), "detail-type", "CloudWatch Alarm Configuration Change")},
			{Why: "another source", File: alarm, Set: with(named("patterns-unhealthy-hosts-us-east-1a"), "source", "custom.cloudwatch")},
		},
	}
}
