package simulator

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/oath"
)

// The card logs to the logger of WithLogger, not to the global default
// (issue 12: --debug lost the simulator's lines).
func TestWithLogger(t *testing.T) {
	var global bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newTestCard(t, fw543, WithTouch(TouchPolicy{Mode: TouchDelay, Delay: time.Millisecond}), WithLogger(log))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
	if _, sw := send(t, c, calcAPDU("touch", nil, true)); sw != oath.SWOK {
		t.Fatalf("CALCULATE: SW %04X", sw)
	}
	if want := `msg="simulator: waiting for touch" mode=delay delay=1ms`; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
	if global.Len() != 0 {
		t.Errorf("the global slog default got lines:\n%s", global.String())
	}

	// Without WithLogger the card is silent and does not panic.
	c = newTestCard(t, fw543, WithTouch(TouchPolicy{Mode: TouchDelay, Delay: time.Millisecond}))
	mustTx(t, c, selectOATH, oath.SWOK)
	send(t, c, putAPDU("touch", oath.HOTP, oath.SHA1, 6, rfcKeys()[oath.SHA1], 0x78, 0x02))
	if _, sw := send(t, c, calcAPDU("touch", nil, true)); sw != oath.SWOK {
		t.Fatalf("CALCULATE: SW %04X", sw)
	}
	if global.Len() != 0 {
		t.Errorf("the global slog default got lines:\n%s", global.String())
	}
}
