package pcsc

import (
	"runtime"
	"unsafe"
)

// Backend names the PC/SC implementation of this build (for --version).
const Backend = "purego: libpcsclite.so.1"

// Linux: pcsc-lite's libpcsclite.so.1 (Debian/Ubuntu package libpcsclite1),
// loaded on first use; it talks to pcscd over /run/pcscd/pcscd.comm.
//
// ABI (pcsc-lite wintypes.h, LP64): DWORD = unsigned long and LONG = long,
// both 8 bytes; SCARDCONTEXT and SCARDHANDLE are LONG (8 bytes); strings
// UTF-8; SCARD_IO_REQUEST = {unsigned long dwProtocol, cbPciLength} = 16
// bytes; SCARD_READERSTATE = {char *, void *, DWORD ×3, rgbAtr[33]}, natural
// alignment, 80 bytes. On a 32-bit system every one of these is 4 bytes.
func pcscLiteABI() abi {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		return abi{name: "pcsc-lite ILP32", dword: 4, handle: 4, ptr: 4, atr: 33}
	}
	return abiPCSCLite64
}

func openLib() (*lib, error) {
	return dlopenLib(pcscLiteABI(), []string{"libpcsclite.so.1"}, func() (string, string) {
		// glibc passes over a file of another architecture and reports
		// "not found": look where it would have looked.
		return inspectELFCandidates("libpcsclite.so.1", runtime.GOARCH,
			[]string{"/usr/lib/*-linux-*", "/lib/*-linux-*", "/usr/lib64", "/lib64", "/usr/lib", "/lib", "/usr/local/lib"})
	})
}
