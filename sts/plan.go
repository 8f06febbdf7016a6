package sts

import (
	"fmt"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
	"github.com/mfabridge/mfabridge/sts/stepcache"
)

// The plan of a profile lives in package stepcache (the SDK-free half of
// the provider); these are its old names here.

// ErrChainTooLong is returned by the planner when a role reached with
// session credentials asks for more than the 1-hour chaining limit.
var ErrChainTooLong = stepcache.ErrChainTooLong

// Action is an STS operation name.
type Action = stepcache.Action

// The STS calls the planner chooses between.
const (
	ActionGetSessionToken = stepcache.ActionGetSessionToken
	ActionAssumeRole      = stepcache.ActionAssumeRole
)

// Step is one STS call of a plan.
type Step = stepcache.Step

// Plan is the sequence of calls that yields a profile's credentials on a
// cold cache (stepcache.Plan).
type Plan = stepcache.Plan

// MakePlan picks the calls for a resolved profile (stepcache.MakePlan).
func MakePlan(p *awsconfig.Profile) (*Plan, error) { return stepcache.MakePlan(p) }

// CachedUntil reports, for each plan step, until when its cached result
// may be used (zero: nothing usable cached). It touches no device and
// makes no call.
func (pr *Provider) CachedUntil() []time.Time {
	keys := pr.keys()
	now := pr.now()
	out := make([]time.Time, len(keys))
	for i, s := range pr.plan.Steps {
		if e := pr.cache.get(keys[i], pr.log); pr.usable(i, e, now) {
			out[i] = stepcache.Expiry(s, e).Add(-pr.plan.Margin(i))
		}
	}
	return out
}

// NextTouches is the number of codes the next Credentials call would
// compute given the cache now.
func (pr *Provider) NextTouches() int { return pr.touchesAfter(pr.CachedUntil()) }

// touchesAfter counts the codes needed given until, CachedUntil's answer:
// the MFA steps after the last usable cached result.
func (pr *Provider) touchesAfter(until []time.Time) int {
	n := 0
	for i := len(until) - 1; i >= 0 && until[i].IsZero(); i-- {
		if pr.plan.Steps[i].MFA {
			n++
		}
	}
	return n
}

// Describe is the plan (Plan.String) followed by what the cache holds now.
func (pr *Provider) Describe() string {
	var b strings.Builder
	b.WriteString(pr.plan.String())
	until := pr.CachedUntil() // read each entry once
	for i, t := range until {
		if !t.IsZero() {
			fmt.Fprintf(&b, "  cached: step %d usable until %s\n", i+1, t.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintf(&b, "  touches for the next request: %d\n", pr.touchesAfter(until))
	return b.String()
}
