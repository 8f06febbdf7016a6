//go:build windows

package device

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProcessWindows: the command runs under cmd.exe exactly as written
// (quotes, &, redirections), its exit status and stderr make the error,
// and the time limit stops it. Runs under Wine (see platforms.md).
func TestProcessWindows(t *testing.T) {
	tests := []struct {
		name, cmd string
		want      string
		wantErr   error
		errHas    string
	}{
		{name: "echo", cmd: `echo 123456`, want: "123456"},
		{name: "quotes and &", cmd: `echo "a b" >nul & echo 654321`, want: "654321"},
		{name: "exit status and stderr", cmd: `echo locked 1>&2 & exit 3`, wantErr: ErrProcessFailed, errHas: "exited with status 3; its standard error said: locked"},
		{name: "two lines", cmd: `echo 123456& echo 654321`, wantErr: ErrNotACode, errHas: "printed 2 lines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewProcess(tt.cmd, ProcessOptions{Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.Calculate(context.Background(), "", time.Now())
			if tt.wantErr == nil {
				if err != nil || c.Value != tt.want {
					t.Fatalf("code %q, %v; want %q", c.Value, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want %v (%q)", err, tt.wantErr, tt.errHas)
			}
		})
	}
	d, err := NewProcess(`ping -n 60 127.0.0.1 >nul`, ProcessOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := d.Calculate(context.Background(), "", time.Now()); !errors.Is(err, ErrProcessTimeout) {
		t.Fatalf("error %v, want ErrProcessTimeout", err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %v with a 500ms limit", el)
	}
}
