// Package stepcache is the half of the credentials provider that needs no
// AWS SDK: the STS calls a profile needs (Plan, MakePlan), the cache key of
// each call's result (StepKeys), the cache entry file (Entry) and the rule
// for using one (Plan.Usable), and Lookup, which serves a profile's
// credentials from the cache the way Provider.Credentials (package sts)
// first tries to. Package sts makes the calls and writes the entries; it
// re-exports the types here under their old names (sts.Plan,
// sts.Credentials, ...).
//
// It exists so that a cached `mfabridge credential-process` can answer
// before the SDK's packages are even initialised (cmd/mfabridge/internal/
// warm): it must import nothing that imports net/http (or the SDK), which
// layering_test.go checks. Error contract: MakePlan returns
// ErrChainTooLong (wrapped) for plans STS would refuse; ReadEntry returns
// securefile's errors (*securefile.Error) for files that cannot be trusted,
// fs.ErrNotExist (wrapped) for absent ones, and a parse error for entries
// that are not complete; Lookup returns these, except that an absent or
// unusable entry is a miss: nil credentials, nil error.
//
// The package reads no environment variables (the caller passes an
// awsconfig.Env), prints nothing and never exits.
package stepcache

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/sts/awsconfig"
)

// ErrChainTooLong is returned by the planner when a role reached with
// session credentials asks for more than the 1-hour chaining limit.
var ErrChainTooLong = errors.New("role chaining limited to 1 hour")

// Action is an STS operation name.
type Action string

// The STS calls the planner chooses between.
const (
	ActionGetSessionToken Action = "GetSessionToken"
	ActionAssumeRole      Action = "AssumeRole"
)

// Step is one STS call of a plan.
type Step struct {
	Action   Action
	RoleARN  string        // AssumeRole only
	Profile  string        // profile declaring the role (or the source profile)
	Duration time.Duration // requested DurationSeconds
	MFA      bool          // the call carries SerialNumber + TokenCode
	// ExternalID and SessionName are the role's external_id and
	// role_session_name (AssumeRole only).
	ExternalID, SessionName string
	// Shared marks the per-serial MFA session: one GetSessionToken serves
	// every profile using the serial until it ends.
	Shared bool
	// MaxAge is mfabridge_mfa_max_age for the shared session (0: none).
	MaxAge time.Duration
}

// Plan is the sequence of calls that yields a profile's credentials on a
// cold cache. Each step's result is cached on its own, so a warm cache skips
// leading steps.
type Plan struct {
	Profile   string
	MFASerial string
	Source    string // "static keys of profile X" / "credential_process of profile X"
	Steps     []Step
}

// Touches is the number of codes computed (device touches) on a cold cache.
func (pl *Plan) Touches() int {
	n := 0
	for _, s := range pl.Steps {
		if s.MFA {
			n++
		}
	}
	return n
}

// Final returns the step whose credentials are handed out.
func (pl *Plan) Final() Step { return pl.Steps[len(pl.Steps)-1] }

// ViaSession reports whether the first step is the shared MFA session.
func (pl *Plan) ViaSession() bool { return len(pl.Steps) > 0 && pl.Steps[0].Shared }

// MakePlan picks the calls for a resolved profile:
//   - no role: GetSessionToken with the code (same-account APIs and resource
//     policies with MFA conditions need the session's MFA context);
//   - first role asking for at most 1 hour, with long-term source keys: the
//     shared per-serial MFA session, then AssumeRole without a code (the
//     session's MFA context satisfies the trust policy), so further roles and
//     hourly refreshes cost no touch while the session lasts;
//   - otherwise (longer roles, or session source credentials that
//     GetSessionToken refuses): AssumeRole with the code directly.
//
// Later hops are plain AssumeRole calls, capped at 1 hour by STS.
func MakePlan(p *awsconfig.Profile) (*Plan, error) {
	pl := &Plan{Profile: p.Name, MFASerial: p.MFASerial}
	// strconv.Quote is fmt's %q for a string: fmt stays out of a cached
	// credential-process (issue 12).
	src := strconv.Quote(p.Source.Profile)
	switch {
	case p.Source.CredentialSource == awsconfig.CredentialSourceEnvironment:
		pl.Source = "keys from the environment (AWS_ACCESS_KEY_ID; credential_source of profile " + src + ")"
	case p.Source.KeyStore != "":
		pl.Source = "key of profile " + src + " in " + p.Source.KeyStore + " (mfabridge_keys)"
	case p.Source.AccessKeyID != "":
		pl.Source = "static keys of profile " + src
	default:
		pl.Source = "credential_process of profile " + src
	}
	session := Step{Action: ActionGetSessionToken, Profile: p.Source.Profile,
		Duration: p.SessionDuration, MFA: true, Shared: true, MaxAge: p.MFAMaxAge}
	if len(p.Roles) == 0 {
		pl.Steps = append(pl.Steps, session)
		return pl, nil
	}
	chained := false
	for i, r := range p.Roles {
		st := Step{Action: ActionAssumeRole, RoleARN: r.ARN, Profile: r.Profile, Duration: r.Duration,
			ExternalID: r.ExternalID, SessionName: r.SessionName}
		if i == 0 {
			// Source keys from credential_process may carry a session token,
			// which GetSessionToken refuses; only static long-term keys are
			// known to work.
			if r.Duration <= awsconfig.ChainLimit && p.Source.LongTerm() {
				pl.Steps = append(pl.Steps, session)
				chained = true
			} else {
				st.MFA = true
				chained = p.Source.SessionToken != ""
			}
		} else {
			chained = true
		}
		if chained && st.Duration > awsconfig.ChainLimit {
			return nil, fmt.Errorf("plan profile %q: role %s asks for %s: %w (set duration_seconds to 3600 or less)",
				p.Name, r.ARN, r.Duration, ErrChainTooLong)
		}
		pl.Steps = append(pl.Steps, st)
	}
	return pl, nil
}

// String renders the plan for "mfabridge plan".
func (pl *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "profile %s\n", pl.Profile)
	fmt.Fprintf(&b, "  source: %s\n", pl.Source)
	fmt.Fprintf(&b, "  mfa_serial: %s\n", pl.MFASerial)
	for i, s := range pl.Steps {
		fmt.Fprintf(&b, "  %d. %s", i+1, s.Action)
		if s.RoleARN != "" {
			fmt.Fprintf(&b, " %s", s.RoleARN)
		}
		fmt.Fprintf(&b, " duration %s", fmtDur(s.Duration))
		switch {
		case s.MFA && s.Shared:
			b.WriteString(" with MFA code; shared by every profile using this serial, cached until it ends")
			if s.MaxAge > 0 {
				fmt.Fprintf(&b, " or its MFA is older than %s (mfabridge_mfa_max_age)", fmtDur(s.MaxAge))
			}
		case s.MFA:
			b.WriteString(" with MFA code")
		case i > 0 && pl.Steps[i-1].Shared:
			b.WriteString(" with the MFA session's credentials, no code")
		default:
			b.WriteString(" with the previous step's credentials, no code")
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "  expected touches: %d on a cold cache", pl.Touches())
	if first := pl.Steps[0]; pl.ViaSession() {
		lasts := fmtDur(first.Duration)
		if first.MaxAge > 0 && first.MaxAge < first.Duration {
			lasts = fmtDur(first.MaxAge) + ", mfabridge_mfa_max_age"
		}
		fmt.Fprintf(&b, "; 0 for refreshes while the MFA session lasts (%s)", lasts)
	} else if pl.Touches() > 0 {
		fmt.Fprintf(&b, "; %d per refresh (every %s, reused while %s remain)", pl.Touches(), fmtDur(pl.Final().Duration-pl.ReuseMargin()), fmtDur(pl.ReuseMargin()))
	}
	b.WriteByte('\n')
	if short := pl.ShortSession(); short != "" {
		fmt.Fprintf(&b, "  note: %s\n", short)
	}
	return b.String()
}

// ReuseMargin is how long the final credentials must still be valid to be
// handed out again. It is awsconfig.MinRemaining (the 15-minute rule of the AWS CLI's
// cache and botocore's advisory refresh), shortened to a third of the session
// for sessions under 45 minutes: a 15-minute session (duration_seconds =
// 900, the minimum) would otherwise never be reusable and every request
// would make a new STS call. A third leaves a 15-minute session 5 minutes,
// the expiry window aws-sdk-go-v2 gives container credentials.
func (pl *Plan) ReuseMargin() time.Duration {
	if d := pl.Final().Duration / 3; d > 0 && d < awsconfig.MinRemaining {
		return d
	}
	return awsconfig.MinRemaining
}

// ShortSession explains, when the final credentials last less than 45
// minutes, how they are reused; "" otherwise.
func (pl *Plan) ShortSession() string {
	d := pl.Final().Duration
	if m := pl.ReuseMargin(); m < awsconfig.MinRemaining {
		how := "are reused for " + fmtDur(d-m)
		if d <= awsconfig.MinRemaining {
			how = "are never reusable under the AWS CLI's 15-minute rule (the AWS CLI and botocore would call STS on every command); mfabridge reuses them for " + fmtDur(d-m)
		}
		return fmt.Sprintf("%s lasts %s: its credentials %s, then calls STS again; a duration_seconds of 2700 or more keeps the 15-minute margin", pl.Final().describe(), fmtDur(d), how)
	}
	return ""
}

// describe names a step for messages: "AssumeRole ARN" or "GetSessionToken".
func (s Step) describe() string {
	if s.RoleARN != "" {
		return string(s.Action) + " " + s.RoleARN
	}
	return string(s.Action)
}

func fmtDur(d time.Duration) string {
	s := d.String() // "12h0m0s", "30m0s", "1h30m0s", "45s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
