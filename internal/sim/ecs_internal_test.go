package sim

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

func TestCircuitBreakerThreshold(t *testing.T) {
	for _, tc := range []struct {
		desired int32
		conf    *types.ThresholdConfiguration
		want    int32
	}{
		// Half the desired count, rounded up, at least 3 and at most 200.
		{desired: 1, want: 3},
		{desired: 4, want: 3},
		{desired: 6, want: 3},
		{desired: 7, want: 4},
		{desired: 10, want: 5},
		{desired: 25, want: 13},
		{desired: 400, want: 200},
		{desired: 1000, want: 200},
		{desired: 10, conf: &types.ThresholdConfiguration{Type: types.ThresholdTypeCount, Value: 2}, want: 2},
		{desired: 1000, conf: &types.ThresholdConfiguration{Type: types.ThresholdTypeUnboundedPercent, Value: 50}, want: 500},
		{desired: 4, conf: &types.ThresholdConfiguration{Type: types.ThresholdTypeBoundedPercent, Value: 100}, want: 4},
	} {
		cb := types.DeploymentCircuitBreaker{Enable: true, ThresholdConfiguration: tc.conf}
		if got := circuitBreakerThreshold(cb, tc.desired); got != tc.want {
			t.Errorf("threshold for %d tasks (%+v) = %d, want %d", tc.desired, tc.conf, got, tc.want)
		}
	}
}

// TestCircuitBreakerCountsFailuresUntilAHealthyTask follows the breaker's
// API reference: the failure count trips the deployment at the threshold,
// and "a task that reaches a healthy state resets the failure count to 0"
// unless resetOnHealthyTask is false; "the default is true". Each sequence
// is task outcomes in order: F a failed task, H one that turned healthy.
//
// https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeploymentCircuitBreaker.html
func TestCircuitBreakerCountsFailuresUntilAHealthyTask(t *testing.T) {
	for _, tc := range []struct {
		name     string
		reset    *bool
		sequence string
		// trippedAt is the 1-based position of the outcome that fails the
		// deployment, 0 for never.
		trippedAt int
	}{
		{"consecutive failures", nil, "F F F", 3},
		{"healthy task resets by default", nil, "F F H F F H F F", 0},
		{"healthy task resets when asked", aws.Bool(true), "F F H F F", 0},
		{"no reset when told not to", aws.Bool(false), "F F H F", 4},
		{"a reset only postpones", nil, "F F H F F F", 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// 4 desired tasks: the threshold is the minimum, 3.
			cb := types.DeploymentCircuitBreaker{Enable: true, ResetOnHealthyTask: tc.reset}
			d := &deployment{}
			got := 0
			for i, o := range strings.Fields(tc.sequence) {
				if o == "H" {
					d.taskTurnedHealthy(cb)
					continue
				}
				if d.countFailure(cb, 4) && got == 0 {
					got = i + 1
				}
			}
			if got != tc.trippedAt {
				t.Fatalf("tripped at outcome %d, want %d", got, tc.trippedAt)
			}
		})
	}
}

func TestTaskSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit string
		want int32
		ok   bool
	}{
		{"1024", "vcpu", 1024, true},
		{"0.25 vCPU", "vcpu", 256, true},
		{"2 vCPU", "vcpu", 2048, true},
		{"2 GB", "gb", 2048, true},
		{"0.5GB", "gb", 512, true},
		{"lots", "vcpu", 0, false},
	} {
		got, ok := taskSize(tc.in, tc.unit, 1024)
		if got != tc.want || ok != tc.ok {
			t.Errorf("taskSize(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
