package device

import (
	"fmt"
	"sort"
	"strings"
)

// Match picks the credential a user meant by query: an exact name match, or
// else the only credential whose name contains query (case-insensitively).
// It fails with ErrNotFound or ErrAmbiguous, listing what there is.
func Match(creds []Credential, query string) (Credential, error) {
	for _, c := range creds {
		if c.Name == query {
			return c, nil
		}
	}
	q := strings.ToLower(query)
	var hits []Credential
	for _, c := range creds {
		if strings.Contains(strings.ToLower(c.Name), q) {
			hits = append(hits, c)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		names := make([]string, len(creds))
		for i, c := range creds {
			names[i] = c.Name
		}
		sort.Strings(names)
		if len(names) == 0 {
			return Credential{}, fmt.Errorf("%w %q: %w", ErrNotFound, query, ErrNoAccounts)
		}
		return Credential{}, fmt.Errorf("%w %q; the device holds: %s", ErrNotFound, query, strings.Join(names, ", "))
	default:
		names := make([]string, len(hits))
		for i, c := range hits {
			names[i] = c.Name
		}
		sort.Strings(names)
		return Credential{}, fmt.Errorf("%w %q: %s; give the full name", ErrAmbiguous, query, strings.Join(names, ", "))
	}
}
