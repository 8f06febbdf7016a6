package keystore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The credentials file after `keys import alice`: alice's key lines are
// gone, every other byte (comments, CRLF endings, spacing, other profiles,
// alice's other settings, a last line without an end of line) is kept, no
// backup or temporary file is left, and no file in the folder holds the
// secret in any encoding; the key is in the new store.
func TestMoveOutOfCredentialsFile(t *testing.T) {
	for _, dest := range []string{"age", "piv", "keyring"} {
		t.Run(dest, func(t *testing.T) {
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			credPath := filepath.Join(home, ".aws", "credentials")
			before := "# my keys\r\n[default]\r\naws_access_key_id = AKIADEFAULT000000001\r\naws_secret_access_key = default-secret\r\n\r\n" +
				"[alice]\r\n; work account\r\naws_access_key_id=" + aliceKey.AccessKeyID + "   \r\nregion = eu-west-1 # keep\r\n" +
				"AWS_Secret_Access_Key  =  " + aliceKey.SecretAccessKey + " ; inline\r\n\r\n[bob]\r\naws_access_key_id = " + bobKey.AccessKeyID +
				"\r\naws_secret_access_key = " + bobKey.SecretAccessKey
			want := "# my keys\r\n[default]\r\naws_access_key_id = AKIADEFAULT000000001\r\naws_secret_access_key = default-secret\r\n\r\n" +
				"[alice]\r\n; work account\r\nregion = eu-west-1 # keep\r\n\r\n[bob]\r\naws_access_key_id = " + bobKey.AccessKeyID +
				"\r\naws_secret_access_key = " + bobKey.SecretAccessKey
			if err := os.MkdirAll(filepath.Dir(credPath), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(credPath, []byte(before), 0o640); err != nil {
				t.Fatal(err)
			}
			src := NewCredentialsFile(credPath)
			var to Store
			storeDir := filepath.Join(home, ".config", "mfabridge", "keys")
			switch dest {
			case "age":
				to = NewAgeFile(storeDir, staticPass("pw"), WithScryptWorkFactor(10))
			case "piv":
				card := newSoftCard(t, 7, 0x82)
				s, err := NewPIVStore(storeDir, card.recipient(0x82), opener(card))
				if err != nil {
					t.Fatal(err)
				}
				to = s
			case "keyring":
				to = NewKeyring(&memKeyring{})
			}
			if err := Move(ctx, src, to, "alice"); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(credPath)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != want {
				t.Fatalf("credentials file after import:\n%q\nwant\n%q", got, want)
			}
			if fi, _ := os.Stat(credPath); fi.Mode().Perm() != 0o640 {
				t.Errorf("mode changed to %v", fi.Mode().Perm())
			}
			ents, _ := os.ReadDir(filepath.Dir(credPath))
			if len(ents) != 1 {
				t.Errorf("left in ~/.aws: %v", ents)
			}
			assertNoSecret(t, home, aliceKey.SecretAccessKey)
			k, err := to.Get(ctx, "alice")
			if err != nil || k.SecretAccessKey != aliceKey.SecretAccessKey {
				t.Fatalf("moved key = %v, %v", k, err)
			}
			if _, err := src.Get(ctx, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("source still has alice: %v", err)
			}
			if err := Move(ctx, src, to, "alice"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("second move: %v", err)
			}
		})
	}
}

// A credentials file the AWS CLI refuses is not edited.
func TestCredentialsFileRefusesDuplicateSection(t *testing.T) {
	p := filepath.Join(t.TempDir(), "credentials")
	data := "[alice]\naws_access_key_id = " + aliceKey.AccessKeyID + "\n[alice]\naws_secret_access_key = x\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	err := NewCredentialsFile(p).Delete(ctx, "alice")
	if err == nil || !strings.Contains(err.Error(), "alice") {
		t.Fatalf("delete: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != data {
		t.Fatal("file changed")
	}
}
