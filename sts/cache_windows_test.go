//go:build windows

package sts

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/windows"
)

// untrustedFiles are the Windows ways a cache file is not ours to trust
// that can be made without privileges (and under Wine): a DACL that lets
// Everyone read it, and a directory in its place. A foreign owner and
// reparse points are covered by internal/securefile's descriptor and
// attribute tests.
func untrustedFiles(good []byte) []untrustedCase {
	return []untrustedCase{
		{"everyone readable", func(t *testing.T, p string) {
			os.WriteFile(p, good, 0o600)
			tu, err := windows.GetCurrentProcessToken().GetTokenUser()
			if err != nil {
				t.Fatal(err)
			}
			sd, err := windows.SecurityDescriptorFromString("D:(A;;FA;;;" + tu.User.Sid.String() + ")(A;;FR;;;WD)")
			if err != nil {
				t.Fatal(err)
			}
			dacl, _, _ := sd.DACL()
			if err := windows.SetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION|windows.UNPROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
				t.Fatal(err)
			}
			got, err := windows.GetNamedSecurityInfo(p, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
			if err != nil || !strings.Contains(got.String(), ";WD)") {
				t.Fatalf("Everyone not granted: %v %v", got, err)
			}
		}},
	}
}
