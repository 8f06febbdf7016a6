//go:build windows

package main

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

// TestRunChildExitStatus: exec returns the child's exit code as Windows
// reports it, including the 32-bit NTSTATUS of a child ended by Ctrl-C.
func TestRunChildExitStatus(t *testing.T) {
	var out bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	for _, tt := range []struct {
		args []string
		want int
	}{
		{[]string{"cmd", "/c", "exit 0"}, 0},
		{[]string{"cmd", "/c", "exit 7"}, 7},
		{[]string{"cmd", "/c", "exit -1073741510"}, 0xC000013A}, // STATUS_CONTROL_C_EXIT
	} {
		err := a.runChild(tt.args, os.Environ())
		var es exitStatus
		switch {
		case tt.want == 0 && err != nil:
			t.Errorf("%v: %v", tt.args, err)
		case tt.want != 0 && (!errors.As(err, &es) || int(es) != tt.want):
			t.Errorf("%v: %v, want exit status %d", tt.args, err, tt.want)
		}
	}
}

// TestRunChildEnvironment: the child gets the environment it is given.
func TestRunChildEnvironment(t *testing.T) {
	var out bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
	env := childEnv(os.Environ(), []string{"AWS_ACCESS_KEY_ID=ASIATEST"}, nil)
	if err := a.runChild([]string{"cmd", "/c", "echo key=%AWS_ACCESS_KEY_ID%"}, env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "key=ASIATEST") {
		t.Fatalf("child printed %q", out.String())
	}
}
