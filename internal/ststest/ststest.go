// Package ststest holds the fixtures the tests of sts and its
// sub-packages (awsconfig, enroll) share: a settable clock and one AWS
// config with its credentials file. It is imported by tests only.
package ststest

import (
	"context"
	"sync/atomic"
	"time"
)

// Clock is a settable clock shared by providers and fake services.
type Clock struct{ ns atomic.Int64 }

// NewClock returns a Clock set to t.
func NewClock(t time.Time) *Clock {
	c := &Clock{}
	c.ns.Store(t.UnixNano())
	return c
}

// Now is the clock's time, in UTC.
func (c *Clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set sets the clock to t.
func (c *Clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// Sleep advances the clock to at least now+d (several sleepers that
// started at the same time advance it once).
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	target := c.Now().Add(d).UnixNano()
	for {
		cur := c.ns.Load()
		if cur >= target || c.ns.CompareAndSwap(cur, target) {
			return ctx.Err()
		}
	}
}

// Config has four 1-hour roles, one 2-hour role and a session profile,
// all on one MFA device; Credentials holds the base profile's keys.
const Config = `
[default]
region = eu-west-1

[profile base]
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile r1]
role_arn = arn:aws:iam::210987654321:role/r1
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice

[profile r2]
role_arn = arn:aws:iam::210987654321:role/r2
source_profile = base
mfa_serial = arn:aws:iam::123456789012:mfa/alice
duration_seconds = 1800

[profile r3]
role_arn = arn:aws:iam::210987654321:role/r3
source_profile = base

[profile r4]
role_arn = arn:aws:iam::210987654321:role/r4
source_profile = base
external_id = ext-4

[profile long]
role_arn = arn:aws:iam::210987654321:role/long
source_profile = base
duration_seconds = 7200

[profile long2]
role_arn = arn:aws:iam::210987654321:role/long2
source_profile = base
duration_seconds = 7200

[profile aged]
mfa_serial = arn:aws:iam::123456789012:mfa/alice
source_profile = base
role_arn = arn:aws:iam::210987654321:role/aged
mfabridge_mfa_max_age = 1800
`

// Credentials is the credentials file that goes with Config.
const Credentials = `
[base]
aws_access_key_id = AKIAEXAMPLEBASE00001
aws_secret_access_key = basesecret
`
