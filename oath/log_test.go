package oath

import (
	"bytes"
	"context"
	"encoding/hex"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestTraceRedacts runs every secret-carrying instruction with a logger
// and checks that the trace shows the APDUs but none of the secrets.
func TestTraceRedacts(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	card := newMiniCard(t)
	c := NewClient(card, WithLogger(logger), WithRand(fixedRand(0xC3)))

	secret := []byte("S3cr3t-S3cr3t-S3cr3t") // 20 bytes
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, PutRequest{Name: "Example:alice", Type: TOTP, Algorithm: SHA1, Digits: 6, Key: secret}); err != nil {
		t.Fatal(err)
	}
	chal := TOTPChallenge(time.Unix(59, 0), 30*time.Second)
	full, err := c.Calculate(ctx, "Example:alice", chal, false)
	if err != nil {
		t.Fatal(err)
	}
	trunc, err := c.Calculate(ctx, "Example:alice", chal, true)
	if err != nil {
		t.Fatal(err)
	}
	key := DeriveKey("hunter2", card.salt)
	if err := c.SetCode(ctx, key); err != nil {
		t.Fatal(err)
	}
	info, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(ctx, key); err != nil {
		t.Fatal(err)
	}
	log := buf.String()

	up := func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }
	secrets := map[string]string{
		"PUT key":                  up(secret[:8]),
		"PUT key tail":             up(secret[12:]),
		"password key":             up(key[:8]),
		"SET CODE challenge":       up(bytes.Repeat([]byte{0xC3}, 8)),
		"SET CODE response":        up(hmacSum(SHA1, key, bytes.Repeat([]byte{0xC3}, 8))[:8]),
		"VALIDATE response":        up(hmacSum(SHA1, key, info.Challenge)[:8]),
		"VALIDATE card response":   up(hmacSum(SHA1, key, bytes.Repeat([]byte{0xC3}, 8))[8:16]),
		"full HMAC":                up(full.Full[:8]),
		"truncated value":          up([]byte{byte(trunc.Truncated >> 24), byte(trunc.Truncated >> 16), byte(trunc.Truncated >> 8), byte(trunc.Truncated)}),
		"code":                     trunc.Code(),
		"secret as text":           string(secret),
		"full-response code (hex)": up([]byte(full.Code())),
	}
	for what, s := range secrets {
		if strings.Contains(log, s) {
			t.Errorf("trace leaks the %s (%s):\n%s", what, s, log)
		}
	}
	for _, want := range []string{
		"> 00A4040007A0000005272101",
		"< 790305040371084BB7A7FAD7AF401B9000",
		"> 00010000" + up([]byte{0x27, 0x71, 0x0D}) + up([]byte("Example:alice")) + "73162106<redacted 20 bytes>",
		"> 00A20000" + up([]byte{0x19, 0x71, 0x0D}) + up([]byte("Example:alice")) + "74080000000000000001",
		"< 751506<redacted 20 bytes>9000",
		"< 760506<redacted 4 bytes>9000",
		"> 00030000337311" + "21<redacted 16 bytes>7408<redacted 8 bytes>7514<redacted 20 bytes>",
		"> 00A30000207514<redacted 20 bytes>7408<redacted 8 bytes>",
		"< 7514<redacted 20 bytes>9000",
		"level=DEBUG",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("trace lacks %q:\n%s", want, log)
		}
	}

	// Without a logger, or above Debug, nothing is written.
	buf.Reset()
	quiet := NewClient(newMiniCard(t), WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	if _, err := quiet.Select(ctx); err != nil || buf.Len() != 0 {
		t.Errorf("info-level logger got %q (err %v)", buf.String(), err)
	}
}

func TestRedactUnaligned(t *testing.T) {
	// Continuation chunks of secret-carrying answers are hidden whole,
	// since they may start inside a value.
	got := redactResponse(InsCalculateAll, []byte{0x71, 0x01, 'a', 0x76, 0x05, 6, 1, 2, 3, 4}, false)
	if got != "<redacted 10 bytes>" {
		t.Errorf("unaligned answer: %q", got)
	}
	got = redactResponse(InsCalculateAll, []byte{0x71, 0x01, 'a', 0x76, 0x05, 6, 1, 2, 3, 4}, true)
	if got != "710161760506<redacted 4 bytes>" {
		t.Errorf("aligned answer: %q", got)
	}
	// LIST answers carry no secret and stay readable even when chunked.
	got = redactResponse(InsList, []byte{0x01, 0x02}, false)
	if got != "0102" {
		t.Errorf("list chunk: %q", got)
	}
	// A chained PUT block is hidden whole.
	got = redactCommand(InsPut, []byte{0x10, 0x01, 0, 0, 3, 0x73, 0x01, 0xFF}, false)
	if got != "1001000003<redacted 3 bytes>" {
		t.Errorf("chained put: %q", got)
	}
}
