package sim

import (
	"fmt"
	"strings"
)

const hexDigits = "0123456789abcdef"

// newID returns an EC2-style resource ID: prefix, a dash and 17 hex digits,
// drawn from the seeded generator. The caller holds Sim.mu.
func (s *Sim) newID(prefix string) string {
	var b strings.Builder
	b.Grow(len(prefix) + 18)
	b.WriteString(prefix)
	b.WriteByte('-')
	for range 17 {
		b.WriteByte(hexDigits[s.rng.IntN(16)])
	}
	return b.String()
}

// newUUID returns a random (version 4) UUID from the seeded generator, the
// format of lifecycle action tokens, activity IDs, request IDs and event IDs.
func (s *Sim) newUUID() string {
	hi, lo := s.rng.Uint64(), s.rng.Uint64()
	hi = hi&^0xf000 | 0x4000
	lo = lo&^(0xc<<60) | 0x8<<60
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

// zone is one Availability Zone of the region.
type zone struct {
	name, id string
}

// makeZones names n zones the way AWS does: the region plus a letter, and a
// zone ID made of the region's short code and a number.
func makeZones(region string, n int) []zone {
	zs := make([]zone, n)
	code := regionCode(region)
	for i := range zs {
		zs[i] = zone{name: fmt.Sprintf("%s%c", region, 'a'+i), id: fmt.Sprintf("%s-az%d", code, i+1)}
	}
	return zs
}

// regionCode abbreviates a region as zone IDs do: us-east-1 → use1,
// ap-southeast-2 → apse2.
func regionCode(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) < 3 {
		return region
	}
	dir := parts[1]
	switch {
	case strings.HasPrefix(dir, "north") && len(dir) > 5:
		dir = "n" + dir[5:6]
	case strings.HasPrefix(dir, "south") && len(dir) > 5:
		dir = "s" + dir[5:6]
	default:
		dir = dir[:1]
	}
	return parts[0] + dir + parts[len(parts)-1]
}

// zoneByName returns the zone called name.
func (s *Sim) zoneByName(name string) (zone, bool) {
	for _, z := range s.zones {
		if z.name == name {
			return z, true
		}
	}
	return zone{}, false
}

// zoneByID returns the zone whose ID is id.
func (s *Sim) zoneByID(id string) (zone, bool) {
	for _, z := range s.zones {
		if z.id == id {
			return z, true
		}
	}
	return zone{}, false
}

// alnum returns n letters and digits from the seeded generator, the shape
// of service deployment IDs.
func (s *Sim) alnum(n int) string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[s.rng.IntN(len(chars))]
	}
	return string(b)
}
