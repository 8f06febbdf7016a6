//go:build linux

package pcsc

// The PIV applet of the simulator through the real stack (pcscd + vpcd),
// checked by two independent clients: Yubico's ykman and a program built on
// github.com/go-piv/piv-go/v2 (testdata/pivgo, a module of its own, so
// piv-go never enters mfabridge's dependencies). Our own client
// (device/piv) then uses the keys they made.
//
// Run under the shared lock: CI=1 flock /tmp/mfab-pcscd.lock go test ./pcsc -run Piv

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mfabridge/mfabridge/device/piv"
	"github.com/mfabridge/mfabridge/oath"
	"github.com/mfabridge/mfabridge/simulator"
	"github.com/mfabridge/mfabridge/sts/keystore"
)

const defaultMgmtHex = "010203040506070801020304050607080102030405060708"

// attachPIVCard puts a fresh simulated key (serialB) in slot 1, its state
// in the test's folder; the usual key returns when the test ends.
func attachPIVCard(t *testing.T, s *testStack) *simulator.Card {
	t.Helper()
	card, err := simulator.Create(filepath.Join(t.TempDir(), "piv.json"), serialB, firmware)
	if err != nil {
		t.Fatal(err)
	}
	s.attach(t, 1, card)
	t.Cleanup(func() { s.attach(t, 1, s.slots[1].card) })
	return card
}

// pivSession connects to reader over PC/SC, begins a transaction, selects
// PIV and hands our client to f; everything is released after. Only that
// reader is touched: probing the others (OpenKey) would have pcscd power
// their cards off a few seconds later, under the feet of the next test's
// in-process client.
func pivSession(t *testing.T, reader string, f func(ctx context.Context, c *piv.Client)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pc, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	k, err := pc.Connect(ctx, reader)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.Begin(ctx); err != nil {
		t.Fatal(err)
	}
	defer k.End()
	c := piv.NewClient(k)
	if err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	f(ctx, c)
}

func readPEMPublic(t *testing.T, path string) *ecdsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block:\n%s", path, b)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("%s holds a %T", path, pub)
	}
	return ec
}

// ykman piv info, keys generate and access change-pin succeed on the
// simulated key, and our client uses the key ykman generated (ECDH equals
// crypto/ecdh; the attestation verifies against the simulator's root only).
func TestStackPivYkman(t *testing.T) {
	s := needStack(t)
	ykmanPath(t)
	card := attachPIVCard(t, s)
	// --reader, not --device: ykman then never opens the other slot's card.
	dev := s.slots[1].reader

	out := ykman(t, "", "--reader", dev, "piv", "info")
	for _, want := range []string{
		"PIV version: 5.4.3", "WARNING: Using default PIN!", "PIN tries remaining: 3/3",
		"WARNING: Using default Management key!", "Management key algorithm: TDES",
		"CHUID:\tNo data available.", "CCC: \tNo data available.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("ykman piv info lacks %q:\n%s", want, out)
		}
	}

	pubPath := filepath.Join(t.TempDir(), "pub.pem")
	ykman(t, "", "--reader", dev, "piv", "keys", "generate", "-a", "ECCP256",
		"--pin-policy", "ONCE", "--touch-policy", "CACHED", "-m", defaultMgmtHex, "9d", pubPath)
	pub := readPEMPublic(t, pubPath)
	k, ok := card.Snapshot().PIV.Keys["9d"]
	if !ok || k.Alg != 0x11 || k.PINPolicy != 2 || k.TouchPolicy != 3 || k.Origin != 1 {
		t.Fatalf("state file after ykman keys generate: %+v (present %v)", k, ok)
	}

	ykman(t, "", "--reader", dev, "piv", "access", "change-pin", "-P", piv.DefaultPIN, "-n", "97531864")
	if out := ykman(t, "", "--reader", dev, "piv", "info"); strings.Contains(out, "Using default PIN") ||
		!strings.Contains(out, "PIN tries remaining: 3/3") {
		t.Errorf("ykman piv info after change-pin:\n%s", out)
	}

	// A self-signed certificate made by ykman with the card's key (GENERAL
	// AUTHENTICATE sign, PUT DATA of the certificate and CHUID); reading it
	// back in piv info takes GET RESPONSE (C0) continuations.
	ykman(t, "", "--reader", dev, "piv", "certificates", "generate", "-m", defaultMgmtHex, "-P", "97531864",
		"-s", "CN=mfabridge PIV stack test", "9d", pubPath)
	if out := ykman(t, "", "--reader", dev, "piv", "info"); !strings.Contains(out, "CN=mfabridge PIV stack test") ||
		strings.Contains(out, "CHUID:\tNo data available.") {
		t.Errorf("ykman piv info after certificates generate:\n%s", out)
	}

	root, err := card.PIVAttestationRoot()
	if err != nil {
		t.Fatal(err)
	}
	simRoots := x509.NewCertPool()
	simRoots.AddCert(root)
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cardPub, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.ECDH(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	pivSession(t, s.slots[1].reader, func(ctx context.Context, c *piv.Client) {
		md, err := c.Metadata(ctx, byte(piv.SlotKeyManagement))
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(md.PublicKey) || md.PINPolicy != piv.PINPolicyOnce || md.TouchPolicy != piv.TouchPolicyCached {
			t.Fatalf("our client reads %+v for the key ykman generated", md)
		}
		// The old PIN is gone: a wrong PIN says how many tries are left.
		var ae *piv.AuthError
		if err := c.VerifyPIN(ctx, piv.DefaultPIN); !errors.As(err, &ae) || ae.Retries != 2 {
			t.Fatalf("VerifyPIN(old PIN) = %v, want AuthError with 2 tries", err)
		}
		if _, err := c.ECDH(ctx, piv.SlotKeyManagement, peer.PublicKey()); !errors.Is(err, piv.ErrSecurityStatus) {
			t.Fatalf("ECDH before VERIFY = %v, want ErrSecurityStatus", err)
		}
		if err := c.VerifyPIN(ctx, "97531864"); err != nil {
			t.Fatal(err)
		}
		got, err := c.ECDH(ctx, piv.SlotKeyManagement, peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ECDH over PC/SC %x, crypto/ecdh %x", got, want)
		}
		slotCert, err := c.Attest(ctx, piv.SlotKeyManagement)
		if err != nil {
			t.Fatal(err)
		}
		f9, err := c.AttestationCertificate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		a, err := piv.VerifyAttestation(f9, slotCert, piv.VerifyOptions{Roots: simRoots})
		if err != nil {
			t.Fatal(err)
		}
		if a.Serial != serialB || !pub.Equal(a.PublicKey) || a.Slot != piv.SlotKeyManagement {
			t.Errorf("attestation %+v", a)
		}
		if _, err := piv.VerifyAttestation(f9, slotCert, piv.VerifyOptions{}); !errors.Is(err, piv.ErrAttestation) {
			t.Errorf("the simulator's attestation against Yubico's roots = %v, want ErrAttestation", err)
		}
		cert, err := c.Certificate(ctx, piv.SlotKeyManagement)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Subject.CommonName != "mfabridge PIV stack test" || !pub.Equal(cert.PublicKey) {
			t.Errorf("certificate ykman wrote: %s, key matches %v", cert.Subject, pub.Equal(cert.PublicKey))
		}
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			t.Errorf("ykman's self-signed certificate (signed by the card) does not verify: %v", err)
		}
	})

	// ykman piv reset blocks PIN and PUK with FF blocks, then resets.
	ykman(t, "", "--reader", dev, "piv", "reset", "-f")
	p := card.Snapshot().PIV
	if len(p.Keys) != 1 || p.PINTries != 3 || p.PUKTries != 3 || !bytes.Equal(p.PIN, []byte("123456\xff\xff")) {
		t.Errorf("state after ykman piv reset: %d keys (want only F9), tries %d/%d, PIN %x", len(p.Keys), p.PINTries, p.PUKTries, p.PIN)
	}
	if _, ok := p.Keys["f9"]; !ok {
		t.Error("ykman piv reset removed the attestation key")
	}
}

// Our client over PC/SC in both framings: short with command chaining and
// extended, each storing and reading back a certificate-sized object.
func TestStackPivFraming(t *testing.T) {
	s := needStack(t)
	attachPIVCard(t, s)
	obj := make([]byte, 2500)
	rand.Read(obj)
	for name, f := range map[string]piv.Framing{"short": piv.FramingShort, "extended": piv.FramingExtended} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			pc, err := Open(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			k, err := pc.Connect(ctx, s.slots[1].reader)
			if err != nil {
				t.Fatal(err)
			}
			defer k.Close()
			c := piv.NewClient(k, piv.WithFraming(f))
			if err := c.Select(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.AuthenticateManagementKey(ctx, piv.DefaultManagementKey); err != nil {
				t.Fatal(err)
			}
			if err := c.PutData(ctx, 0x5FC10D, obj); err != nil {
				t.Fatal(err)
			}
			got, err := c.GetData(ctx, 0x5FC10D)
			if err != nil || !bytes.Equal(got, obj) {
				t.Fatalf("GetData after PutData: %d bytes, %v", len(got), err)
			}
		})
	}
}

// pivgoResult is what testdata/pivgo prints.
type pivgoResult struct {
	Serial           uint32 `json:"serial"`
	Version          string `json:"version"`
	Public           string `json:"public"`
	Attestation      []byte `json:"attestation"`
	AttestationCert  []byte `json:"attestation_cert"`
	AttestedSerial   uint32 `json:"attested_serial"`
	AttestedPIN      int    `json:"attested_pin"`
	AttestedTouch    int    `json:"attested_touch"`
	AttestedSlot     string `json:"attested_slot"`
	Shared           string `json:"shared"`
	YubicoRootsError string `json:"yubico_roots_error"`
}

// buildPivgo builds testdata/pivgo (its own module, cgo) into dir.
func buildPivgo(t *testing.T) string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatal("no go tool to build testdata/pivgo")
		}
	}
	if _, err := os.Stat("/usr/include/PCSC/winscard.h"); err != nil {
		skipOrFail(t, "piv-go needs libpcsclite-dev (apt-get install libpcsclite-dev; make deps)")
	}
	src, err := filepath.Abs("../testdata/pivgo")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pivgo")
	cmd := exec.Command(goTool, "build", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build testdata/pivgo: %v\n%s", err, out)
	}
	return bin
}

// The piv-go program (a real third-party PIV client) generates a P-256 key
// on the simulated key, reads and verifies its attestation (against the
// simulator's root; Yubico's roots refuse it), and gets the same ECDH
// shared secret as crypto/ecdh; our client then uses that key too.
func TestStackPivGo(t *testing.T) {
	s := needStack(t)
	bin := buildPivgo(t)
	card := attachPIVCard(t, s)
	root, err := card.PIVAttestationRoot()
	if err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(rootPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-reader", s.slots[1].reader, "-slot", "9d",
		"-peer", hex.EncodeToString(peer.PublicKey().Bytes()), "-root", rootPath)
	cmd.Stdin = strings.NewReader(piv.DefaultPIN + "\n") // the PIN never goes on argv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("pivgo: %v\n%s", err, stderr.String())
	}
	var res pivgoResult
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("pivgo output %q: %v", stdout.String(), err)
	}
	if res.Serial != serialB || res.Version != "5.4.3" {
		t.Errorf("piv-go read serial %d, version %s", res.Serial, res.Version)
	}
	pubBytes, err := hex.DecodeString(res.Public)
	if err != nil {
		t.Fatal(err)
	}
	cardPub, err := ecdh.P256().NewPublicKey(pubBytes)
	if err != nil {
		t.Fatal(err)
	}
	want, err := peer.ECDH(cardPub)
	if err != nil {
		t.Fatal(err)
	}
	if res.Shared != hex.EncodeToString(want) {
		t.Fatalf("piv-go ECDH %s, crypto/ecdh %x", res.Shared, want)
	}
	// piv-go's own Verifier accepted the chain with the simulator's root,
	// read the policies, and refused it with Yubico's.
	if res.AttestedSerial != serialB || res.AttestedPIN != 2 || res.AttestedTouch != 1 || res.AttestedSlot != "9d" {
		t.Errorf("piv-go's attestation: serial %d, PIN %d, touch %d, slot %s", res.AttestedSerial, res.AttestedPIN, res.AttestedTouch, res.AttestedSlot)
	}
	if res.YubicoRootsError == "" {
		t.Error("piv-go verified the simulator's attestation against Yubico's roots")
	}
	// Our verifier agrees on the certificates piv-go read.
	slotCert, err := x509.ParseCertificate(res.Attestation)
	if err != nil {
		t.Fatal(err)
	}
	f9, err := x509.ParseCertificate(res.AttestationCert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	a, err := piv.VerifyAttestation(f9, slotCert, piv.VerifyOptions{Roots: pool})
	if err != nil {
		t.Fatal(err)
	}
	ap, ok := a.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("attested key is %T", a.PublicKey)
	}
	if e, err := ap.ECDH(); err != nil || !e.Equal(cardPub) {
		t.Fatalf("attested key differs from the key piv-go generated (%v)", err)
	}
	// Our client uses the key piv-go made, with the same answer.
	pivSession(t, s.slots[1].reader, func(ctx context.Context, c *piv.Client) {
		if err := c.VerifyPIN(ctx, piv.DefaultPIN); err != nil {
			t.Fatal(err)
		}
		got, err := c.ECDH(ctx, piv.SlotKeyManagement, peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("our ECDH %x, piv-go's %s", got, res.Shared)
		}
	})
}

// Issue 11 acceptance through PC/SC: a key ykman generated in a retired slot
// of the simulated YubiKey is the one `mfabridge keys import alice --to
// piv:SERIAL --slot 82` seals
// alice's access key to (our PIV client over pcscd, checking the key's
// attestation), `credential-process` then opens it on the same key (PIV
// first, then OATH for the MFA code) and assumes the role, and the
// credentials file no longer holds alice's key.
func TestStackPivImportYkmanKey(t *testing.T) {
	s := needStack(t)
	ykmanPath(t)
	const serial = 88888888
	card, err := simulator.Create(filepath.Join(t.TempDir(), "import.json"), serial, firmware)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	secret, err := base32.StdEncoding.DecodeString(sessionMFASecret)
	if err != nil {
		t.Fatal(err)
	}
	c := oath.NewClient(card)
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Put(ctx, oath.PutRequest{Name: "AWS:alice@111111111111", Type: oath.TOTP, Algorithm: oath.SHA1, Digits: 6, Key: secret}); err != nil {
		t.Fatal(err)
	}
	card.PowerOff()
	s.attach(t, 1, card)
	t.Cleanup(func() { s.attach(t, 1, s.slots[1].card) })

	// ykman makes the key: P-256 in retired slot 82, PIN once, touch
	// never (no one touches in a test), with the factory management key.
	pubPath := filepath.Join(t.TempDir(), "pub.pem")
	ykman(t, "", "--reader", s.slots[1].reader, "piv", "keys", "generate", "-a", "ECCP256",
		"--pin-policy", "ONCE", "--touch-policy", "NEVER", "-m", defaultMgmtHex, "82", pubPath)
	pub := readPEMPublic(t, pubPath)

	home, stslog := sessionHome(t, "")
	cfgPath := filepath.Join(home, ".aws", "config")
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// the role profile's device is this key (sessionHome names the
	// session key's serial)
	b = bytes.ReplaceAll(b, []byte(fmt.Sprintf("yubikey:%d", sessionSerial)), []byte(fmt.Sprintf("yubikey:%d", serial)))
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	credsPath := filepath.Join(home, ".aws", "credentials")
	env := []string{"MFABRIDGE_PIV_PIN=" + piv.DefaultPIN}

	spec := fmt.Sprintf("piv:%d", serial)
	// the simulator's attestation chain is refused unless trusted
	creds0, err := os.ReadFile(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := cliEnv(t, home, env, "keys", "import", "alice", "--to", spec, "--slot", "82"); err == nil ||
		!strings.Contains(stderr, "attested by a simulated YubiKey") {
		t.Fatalf("keys import of a simulated key without --trust-simulator-attestation: %v\n%s", err, stderr)
	}
	if b, err := os.ReadFile(credsPath); err != nil || !bytes.Equal(b, creds0) {
		t.Fatalf("a refused import changed the credentials file (%v)", err)
	}
	if out, stderr, err := cliEnv(t, home, env, "keys", "import", "alice", "--to", spec, "--slot", "82", "--trust-simulator-attestation"); err != nil {
		t.Fatalf("keys import --to %s over PC/SC: %v\n%s\n%s", spec, err, out, stderr)
	}
	creds, err := os.ReadFile(credsPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(creds, []byte("AKIAALICE00000000001")) || bytes.Contains(creds, []byte("alice-secret-access-key")) {
		t.Fatalf("the credentials file still holds alice's key:\n%s", creds)
	}
	sealed, err := os.ReadFile(filepath.Join(home, ".config", "mfabridge", "keys", "piv", "alice.sealed"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("alice-secret-access-key")) {
		t.Fatal("the sealed file holds the secret in clear")
	}
	// sealed to the key ykman generated, in slot 82 of this YubiKey
	hdr, err := keystore.ParseSealed(sealed)
	if err != nil {
		t.Fatal(err)
	}
	ykPub, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	if hdr.Serial != serial || hdr.Slot != 0x82 || !hdr.Recipient.Equal(ykPub) {
		t.Fatalf("sealed to serial %d slot %02x, recipient is ykman's key: %v", hdr.Serial, hdr.Slot, hdr.Recipient.Equal(ykPub))
	}

	out, stderr, err := cliEnv(t, home, env, "credential-process", "prod")
	if err != nil || !strings.Contains(out, `"AccessKeyId":"ASIA`) {
		t.Fatalf("credential-process prod with the sealed key: %v\n%s\n%s", err, out, stderr)
	}
	if got := strings.Count(stslog.String(), "AssumeRole"); got != 1 {
		t.Errorf("%d AssumeRole calls, want 1:\n%s", got, stslog.String())
	}
	// the key ykman made is still the one in 82 (nothing replaced it)
	pivSession(t, s.slots[1].reader, func(ctx context.Context, c *piv.Client) {
		md, err := c.Metadata(ctx, 0x82)
		if err != nil || !pub.Equal(md.PublicKey) || md.Origin != piv.OriginGenerated {
			t.Fatalf("slot 82 holds another key than ykman's (%v)", err)
		}
	})
}
