package local_test

// The lifecycle state machine's rules: each takes its own transition from
// the stack's group and hook only (the pattern test's stack is called
// "patterns").
func init() {
	for rule, want := range map[string]struct{ file, hook, other, otherHook string }{
		"LifecycleStateMachineOnLaunch":    {"ec2-instance-launch-lifecycle-action.json", "patterns-launch-hook", "ec2-instance-terminate-lifecycle-action.json", "patterns-terminate-hook"},
		"LifecycleStateMachineOnTerminate": {"ec2-instance-terminate-lifecycle-action.json", "patterns-terminate-hook", "ec2-instance-launch-lifecycle-action.json", "patterns-launch-hook"},
	} {
		ours := map[string]any{"detail.AutoScalingGroupName": "patterns-asg", "detail.LifecycleHookName": want.hook}
		with := func(k string, v any) map[string]any {
			m := map[string]any{k: v}
			for key, val := range ours {
				if key != k {
					m[key] = val
				}
			}
			return m
		}
		templateRuleSamples[rule] = ruleSamples{
			Match: []sample{{File: want.file, Set: ours}},
			Miss: []sample{
				{Why: "another group", File: want.file, Set: with("detail.AutoScalingGroupName", "batch-asg")},
				{Why: "a group whose name starts with the stack's", File: want.file, Set: with("detail.AutoScalingGroupName", "patterns-asg-2")},
				{Why: "ECS's managed-draining hook on the stack's group", File: want.file, Set: with("detail.LifecycleHookName", "ecs-managed-draining-termination-hook")},
				{Why: "the other transition of the stack's group", File: want.other, Set: map[string]any{"detail.AutoScalingGroupName": "patterns-asg", "detail.LifecycleHookName": want.otherHook}},
				{Why: "another source", File: want.file, Set: with("source", "custom.autoscaling")},
			},
		}
	}
}
