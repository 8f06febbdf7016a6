//go:build windows

// aclcheck PATH...: checks, through the Windows security APIs, that each file
// or directory is private to the user running it: owned by the process
// token's user, with a DACL whose allow entries name only that user (and
// LocalSystem, which Windows and Wine put in every profile's DACL). It prints
// each path's descriptor as SDDL and exits 1 if any is not private.
//
// It is a test tool of .ci/wine/acceptance (built from this file alone:
// go build .ci/wine/aclcheck.go), kept apart from the product's own check so
// that the acceptance does not take the product's word for it.
package main

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/windows"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: aclcheck PATH...")
		os.Exit(2)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		fmt.Fprintf(os.Stderr, "aclcheck: read the process token's user: %v\n", err)
		os.Exit(1)
	}
	user := tu.User.Sid
	status := 0
	for _, p := range os.Args[1:] {
		if err := check(p, user); err != nil {
			fmt.Fprintf(os.Stderr, "aclcheck: %s: %v\n", p, err)
			status = 1
		}
	}
	os.Exit(status)
}

func check(path string, user *windows.SID) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("read security descriptor: %w", err)
	}
	ctl, _, err := sd.Control()
	if err != nil {
		return fmt.Errorf("read descriptor control: %w", err)
	}
	fmt.Printf("%s\t%s\tprotected=%t\n", path, sd.String(), ctl&windows.SE_DACL_PROTECTED != 0)
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return fmt.Errorf("no owner (%v)", err)
	}
	if !owner.Equals(user) {
		return fmt.Errorf("owner %s, want the current user %s", owner, user)
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return fmt.Errorf("no DACL: everyone has full access (%v)", err)
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return fmt.Errorf("read ACE %d: %w", i, err)
		}
		switch ace.Header.AceType {
		case windows.ACCESS_DENIED_ACE_TYPE:
			continue
		case windows.ACCESS_ALLOWED_ACE_TYPE:
			sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			if ace.Mask == 0 || sid.Equals(user) || sid.IsWellKnown(windows.WinLocalSystemSid) {
				continue
			}
			return fmt.Errorf("ACE %d allows %#x to %s", i, uint32(ace.Mask), sid)
		default:
			return fmt.Errorf("ACE %d has type %d", i, ace.Header.AceType)
		}
	}
	return nil
}
