package pcsc

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Backend names the PC/SC implementation of this build (for --version).
const Backend = "winscard.dll"

// Windows: winscard.dll from System32 (never from the search path), loaded
// on first use, the UTF-16 …W functions. The Smart Card service (SCardSvr)
// behind it starts when a reader is attached and stops when the last one
// goes (SCARD_E_NO_SERVICE / SCARD_E_SERVICE_STOPPED in between).
//
// ABI (winscard.h, x64 and ARM64): DWORD and LONG 32-bit; SCARDCONTEXT and
// SCARDHANDLE ULONG_PTR (pointer-sized, 8 bytes); strings UTF-16LE;
// SCARD_IO_REQUEST = {DWORD dwProtocol, cbPciLength} = 8 bytes;
// SCARD_READERSTATEW = {LPCWSTR, LPVOID, DWORD ×3, rgbAtr[36]} = 64 bytes;
// SCardStatus's dwState is an enumeration (SCARD_ABSENT = 1).
func windowsABI() abi {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		return abi{name: "Windows x86", dword: 4, handle: 4, ptr: 4, wide: true, atr: 36, statusEnum: true}
	}
	return abiWindows64
}

var winscardDLL = windows.NewLazySystemDLL("winscard.dll")

func sysCall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := syscall.SyscallN(fn, args...)
	return r
}

func openLib() (*lib, error) {
	if err := winscardDLL.Load(); err != nil {
		return nil, &LibraryError{Library: "winscard.dll", Problem: "cannot be loaded", Detail: err.Error(), Missing: true}
	}
	l := &lib{abi: windowsABI()}
	for i, sym := range symbolNames(true) {
		p := winscardDLL.NewProc(sym)
		if err := p.Find(); err != nil {
			return nil, &LibraryError{Library: "winscard.dll", Problem: "it has no function " + sym, Detail: err.Error()}
		}
		l.fn[i] = p.Addr()
	}
	return l, nil
}
