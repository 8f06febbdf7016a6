package pcsc

// Backend names the PC/SC implementation of this build (for --version).
const Backend = "purego: PCSC.framework"

// macOS: the PCSC framework that ships with the system (CryptoTokenKit
// underneath), loaded on first use. Nothing to install.
//
// ABI (PCSC.framework wintypes.h/pcsclite.h, __APPLE__ branch): DWORD is
// uint32_t and LONG int32_t (4 bytes, also on 64-bit); SCARDCONTEXT and
// SCARDHANDLE are int32_t; strings UTF-8; SCARD_IO_REQUEST = {uint32_t
// dwProtocol, cbPciLength} = 8 bytes; SCARD_READERSTATE is #pragma pack(1):
// 8 + 8 + 4 + 4 + 4 + rgbAtr[33] = 61 bytes.
const pcscFramework = "/System/Library/Frameworks/PCSC.framework/PCSC"

func openLib() (*lib, error) {
	// The system frameworks live in the dyld shared cache, not as files:
	// there is nothing to inspect on disk.
	return dlopenLib(abiMacOS, []string{pcscFramework}, nil)
}
