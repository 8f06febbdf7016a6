package stsemu

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mfabridge/mfabridge/internal/lazyre"
)

// validator collects parameter constraint violations and renders them in
// AWS's phrasing: "1 validation error detected: Value '…' at 'field' failed
// to satisfy constraint: Member must …" (several joined by "; ").
type validator struct {
	errs []string
}

func (v *validator) add(value *string, field, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + clip(*value, 256) + "'"
	}
	v.errs = append(v.errs, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, field, constraint))
}

func (v *validator) err() *apiError {
	switch len(v.errs) {
	case 0:
		return nil
	case 1:
		return validationError("1 validation error detected: " + v.errs[0])
	default:
		return validationError(fmt.Sprintf("%d validation errors detected: %s", len(v.errs), strings.Join(v.errs, "; ")))
	}
}

var patternCache = map[string]*lazyre.Regexp{
	`[\w+=,.@-]*`:                        lazyre.New(`^[\w+=,.@-]*$`),
	`[\w+=/:,.@-]*`:                      lazyre.New(`^[\w+=/:,.@-]*$`),
	`[\w+=,.@:\/-]*`:                     lazyre.New(`^[\w+=,.@:/-]*$`),
	`[\d]*`:                              lazyre.New(`^[0-9]*$`),
	`[\u0009\u000A\u000D\u0020-\u00FF]+`: lazyre.New(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`),
}

// str checks a string parameter's presence, length (in characters) and
// pattern, and returns its value ("" when absent).
func (v *validator) str(q *apiRequest, param, field string, required bool, minLen, maxLen int, pattern string) string {
	val, ok := q.param(param)
	if !ok {
		if required {
			v.add(nil, field, "Member must not be null")
		}
		return ""
	}
	n := utf8.RuneCountInString(val)
	if n < minLen {
		v.add(&val, field, fmt.Sprintf("Member must have length greater than or equal to %d", minLen))
	}
	if n > maxLen {
		v.add(&val, field, fmt.Sprintf("Member must have length less than or equal to %d", maxLen))
	}
	if pattern != "" && !patternCache[pattern].MatchString(val) {
		v.add(&val, field, "Member must satisfy regular expression pattern: "+pattern)
	}
	return val
}

// duration checks DurationSeconds; 0 means absent.
func (v *validator) duration(q *apiRequest, lo, hi int) int {
	val, ok := q.param("DurationSeconds")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(val)
	if err != nil {
		v.add(&val, "durationSeconds", "Member must be a number")
		return 0
	}
	if n < lo {
		v.add(&val, "durationSeconds", fmt.Sprintf("Member must have value greater than or equal to %d", lo))
	}
	if n > hi {
		v.add(&val, "durationSeconds", fmt.Sprintf("Member must have value less than or equal to %d", hi))
	}
	return n
}

func (v *validator) serialAndCode(q *apiRequest) {
	v.str(q, "SerialNumber", "serialNumber", false, 9, 256, `[\w+=/:,.@-]*`)
	v.str(q, "TokenCode", "tokenCode", false, 6, 6, `[\d]*`)
}
