//go:build windows

package securefile

import (
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"
)

// currentUser is the SID of the process token's user: the owner every
// private file must have.
var currentUser = sync.OnceValues(func() (*windows.SID, error) {
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		return nil, fmt.Errorf("read the user of the process token: %w", err)
	}
	return tu.User.Sid.Copy()
})

// privateSDDL is the security descriptor given to what this package creates:
// owner user, and a protected DACL (P: no ACE inherited from the parent)
// granting full access to user alone. A directory's ACE is inherited by what
// is created inside it (OICI), so even a file created by other code there
// (a lock file) is private.
func privateSDDL(user *windows.SID, dir bool) string {
	inherit := ""
	if dir {
		inherit = "OICI"
	}
	return "O:" + user.String() + "D:P(A;" + inherit + ";FA;;;" + user.String() + ")"
}

// privateDescriptor builds privateSDDL's descriptor.
func privateDescriptor(user *windows.SID, dir bool) (*windows.SECURITY_DESCRIPTOR, error) {
	sd, err := windows.SecurityDescriptorFromString(privateSDDL(user, dir))
	if err != nil {
		return nil, fmt.Errorf("build a private security descriptor: %w", err)
	}
	return sd, nil
}

func securityAttributes(sd *windows.SECURITY_DESCRIPTOR) *windows.SecurityAttributes {
	return &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
}

// trustee reports whether an ACE granting access to sid keeps the object
// private to user: user itself, LocalSystem and the Administrators group
// (both can take ownership of any file anyway; Windows grants them access
// to every profile folder, and Wine lists SYSTEM in every DACL it makes up).
func trustee(sid, user *windows.SID) bool {
	return sid.Equals(user) || sid.IsWellKnown(windows.WinLocalSystemSid) || sid.IsWellKnown(windows.WinBuiltinAdministratorsSid)
}

// checkDescriptor checks that sd makes path private to user: owner user, a
// DACL present (a missing DACL grants everyone everything), and no allow
// ACE for anyone but a trustee. Deny ACEs only take rights away and are
// accepted. A directory's inherit-only ACEs count (they give access to what
// is created inside); a file's apply to nothing. Any other ACE type
// (object, callback, conditional ACEs) is not something this package
// writes, so it is refused.
//
// The DACL is not required to be protected: what counts is who can open
// the object now, and Wine, which makes DACLs up from Unix mode bits, never
// reports the flag. What this package creates is protected.
func checkDescriptor(path string, sd *windows.SECURITY_DESCRIPTOR, user *windows.SID, dir bool) error {
	fix := privateFix(path, dir)
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return &Error{Path: path, Err: ErrForeign, Detail: "it has no owner", Fix: "take ownership: takeown /f \"" + path + "\""}
	}
	if !owner.Equals(user) {
		return &Error{Path: path, Err: ErrForeign, Detail: fmt.Sprintf("owner %s, not you (%s)", account(owner), account(user)),
			Fix: "take ownership (takeown /f \"" + path + "\"), or remove it"}
	}
	dacl, _, err := sd.DACL()
	if err != nil || dacl == nil {
		return &Error{Path: path, Err: ErrNotPrivate, Detail: "no DACL: everyone has full access", Fix: fix}
	}
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if err := windows.GetAce(dacl, i, &ace); err != nil {
			return &Error{Path: path, Err: ErrNotPrivate, Detail: fmt.Sprintf("unreadable ACE %d: %v", i, err), Fix: fix}
		}
		if !dir && ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 {
			continue // applies to nothing: a file has no children
		}
		switch ace.Header.AceType {
		case windows.ACCESS_DENIED_ACE_TYPE:
			continue
		case windows.ACCESS_ALLOWED_ACE_TYPE:
			sid := (*windows.SID)(unsafe.Pointer(&ace.SidStart))
			if ace.Mask == 0 || trustee(sid, user) {
				continue
			}
			return &Error{Path: path, Err: ErrNotPrivate, Detail: fmt.Sprintf("its DACL grants %s to %s", accessName(ace.Mask), account(sid)), Fix: fix}
		default:
			return &Error{Path: path, Err: ErrNotPrivate, Detail: fmt.Sprintf("its DACL holds an ACE of type %d", ace.Header.AceType), Fix: fix}
		}
	}
	return nil
}

// privateFix is the command that makes path private to the user running it.
func privateFix(path string, dir bool) string {
	grant := "F"
	if dir {
		grant = "(OI)(CI)F"
	}
	return fmt.Sprintf("icacls \"%s\" /inheritance:r /grant:r \"%%USERNAME%%:%s\", then remove every other entry under Properties > Security", path, grant)
}

// account names a SID for a message: DOMAIN\name (S-1-…) when it resolves.
func account(sid *windows.SID) string {
	if name, domain, _, err := sid.LookupAccount(""); err == nil && name != "" {
		if domain != "" {
			name = domain + `\` + name
		}
		return name + " (" + sid.String() + ")"
	}
	return sid.String()
}

// accessName says what an access mask allows, roughly.
func accessName(m windows.ACCESS_MASK) string {
	const (
		read  = windows.FILE_READ_DATA | windows.GENERIC_READ | windows.GENERIC_ALL
		write = windows.FILE_WRITE_DATA | windows.FILE_APPEND_DATA | windows.GENERIC_WRITE | windows.GENERIC_ALL |
			windows.WRITE_DAC | windows.WRITE_OWNER | windows.DELETE
	)
	switch {
	case m&read != 0 && m&write != 0:
		return fmt.Sprintf("read and write access (%#x)", uint32(m))
	case m&read != 0:
		return fmt.Sprintf("read access (%#x)", uint32(m))
	case m&write != 0:
		return fmt.Sprintf("write access (%#x)", uint32(m))
	}
	return fmt.Sprintf("access %#x", uint32(m))
}
