package main

import (
	"strings"

	"github.com/ecsplane/ecsplane/internal/ledger"
	"github.com/ecsplane/ecsplane/internal/lifecycle"
)

// actionDetail is the DETAIL column of `ecsplane actions`: for a lifecycle
// action, its instance and zone, the tasks a drain drained (and left, past
// the deadline), how long the action held the instance and the
// heartbeats that kept it; for a remediation item, remediationDetail; "-"
// for other actions.
func actionDetail(a ledger.Action) string {
	if a.Kind == ledger.KindRemediation {
		return remediationDetail(a)
	}
	if a.Kind != ledger.KindLifecycle {
		return "-"
	}
	d := a.Detail
	parts := []string{strings.TrimSpace(d["instance"] + " " + d["zone"])}
	if a.Action == lifecycle.KindDrain && d["tasks_drained"] != "" {
		tasks := d["tasks_drained"] + " tasks drained"
		if left := d["tasks_left"]; left != "" && left != "0" {
			tasks += ", " + left + " left"
		}
		parts = append(parts, tasks)
	}
	if d["duration"] != "" {
		parts = append(parts, "held "+d["duration"])
	}
	if hb := d["heartbeats"]; hb != "" && hb != "0" {
		parts = append(parts, hb+" heartbeats")
	}
	return strings.Join(parts, ", ")
}
