package stsemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ErrPolicy is wrapped by every policy document error.
var ErrPolicy = errors.New("invalid policy document")

// Condition keys the emulator knows (lower case; keys are case-insensitive).
const (
	keyMFAPresent = "aws:multifactorauthpresent"
	keyMFAAge     = "aws:multifactorauthage"
)

// Policy is an IAM policy document in AWS's JSON grammar: Version, optional
// Id, Statement as one object or a list. Statement elements: Sid, Effect,
// Principal (`"*"` or {"AWS": string|list, "Service"/"Federated": …}),
// Action/NotAction, Resource/NotResource (string or list, `*` and `?`
// wildcards) and Condition with the operators Bool, Numeric{Equals,
// NotEquals,LessThan,LessThanEquals,GreaterThan,GreaterThanEquals} and their
// IfExists forms, and Null, on aws:MultiFactorAuthPresent and
// aws:MultiFactorAuthAge.
// Anything else is an error, never a silent pass.
//
// In a config file a policy is a JSON object, or a JSON string holding one.
// Policies built in Go (not parsed) are trusted as they are.
type Policy struct {
	Version    string
	Statements []Statement

	raw    json.RawMessage
	parsed bool
}

// Statement is one parsed policy statement.
type Statement struct {
	Sid    string
	Effect string // "Allow" or "Deny"

	HasPrincipal bool
	Principals   []string // AWS principal values; "*" for anyone
	// OtherPrincipals counts Service/Federated/CanonicalUser principals,
	// which never match a caller of this emulator.
	OtherPrincipals int

	Actions      []string
	NotActions   []string
	HasResource  bool
	Resources    []string
	NotResources []string
	Conditions   []Condition
}

// Condition is one (operator, key, values) triple of a Condition block.
type Condition struct {
	Operator string // as written, e.g. "NumericLessThanIfExists"
	Key      string // as written, e.g. "aws:MultiFactorAuthAge"
	Values   []string
}

// UnmarshalJSON keeps the raw document; ParseConfig parses it later so that
// errors can name the account, user or role the policy belongs to.
func (p *Policy) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	p.raw = append(json.RawMessage(nil), b...)
	p.parsed = false
	return nil
}

// MarshalJSON returns the document as written.
func (p Policy) MarshalJSON() ([]byte, error) {
	if p.raw == nil {
		return []byte("null"), nil
	}
	return p.raw, nil
}

// ParsePolicy parses an identity policy (trust=false: Resource required,
// Principal forbidden) or a role trust policy (trust=true: Principal
// required, Resource forbidden).
func ParsePolicy(b []byte, trust bool) (*Policy, error) {
	p := &Policy{raw: append(json.RawMessage(nil), b...)}
	if err := p.check(trust); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Policy) check(trust bool) error {
	if p.parsed {
		return nil
	}
	if p.raw == nil {
		// Built in Go rather than parsed: trust the statements.
		if len(p.Statements) == 0 {
			return fmt.Errorf("%w: missing Statement", ErrPolicy)
		}
		p.parsed = true
		return nil
	}
	if err := p.parse(trust); err != nil {
		return fmt.Errorf("%w: %w", ErrPolicy, err)
	}
	p.parsed = true
	return nil
}

func (p *Policy) parse(trust bool) error {
	var top map[string]json.RawMessage
	if err := strictObject(p.raw, &top); err != nil {
		return fmt.Errorf("policy must be a JSON object: %w", err)
	}
	p.Version, p.Statements = "", nil
	for k, v := range top {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil {
				return fmt.Errorf("Version: %w", err)
			}
			if p.Version != "2012-10-17" && p.Version != "2008-10-17" {
				return fmt.Errorf("Version %q: want 2012-10-17", p.Version)
			}
		case "Id":
		case "Statement":
		default:
			return fmt.Errorf("unknown policy element %q", k)
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return errors.New("missing Statement")
	}
	var list []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		if err := json.Unmarshal(raw, &list); err != nil {
			return fmt.Errorf("Statement: %w", err)
		}
	} else {
		list = []json.RawMessage{raw}
	}
	if len(list) == 0 {
		return errors.New("Statement is empty")
	}
	for i, r := range list {
		st, err := parseStatement(r, trust)
		if err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
		p.Statements = append(p.Statements, st)
	}
	return nil
}

// strictObject decodes a JSON object into a map and rejects duplicate keys,
// which encoding/json would otherwise resolve silently (last one wins).
func strictObject(b []byte, m *map[string]json.RawMessage) error {
	if t := bytes.TrimSpace(b); len(t) == 0 || t[0] != '{' {
		return errors.New("not an object")
	}
	if err := json.Unmarshal(b, m); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		k, _ := tok.(string)
		if seen[k] {
			return fmt.Errorf("duplicate element %q", k)
		}
		seen[k] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	return nil
}

func parseStatement(b []byte, trust bool) (Statement, error) {
	var st Statement
	var m map[string]json.RawMessage
	if err := strictObject(b, &m); err != nil {
		return st, fmt.Errorf("statement must be a JSON object: %w", err)
	}
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			err = json.Unmarshal(v, &st.Sid)
		case "Effect":
			err = json.Unmarshal(v, &st.Effect)
			if err == nil && st.Effect != "Allow" && st.Effect != "Deny" {
				err = fmt.Errorf("must be Allow or Deny, not %q", st.Effect)
			}
		case "Principal":
			st.HasPrincipal = true
			err = parsePrincipal(v, &st)
		case "Action":
			st.Actions, err = stringOrList(v)
		case "NotAction":
			st.NotActions, err = stringOrList(v)
		case "Resource":
			st.HasResource = true
			st.Resources, err = stringOrList(v)
		case "NotResource":
			st.HasResource = true
			st.NotResources, err = stringOrList(v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		case "NotPrincipal":
			err = errors.New("not supported by the emulator")
		default:
			err = errors.New("unknown statement element")
		}
		if err != nil {
			return st, fmt.Errorf("%s: %w", k, err)
		}
	}
	if st.Effect == "" {
		return st, errors.New("missing Effect")
	}
	_, hasA := m["Action"]
	_, hasNA := m["NotAction"]
	if hasA == hasNA {
		return st, errors.New("exactly one of Action and NotAction is required")
	}
	_, hasR := m["Resource"]
	_, hasNR := m["NotResource"]
	if hasR && hasNR {
		return st, errors.New("Resource and NotResource are mutually exclusive")
	}
	if trust {
		if !st.HasPrincipal {
			return st, errors.New("trust policy statement needs a Principal")
		}
		if st.HasResource {
			return st, errors.New("trust policy statement has prohibited field Resource")
		}
	} else {
		if st.HasPrincipal {
			return st, errors.New("identity policy statement has prohibited field Principal")
		}
		if !st.HasResource {
			return st, errors.New("identity policy statement needs Resource or NotResource")
		}
	}
	return st, nil
}

func stringOrList(b []byte) ([]string, error) {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		if one == "" {
			return nil, errors.New("empty string")
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, errors.New("must be a string or a list of strings")
	}
	if len(list) == 0 {
		return nil, errors.New("empty list")
	}
	for _, s := range list {
		if s == "" {
			return nil, errors.New("empty string in list")
		}
	}
	return list, nil
}

func parsePrincipal(b []byte, st *Statement) error {
	var star string
	if err := json.Unmarshal(b, &star); err == nil {
		if star != "*" {
			return fmt.Errorf("a string principal must be \"*\", not %q", star)
		}
		st.Principals = []string{"*"}
		return nil
	}
	var m map[string]json.RawMessage
	if err := strictObject(b, &m); err != nil {
		return fmt.Errorf("must be \"*\" or an object: %w", err)
	}
	if len(m) == 0 {
		return errors.New("empty principal")
	}
	for k, v := range m {
		vals, err := stringOrList(v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		switch k {
		case "AWS":
			for _, p := range vals {
				if err := checkAWSPrincipal(p); err != nil {
					return fmt.Errorf("AWS: %w", err)
				}
			}
			st.Principals = append(st.Principals, vals...)
		case "Service", "Federated", "CanonicalUser":
			st.OtherPrincipals += len(vals)
		default:
			return fmt.Errorf("unknown principal type %q", k)
		}
	}
	return nil
}

func checkAWSPrincipal(p string) error {
	switch {
	case p == "*", accountIDRe.MatchString(p):
		return nil
	case strings.HasPrefix(p, "arn:aws:iam::"), strings.HasPrefix(p, "arn:aws:sts::"):
		if strings.ContainsAny(p, "*?") {
			return fmt.Errorf("principal %q: wildcards are only allowed as \"*\"", p)
		}
		return nil
	default:
		return fmt.Errorf("principal %q: want \"*\", a 12-digit account id or an IAM/STS ARN", p)
	}
}

var numericOps = map[string]func(a, b float64) bool{
	"NumericEquals":            func(a, b float64) bool { return a == b },
	"NumericNotEquals":         func(a, b float64) bool { return a != b },
	"NumericLessThan":          func(a, b float64) bool { return a < b },
	"NumericLessThanEquals":    func(a, b float64) bool { return a <= b },
	"NumericGreaterThan":       func(a, b float64) bool { return a > b },
	"NumericGreaterThanEquals": func(a, b float64) bool { return a >= b },
}

func parseConditions(b []byte) ([]Condition, error) {
	var ops map[string]json.RawMessage
	if err := strictObject(b, &ops); err != nil {
		return nil, fmt.Errorf("must be an object: %w", err)
	}
	var out []Condition
	names := make([]string, 0, len(ops))
	for k := range ops {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, op := range names {
		base, _ := strings.CutSuffix(op, "IfExists")
		if _, ok := numericOps[base]; !ok && base != "Bool" && op != "Null" {
			return nil, fmt.Errorf("unsupported condition operator %q (the emulator knows Bool and Numeric*, with or without IfExists, and Null)", op)
		}
		var keys map[string]json.RawMessage
		if err := strictObject(ops[op], &keys); err != nil {
			return nil, fmt.Errorf("%s: must be an object: %w", op, err)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: no condition keys", op)
		}
		knames := make([]string, 0, len(keys))
		for k := range keys {
			knames = append(knames, k)
		}
		sort.Strings(knames)
		for _, key := range knames {
			lk := strings.ToLower(key)
			if lk != keyMFAPresent && lk != keyMFAAge {
				return nil, fmt.Errorf("%s: unsupported condition key %q (the emulator knows aws:MultiFactorAuthPresent and aws:MultiFactorAuthAge)", op, key)
			}
			vals, err := conditionValues(keys[key])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", op, key, err)
			}
			for _, v := range vals {
				if base == "Bool" || base == "Null" {
					if lv := strings.ToLower(v); lv != "true" && lv != "false" {
						return nil, fmt.Errorf("%s: %s: value %q is not true or false", op, key, v)
					}
				} else if _, err := strconv.ParseFloat(v, 64); err != nil {
					return nil, fmt.Errorf("%s: %s: value %q is not a number", op, key, v)
				}
			}
			out = append(out, Condition{Operator: op, Key: key, Values: vals})
		}
	}
	return out, nil
}

// conditionValues accepts a string, bool or number, or a list of them, as
// IAM does ({"Bool": {"aws:MultiFactorAuthPresent": true}} is common).
func conditionValues(b []byte) ([]string, error) {
	one := func(r json.RawMessage) (string, error) {
		var v any
		d := json.NewDecoder(bytes.NewReader(r))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return "", err
		}
		switch x := v.(type) {
		case string:
			return x, nil
		case bool:
			return strconv.FormatBool(x), nil
		case json.Number:
			return x.String(), nil
		default:
			return "", errors.New("must be a string, boolean, number or a list of them")
		}
	}
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, err
		}
		if len(list) == 0 {
			return nil, errors.New("empty value list")
		}
		out := make([]string, 0, len(list))
		for _, r := range list {
			s, err := one(r)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := one(b)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// principalInfo identifies a caller for trust-policy Principal matching.
type principalInfo struct {
	Account string
	Entity  string // the IAM user ARN, or the role ARN of a role session
	Session string // the assumed-role session ARN; "" for users
}

// principalMatch says how a trust policy statement names the caller; the
// kinds are ordered from weakest to strongest.
type principalMatch int

const (
	noMatch principalMatch = iota
	// matchAccount: "*", the account id or arn:aws:iam::ACCOUNT:root. The
	// account delegates the decision to its identity policies.
	matchAccount
	// matchEntity: the IAM user ARN, or the role ARN of a role session.
	matchEntity
	// matchSession: the assumed-role session ARN itself.
	matchSession
)

// evalRequest is what one policy evaluation looks at.
type evalRequest struct {
	Action    string
	Resource  string
	Principal *principalInfo    // nil for identity policies
	Context   map[string]string // lower-case condition keys; absent key = not present
}

type decision int

const (
	implicitDeny decision = iota
	allow
	explicitDeny
)

func (d decision) String() string {
	switch d {
	case allow:
		return "allow"
	case explicitDeny:
		return "explicit deny"
	default:
		return "implicit deny"
	}
}

// evaluate applies AWS's rule to a set of policies: an explicit Deny wins,
// then any Allow, else implicit deny. Policies must have been checked
// already (Config.validate, ParsePolicy): evaluate runs in concurrent
// handlers and never writes to a policy. An unchecked one fails closed
// as an explicit deny.
func evaluate(policies []*Policy, req evalRequest) decision {
	d := implicitDeny
	for _, p := range policies {
		if p == nil {
			continue
		}
		if !p.parsed {
			return explicitDeny
		}
		for i := range p.Statements {
			st := &p.Statements[i]
			if !st.matches(req) {
				continue
			}
			if st.Effect == "Deny" {
				return explicitDeny
			}
			d = allow
		}
	}
	return d
}

func (st *Statement) matches(req evalRequest) bool {
	act := strings.ToLower(req.Action)
	if st.NotActions != nil {
		if anyMatch(st.NotActions, act, true) {
			return false
		}
	} else if !anyMatch(st.Actions, act, true) {
		return false
	}
	if st.HasResource {
		if st.NotResources != nil {
			if anyMatch(st.NotResources, req.Resource, false) {
				return false
			}
		} else if !anyMatch(st.Resources, req.Resource, false) {
			return false
		}
	}
	if st.HasPrincipal && !principalMatches(st.Principals, req.Principal) {
		return false
	}
	for _, c := range st.Conditions {
		if !c.holds(req.Context) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if wildcardMatch(p, s) {
			return true
		}
	}
	return false
}

func principalMatches(vals []string, who *principalInfo) bool {
	return principalMatchKind(vals, who) != noMatch
}

// principalMatchKind is the strongest way any of vals names who.
func principalMatchKind(vals []string, who *principalInfo) principalMatch {
	best := noMatch
	if who == nil {
		return best
	}
	for _, v := range vals {
		m := noMatch
		switch {
		case who.Session != "" && v == who.Session:
			m = matchSession
		case v == who.Entity:
			m = matchEntity
		case v == "*", v == who.Account, v == "arn:aws:iam::"+who.Account+":root":
			m = matchAccount
		}
		best = max(best, m)
	}
	return best
}

// evaluateTrust evaluates a role trust policy as evaluate does and, when
// it allows, also reports the strongest way an applicable Allow statement
// named the caller (assumeRoleAllowed needs it).
func evaluateTrust(p *Policy, req evalRequest) (decision, principalMatch) {
	d := evaluate([]*Policy{p}, req)
	if d != allow {
		return d, noMatch
	}
	how := noMatch
	for i := range p.Statements {
		st := &p.Statements[i]
		if st.Effect == "Allow" && st.matches(req) {
			how = max(how, principalMatchKind(st.Principals, req.Principal))
		}
	}
	return d, how
}

// assumeRoleAllowed combines the decisions of the caller's identity
// policies, its session policy (allow when it has none) and the role's
// trust policy for sts:AssumeRole, following AWS's policy evaluation
// logic in the IAM User Guide: "How AWS enforcement code logic evaluates
// requests to allow or deny access", step "Resource-based policies"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic_policy-eval-denyallow.html;
// formerly the section "Determining whether a request is allowed or denied
// within an account" of reference_policies_evaluation-logic.html), and
// "Cross-account policy evaluation logic"
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html):
//
//   - An explicit deny in any of them denies.
//   - "IAM role trust policies … must explicitly allow access for
//     principals": without an Allow in the trust policy, nothing else helps.
//   - Within one account, the principal named in the resource-based policy
//     decides which implicit denies still apply. A trust policy that names
//     the IAM user ARN grants "not limited by an implicit deny in an
//     identity-based policy"; one that names the role ARN of a role session
//     is "limited by an implicit deny in a permissions boundary or session
//     policy" only; one that names the assumed-role session ARN grants
//     "directly to the assumed role session", limited by neither.
//   - Naming the account ("111122223333" or arn:aws:iam::111122223333:root,
//     and here also "*") delegates to the account's identity policies,
//     which must then allow (as they must across accounts: "The
//     principal's identity-based policy must allow the requested access").
func assumeRoleAllowed(identity, session, trust decision, how principalMatch, sameAccount bool) bool {
	if identity == explicitDeny || session == explicitDeny || trust != allow {
		return false
	}
	if sameAccount {
		switch how {
		case matchSession:
			return true
		case matchEntity:
			return session == allow
		}
	}
	return identity == allow && session == allow
}

// holds evaluates one condition: any listed value may match (OR); a
// missing key fails unless the operator ends in IfExists.
func (c Condition) holds(ctx map[string]string) bool {
	base, ifExists := strings.CutSuffix(c.Operator, "IfExists")
	v, ok := ctx[strings.ToLower(c.Key)]
	if c.Operator == "Null" {
		// "true": the key must be absent; "false": present.
		for _, want := range c.Values {
			if strings.EqualFold(want, "true") != ok {
				return true
			}
		}
		return false
	}
	if !ok {
		return ifExists
	}
	if base == "Bool" {
		for _, want := range c.Values {
			if strings.EqualFold(v, want) {
				return true
			}
		}
		return false
	}
	cmp, ok := numericOps[base]
	if !ok {
		return false
	}
	got, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return false
	}
	// Negated operators need the value to differ from every listed value.
	if base == "NumericNotEquals" {
		for _, want := range c.Values {
			w, err := strconv.ParseFloat(want, 64)
			if err != nil || !cmp(got, w) {
				return false
			}
		}
		return true
	}
	for _, want := range c.Values {
		w, err := strconv.ParseFloat(want, 64)
		if err == nil && cmp(got, w) {
			return true
		}
	}
	return false
}

// wildcardMatch matches s against a pattern with `*` (any run) and `?` (one
// character), in linear time with single-star backtracking.
func wildcardMatch(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		// '*' first: a '*' in s must not consume the pattern's star as a
		// literal, which left no backtrack point ("*" did not match "*0").
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
