package stsemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"time"
)

// totpAt computes the RFC 6238 code (HMAC-SHA1, RFC 4226 dynamic
// truncation) for one time step.
func totpAt(key []byte, step int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// mfaDevice is a configured device with its decoded key.
type mfaDevice struct {
	Serial string
	key    []byte
	digits int
	period int64
	owner  *userRec // the user it is enabled for; nil when not enabled

	// IAM state (iam.go): the account holding the device and when it was
	// enabled. Devices from the config are enabled when the server starts.
	account string
	enabled time.Time

	// STS replay ledger (server.go checkMFA), guarded by Server.mu like
	// owner: the last TOTP step this device accepted. It lives and dies
	// with the record, so a deleted and recreated device starts afresh;
	// deactivating keeps it.
	lastStep    int64
	hasLastStep bool
}

// matchStep finds a time step within ±1 of now whose code equals code and
// that is later than last (the last step this device accepted; steps at
// or before it are spent, RFC 6238 §5.2). ok is false for a wrong or
// reused code.
func (d *mfaDevice) matchStep(code string, now time.Time, last int64, hasLast bool) (step int64, ok bool) {
	cur := now.Unix() / d.period
	for s := cur - 1; s <= cur+1; s++ {
		if hasLast && s <= last {
			continue
		}
		if hmac.Equal([]byte(totpAt(d.key, s, d.digits)), []byte(code)) {
			return s, true
		}
	}
	return 0, false
}
