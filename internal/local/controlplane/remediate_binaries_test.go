package controlplane_test

// The remediation function's samples. Its calls reach moto, which has no
// such group: a zone alarm of the stack claims the state change and is
// not ready without it; another stack's alarm is refused before any call;
// a refused decide is recorded.
func init() {
	binarySteps = append(binarySteps,
		binaryStep{Function: "RemediateFunction", Event: "remediate-decide-zone.json", Error: "NotReadyError"},
		binaryStep{Function: "RemediateFunction", Event: "remediate-decide-other-stack.json", Error: "InvalidInputError"},
		binaryStep{Function: "RemediateFunction", Event: "remediate-record-refused.json", Check: wantFields(map[string]any{"subject": "web-dev", "kind": "remediation", "action": "refused", "outcome": "REFUSED"})},
		binaryStep{Function: "RemediateFunction", Event: "step-network-reconcile.json", Error: "InvalidInputError"},
	)
}
