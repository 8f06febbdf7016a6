package pcsc

import (
	"runtime"
	"unsafe"
)

// Backend names the PC/SC implementation of this build (for --version).
const Backend = "purego: libpcsclite.so.1"

// FreeBSD: pcsc-lite from ports/packages (`pkg install pcsc-lite ccid`),
// installed in /usr/local/lib, loaded on first use.
//
// ABI: as on Linux (pcsc-lite wintypes.h, LP64): DWORD, LONG, SCARDCONTEXT
// and SCARDHANDLE 8 bytes; UTF-8 strings; SCARD_IO_REQUEST 16 bytes;
// SCARD_READERSTATE 80 bytes (rgbAtr[33], natural alignment).
func pcscLiteABI() abi {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		return abi{name: "pcsc-lite ILP32", dword: 4, handle: 4, ptr: 4, atr: 33}
	}
	return abiPCSCLite64
}

func openLib() (*lib, error) {
	return dlopenLib(pcscLiteABI(), []string{"libpcsclite.so.1", "/usr/local/lib/libpcsclite.so.1"}, func() (string, string) {
		return inspectELFCandidates("libpcsclite.so.1", runtime.GOARCH, []string{"/usr/local/lib", "/usr/lib", "/lib"})
	})
}
