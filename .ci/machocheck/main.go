// Command machocheck checks the macOS release binaries the way macOS will
// load them, since nothing here can run them (dist-check runs only the
// host's binary): each must be a Mach-O executable for its architecture;
// its ad-hoc code signature, required on arm64 and checked wherever it is
// present, must match every page (Apple silicon kills an arm64 binary with a
// missing or stale signature, "Killed: 9", as a binary edited after linking
// has); it must carry a non-zero LC_UUID (dyld on current macOS refuses a
// program without one, "dyld: missing LC_UUID load command", and Go's
// linker writes none when the Go build ID is empty, as -buildid= makes it,
// unless -B gives one); and it must link only the system's libraries
// (libSystem and frameworks under /System), which every Mac has.
//
//	go run ./.ci/machocheck FILE...
package main

import (
	"bytes"
	"crypto/sha256"
	"debug/macho"
	"encoding/binary"
	"fmt"
	"os"
	"strings"
)

const (
	lcCodeSignature   = 0x1d
	lcUUID            = 0x1b
	csSuperBlob       = 0xfade0cc0
	csCodeDirectory   = 0xfade0c02
	csHashTypeSHA256  = 2
	csSlotCodeDirOnly = 0
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: machocheck FILE...")
		os.Exit(2)
	}
	failed := false
	for _, p := range os.Args[1:] {
		if err := check(p); err != nil {
			fmt.Fprintf(os.Stderr, "machocheck: %s: %v\n", p, err)
			failed = true
			continue
		}
		fmt.Printf("machocheck: %s: ok (LC_UUID present; signature, if any, valid; system libraries only)\n", p)
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f, err := macho.NewFile(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if f.Type != macho.TypeExec {
		return fmt.Errorf("Mach-O type %v, want an executable", f.Type)
	}
	want := map[string]macho.Cpu{"arm64": macho.CpuArm64, "amd64": macho.CpuAmd64}
	for arch, cpu := range want {
		if strings.Contains(path, "_darwin_"+arch) && f.Cpu != cpu {
			return fmt.Errorf("CPU %v, want %v", f.Cpu, cpu)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		return err
	}
	for _, l := range libs {
		if !strings.HasPrefix(l, "/usr/lib/") && !strings.HasPrefix(l, "/System/Library/") {
			return fmt.Errorf("links %s, which is not a system library", l)
		}
	}
	var off, size uint32
	var uuid []byte
	for _, l := range f.Loads {
		raw := l.Raw()
		switch f.ByteOrder.Uint32(raw) {
		case lcCodeSignature:
			off, size = f.ByteOrder.Uint32(raw[8:]), f.ByteOrder.Uint32(raw[12:])
		case lcUUID:
			if len(raw) >= 24 {
				uuid = raw[8:24]
			}
		}
	}
	if uuid == nil || bytes.Equal(uuid, make([]byte, 16)) {
		return fmt.Errorf("no LC_UUID load command (or an all-zero one): dyld refuses to run it (\"missing LC_UUID load command\"); " +
			"link with a Go build ID or with -B 0x<32 hex digits>")
	}
	if size == 0 {
		if f.Cpu == macho.CpuArm64 {
			return fmt.Errorf("no code signature (LC_CODE_SIGNATURE): macOS on Apple silicon refuses to run it")
		}
		return nil // Intel Macs (and Rosetta) run unsigned x86-64 code
	}
	if uint64(off)+uint64(size) > uint64(len(data)) {
		return fmt.Errorf("code signature at %d+%d is past the end of the file (%d bytes)", off, size, len(data))
	}
	return checkSignature(data, data[off:off+size], off)
}

// checkSignature verifies the code directory of the signature blob sig
// (big-endian, as Apple's code signing format is), found at offset off:
// its code limit reaches the signature (so every byte before it is
// signed) and the hash of every page of data up to it matches.
func checkSignature(data, sig []byte, off uint32) error {
	be := binary.BigEndian
	if len(sig) < 12 || be.Uint32(sig) != csSuperBlob {
		return fmt.Errorf("code signature is not a SuperBlob")
	}
	n := be.Uint32(sig[8:])
	for i := uint32(0); i < n; i++ {
		ix := 12 + 8*i
		if int(ix)+8 > len(sig) {
			return fmt.Errorf("code signature index cut short")
		}
		typ, o := be.Uint32(sig[ix:]), be.Uint32(sig[ix+4:])
		if typ != csSlotCodeDirOnly {
			continue
		}
		if int(o)+44 > len(sig) {
			return fmt.Errorf("code directory cut short")
		}
		cd := sig[o:]
		if be.Uint32(cd) != csCodeDirectory {
			return fmt.Errorf("slot 0 is not a code directory")
		}
		hashOff, nCode, limit := be.Uint32(cd[16:]), be.Uint32(cd[28:]), be.Uint32(cd[32:])
		hashSize, hashType, pageShift := cd[36], cd[37], cd[39]
		if hashType != csHashTypeSHA256 || hashSize != sha256.Size {
			return fmt.Errorf("code directory hash type %d size %d, want SHA-256", hashType, hashSize)
		}
		if uint64(limit) > uint64(len(data)) || pageShift == 0 || pageShift > 20 {
			return fmt.Errorf("code directory limit %d, page shift %d do not fit the file", limit, pageShift)
		}
		if limit != off {
			return fmt.Errorf("code directory covers %d bytes, but the signature starts at %d: bytes in between are unsigned", limit, off)
		}
		page := uint64(1) << pageShift
		if want := (uint64(limit) + page - 1) / page; uint64(nCode) != want {
			return fmt.Errorf("code directory has %d page hashes, want %d", nCode, want)
		}
		if uint64(hashOff)+uint64(nCode)*sha256.Size > uint64(len(cd)) {
			return fmt.Errorf("code directory hashes cut short")
		}
		for k := uint64(0); k < uint64(nCode); k++ {
			end := min((k+1)*page, uint64(limit))
			got := sha256.Sum256(data[k*page : end])
			h := cd[uint64(hashOff)+k*sha256.Size:][:sha256.Size]
			if !bytes.Equal(got[:], h) {
				return fmt.Errorf("page %d (bytes %d..%d) does not match its signed hash: the binary was changed after it was signed", k, k*page, end)
			}
		}
		return nil
	}
	return fmt.Errorf("code signature has no code directory")
}
