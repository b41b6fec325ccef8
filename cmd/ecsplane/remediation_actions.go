package main

import (
	"strings"

	"github.com/ecsplane/ecsplane/internal/ledger"
)

// remediationDetail is the DETAIL column of a remediation item: its alarm
// and state, its zone, and, for an evacuation's milestones and its end, the
// healthy zone, the instances drained and the shifts with their expiries.
func remediationDetail(a ledger.Action) string {
	d := a.Detail
	var parts []string
	if s := strings.TrimSpace(d["alarm"] + " " + d["state"]); s != "" {
		parts = append(parts, s)
	}
	if d["zone"] != "" {
		z := d["zone"]
		if d["healthy_zone"] != "" {
			z += " → " + d["healthy_zone"]
		}
		parts = append(parts, z)
	}
	if d["instances_drained"] != "" {
		parts = append(parts, "drained "+d["instances_drained"])
	}
	if d["shifts"] != "" {
		parts = append(parts, "shifts "+d["shifts"])
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
