package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mfabridge/mfabridge/device"
)

// processOptions configures code processes (process:COMMAND, a profile's
// mfa_process): the child's environment is ours without the secrets we
// hold, and $MFABRIDGE_PROCESS_TIMEOUT (a Go duration, default 1m) bounds
// a run.
func (a *app) processOptions() (device.ProcessOptions, error) {
	opts := device.ProcessOptions{Env: processEnv(os.Environ())}
	if v := a.getenv("MFABRIDGE_PROCESS_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return opts, usageError{fmt.Errorf("MFABRIDGE_PROCESS_TIMEOUT=%q: want a positive duration such as 30s or 2m", v)}
		}
		opts.Timeout = d
	}
	return opts, nil
}

// secretEnv are the variables a code process never sees: the OATH password
// and AWS credentials this process may hold.
var secretEnv = []string{"MFABRIDGE_OATH_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN"}

func processEnv(env []string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		for _, s := range secretEnv {
			if strings.EqualFold(name, s) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}
