//go:build windows

package simulator

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/windows"

	"github.com/mfabridge/mfabridge/internal/securefile"
	"github.com/mfabridge/mfabridge/internal/testtemp"
)

// TestOpenRefusesUntrustedFile: the state file holds the card's keys, so
// Open refuses one whose DACL lets others read it, saying how to fix it.
// (Foreign owners and reparse points: internal/securefile's tests.)
func TestOpenRefusesUntrustedFile(t *testing.T) {
	path := filepath.Join(testtemp.Dir(t), "card.json")
	c, err := Create(path, 1, fw543)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("Open of a fresh card: %v", err)
	}
	tu, err := windows.GetCurrentProcessToken().GetTokenUser()
	if err != nil {
		t.Fatal(err)
	}
	sd, err := windows.SecurityDescriptorFromString("D:(A;;FA;;;" + tu.User.Sid.String() + ")(A;;FR;;;BU)(A;;FR;;;WD)")
	if err != nil {
		t.Fatal(err)
	}
	dacl, _, _ := sd.DACL()
	if err := windows.SetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION|windows.UNPROTECTED_DACL_SECURITY_INFORMATION, nil, nil, dacl, nil); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if !errors.Is(err, securefile.ErrNotPrivate) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "icacls") {
		t.Fatalf("Open of a file others may read: %v", err)
	}
	// The next save replaces it with a private file.
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err != nil {
		t.Fatalf("Open after Save: %v", err)
	}
}
