package pcsc

// The binding: the WinSCard calls this package makes, on the three PC/SC
// implementations it runs on — pcsc-lite (Linux, FreeBSD), Apple's PCSC
// framework (macOS) and winscard.dll (Windows) — with no cgo.
//
// One implementation, lib, makes every call; the per-OS files
// (winscard_linux.go, winscard_freebsd.go, winscard_darwin.go,
// winscard_windows.go) only say which library to load, how to call a C
// function, and the ABI. The ABI is data (type abi): the widths of DWORD,
// LONG and the handles, how strings are encoded and how SCARD_IO_REQUEST and
// SCARD_READERSTATE are laid out, so the tests on Linux check every
// platform's layout (winscard_test.go runs lib against a fake C library for
// each ABI).
//
// All supported targets are little-endian (amd64, arm64): a value narrower
// than its 8-byte Go cell sits in the cell's first bytes, which is what the
// out-parameter handling below relies on.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf16"
	"unsafe"
)

// WinSCard constants, the same numbers in pcsc-lite's pcsclite.h, macOS's
// PCSC/pcsclite.h and Windows' winscard.h (except SCardStatus's state, see
// abi.statusEnum).
const (
	scopeSystem    = 0x2 // SCARD_SCOPE_SYSTEM
	shareExclusive = 0x1 // SCARD_SHARE_EXCLUSIVE
	shareShared    = 0x2 // SCARD_SHARE_SHARED
	protocolT0     = 0x1 // SCARD_PROTOCOL_T0
	protocolT1     = 0x2 // SCARD_PROTOCOL_T1
	protocolAny    = protocolT0 | protocolT1
	leaveCard      = 0x0 // SCARD_LEAVE_CARD

	stateUnaware = 0x0  // SCARD_STATE_UNAWARE
	stateChanged = 0x2  // SCARD_STATE_CHANGED
	statePresent = 0x20 // SCARD_STATE_PRESENT

	// maxResponse is pcsc-lite's MAX_BUFFER_SIZE_EXTENDED: an extended
	// APDU answer (64 KiB + SW) with room for the reader's framing.
	maxResponse = 4 + 3 + 1<<16 + 3 + 2
	maxATR      = 64 // more than any ABI's MAX_ATR_SIZE (33, 36)
)

// winscard is what the package needs from PC/SC. Handles are the library's
// SCARDCONTEXT / SCARDHANDLE values, widened to uintptr. Failures are
// scardError (the SCARD_* code); wrap turns them into *PCSCError.
type winscard interface {
	establishContext() (uintptr, error)
	releaseContext(ctx uintptr) error
	listReaders(ctx uintptr) ([]string, error)
	connect(ctx uintptr, reader string, share uint32) (card uintptr, proto uint32, err error)
	reconnect(card uintptr, share, initialization uint32) (proto uint32, err error)
	disconnect(card uintptr, disposition uint32) error
	beginTransaction(card uintptr) error
	endTransaction(card uintptr, disposition uint32) error
	transmit(card uintptr, proto uint32, cmd []byte) ([]byte, error)
	status(card uintptr) (cardStatus, error)
	getStatusChange(ctx uintptr, timeout time.Duration, states []readerState) error
}

// scardError is a SCARD_* result code returned by the library.
type scardError uint32

func (e scardError) Error() string {
	if name, ok := codeNames[uint32(e)]; ok {
		return name
	}
	return fmt.Sprintf("PC/SC error 0x%08X", uint32(e))
}

// cardStatus is what SCardStatus says about a connected card.
type cardStatus struct {
	absent bool // the reader reports no card
	proto  uint32
	atr    []byte
}

// readerState is one SCARD_READERSTATE of SCardGetStatusChange.
type readerState struct {
	reader       string
	currentState uint32
	eventState   uint32 // out
	atr          []byte // out
}

// abi describes one platform's WinSCard binary interface.
type abi struct {
	name   string
	dword  int  // sizeof(DWORD) and sizeof(LONG), the result type
	handle int  // sizeof(SCARDCONTEXT) = sizeof(SCARDHANDLE)
	ptr    int  // sizeof(void *)
	wide   bool // strings are UTF-16 (the …W functions), else UTF-8
	atr    int  // rgbAtr size in SCARD_READERSTATE
	packed bool // SCARD_READERSTATE is #pragma pack(1)
	// statusEnum: SCardStatus's dwState is an enumeration (Windows:
	// SCARD_ABSENT = 1) rather than pcsc-lite's bit flags (SCARD_ABSENT = 0x2).
	statusEnum bool
}

// The three ABIs (checked against pcsc-lite 1.9.9's wintypes.h/pcsclite.h,
// macOS's PCSC.framework headers and the Windows SDK's winscard.h).
var (
	// pcsc-lite on LP64 Linux/FreeBSD: DWORD is unsigned long and LONG is
	// long (8 bytes), SCARDCONTEXT/SCARDHANDLE are LONG, strings UTF-8;
	// SCARD_IO_REQUEST {unsigned long dwProtocol, cbPciLength} = 16 bytes;
	// SCARD_READERSTATE naturally aligned: 2 pointers, 3 DWORDs,
	// rgbAtr[33] = 73 bytes, padded to 80.
	abiPCSCLite64 = abi{name: "pcsc-lite LP64", dword: 8, handle: 8, ptr: 8, atr: 33}
	// macOS PCSC.framework: DWORD uint32_t, LONG int32_t, SCARDCONTEXT and
	// SCARDHANDLE int32_t, strings UTF-8; SCARD_IO_REQUEST = 8 bytes;
	// SCARD_READERSTATE under #pragma pack(1): 8+8+4+4+4+33 = 61 bytes.
	abiMacOS = abi{name: "macOS PCSC", dword: 4, handle: 4, ptr: 8, atr: 33, packed: true}
	// Windows x64/ARM64 winscard.dll: DWORD and LONG 32-bit, SCARDCONTEXT
	// and SCARDHANDLE ULONG_PTR (8 bytes), the …W functions with UTF-16;
	// SCARD_IO_REQUEST = 8 bytes; SCARD_READERSTATEW: 8+8+4+4+4+rgbAtr[36]
	// = 64 bytes; SCardStatus's dwState is an enumeration.
	abiWindows64 = abi{name: "Windows x64", dword: 4, handle: 8, ptr: 8, wide: true, atr: 36, statusEnum: true}
)

// cell is an out (or in/out) parameter: 8 bytes, of which the C side uses
// the first width bytes (little-endian).
func fromCell(c uint64, width int) uint64 {
	if width == 4 {
		return uint64(uint32(c))
	}
	return c
}

// result is the SCARD_* code in a LONG return register (the low 32 bits;
// pcsc-lite's 8-byte LONG holds the codes as positive numbers).
func result(r uintptr) uint32 { return uint32(r) }

func (a abi) put(b []byte, width int, v uint64) {
	switch width {
	case 4:
		binary.LittleEndian.PutUint32(b, uint32(v))
	case 8:
		binary.LittleEndian.PutUint64(b, v)
	default:
		panic(fmt.Sprintf("pcsc: %s: bad field width %d", a.name, width))
	}
}

func (a abi) get(b []byte, width int) uint64 {
	if width == 4 {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// ioRequest is SCARD_IO_REQUEST {dwProtocol, cbPciLength} for proto: the
// header of a transmit with no extra protocol information.
func (a abi) ioRequest(proto uint32) []byte {
	b := make([]byte, 2*a.dword)
	a.put(b, a.dword, uint64(proto))
	a.put(b[a.dword:], a.dword, uint64(len(b)))
	return b
}

// readerStateLayout gives SCARD_READERSTATE's field offsets and size.
func (a abi) readerStateLayout() (current, event, cbAtr, rgbAtr, size int) {
	current = 2 * a.ptr // after szReader and pvUserData
	event = current + a.dword
	cbAtr = event + a.dword
	rgbAtr = cbAtr + a.dword
	size = rgbAtr + a.atr
	if !a.packed {
		align := max(a.ptr, a.dword)
		size = (size + align - 1) / align * align
	}
	return
}

// putReaderState fills one SCARD_READERSTATE in b; name is the address of
// the encoded reader name.
func (a abi) putReaderState(b []byte, name uintptr, current uint32) {
	cur, _, _, _, size := a.readerStateLayout()
	clear(b[:size])
	a.put(b, a.ptr, uint64(name))
	a.put(b[cur:], a.dword, uint64(current))
}

// readerStateResult reads dwEventState and the ATR back.
func (a abi) readerStateResult(b []byte) (event uint32, atr []byte) {
	_, ev, cb, rgb, _ := a.readerStateLayout()
	event = uint32(a.get(b[ev:], a.dword))
	n := min(int(a.get(b[cb:], a.dword)), a.atr)
	return event, append([]byte(nil), b[rgb:rgb+n]...)
}

// absent tells from SCardStatus's dwState that no card is in the reader.
func (a abi) absent(state uint64) bool {
	if a.statusEnum {
		return state == 1 // Windows SCARD_ABSENT
	}
	return state&0x2 != 0 // pcsc-lite SCARD_ABSENT
}

// charSize is the size of one string unit (TCHAR).
func (a abi) charSize() int {
	if a.wide {
		return 2
	}
	return 1
}

// encodeString is s as a NUL-terminated C string of the ABI (bytes;
// UTF-16LE for wide).
func (a abi) encodeString(s string) ([]byte, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, fmt.Errorf("reader name %q contains a NUL byte", s)
	}
	if !a.wide {
		return append([]byte(s), 0), nil
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u)+2)
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	return b, nil
}

// decodeMultiString splits a multi-string ("a\0b\0\0") of n characters.
func (a abi) decodeMultiString(b []byte) []string {
	var s string
	if a.wide {
		u := make([]uint16, len(b)/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[2*i:])
		}
		s = string(utf16.Decode(u))
	} else {
		s = string(b)
	}
	var out []string
	for s != "" {
		name, rest, _ := strings.Cut(s, "\x00")
		if name == "" {
			break // the final empty string ends the list
		}
		out = append(out, name)
		s = rest
	}
	return out
}

// The functions lib calls, in the order of lib.fn.
const (
	fnEstablishContext = iota
	fnReleaseContext
	fnListReaders
	fnConnect
	fnReconnect
	fnDisconnect
	fnBeginTransaction
	fnEndTransaction
	fnTransmit
	fnStatus
	fnGetStatusChange
	fnCount
)

// symbolNames are the exported names for an ABI (…W on Windows).
func symbolNames(wide bool) [fnCount]string {
	w := ""
	if wide {
		w = "W"
	}
	return [fnCount]string{
		fnEstablishContext: "SCardEstablishContext",
		fnReleaseContext:   "SCardReleaseContext",
		fnListReaders:      "SCardListReaders" + w,
		fnConnect:          "SCardConnect" + w,
		fnReconnect:        "SCardReconnect",
		fnDisconnect:       "SCardDisconnect",
		fnBeginTransaction: "SCardBeginTransaction",
		fnEndTransaction:   "SCardEndTransaction",
		fnTransmit:         "SCardTransmit",
		fnStatus:           "SCardStatus" + w,
		fnGetStatusChange:  "SCardGetStatusChange" + w,
	}
}

// lib is the loaded PC/SC library. It is immutable once loaded.
type lib struct {
	abi abi
	fn  [fnCount]uintptr // function addresses
	// stringify is pcsc_stringify_error where the library has it.
	stringify func(code uint32) string
	// fake, in tests, stands in for the C library: it gets the function
	// index and the raw arguments.
	fake func(fn int, args []uintptr) uintptr
}

// ccall calls C function f of l. uintptrescapes: the objects whose
// addresses the callers convert to uintptr in the argument list are moved
// to the heap and kept alive for the call (as for syscall.Syscall).
//
//go:uintptrescapes
func ccall(l *lib, f int, args ...uintptr) uint32 {
	if l.fake != nil {
		return result(l.fake(f, args))
	}
	return result(sysCall(l.fn[f], args...))
}

func errOf(code uint32) error {
	if code == 0 {
		return nil
	}
	return scardError(code)
}

func (l *lib) establishContext() (uintptr, error) {
	var h uint64
	if r := ccall(l, fnEstablishContext, scopeSystem, 0, 0, uintptr(unsafe.Pointer(&h))); r != 0 {
		return 0, scardError(r)
	}
	return uintptr(fromCell(h, l.abi.handle)), nil
}

func (l *lib) releaseContext(ctx uintptr) error {
	return errOf(ccall(l, fnReleaseContext, ctx))
}

func (l *lib) listReaders(ctx uintptr) ([]string, error) {
	cs := l.abi.charSize()
	for range 3 { // the list may grow between the two calls
		var n uint64 // pcchReaders, in characters
		if r := ccall(l, fnListReaders, ctx, 0, 0, uintptr(unsafe.Pointer(&n))); r != 0 {
			return nil, scardError(r)
		}
		chars := fromCell(n, l.abi.dword)
		if chars == 0 || chars > 1<<20 {
			return nil, nil
		}
		buf := make([]byte, int(chars)*cs)
		r := ccall(l, fnListReaders, ctx, 0, uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&n)))
		if r == codeInsufficientBuffer {
			continue
		}
		if r != 0 {
			return nil, scardError(r)
		}
		got := min(int(fromCell(n, l.abi.dword))*cs, len(buf))
		return l.abi.decodeMultiString(buf[:got]), nil
	}
	return nil, scardError(codeInsufficientBuffer)
}

func (l *lib) connect(ctx uintptr, reader string, share uint32) (uintptr, uint32, error) {
	name, err := l.abi.encodeString(reader)
	if err != nil {
		return 0, 0, err
	}
	var h, proto uint64
	r := ccall(l, fnConnect, ctx, uintptr(unsafe.Pointer(&name[0])), uintptr(share), protocolAny,
		uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&proto)))
	if r != 0 {
		return 0, 0, scardError(r)
	}
	return uintptr(fromCell(h, l.abi.handle)), uint32(fromCell(proto, l.abi.dword)), nil
}

func (l *lib) reconnect(card uintptr, share, initialization uint32) (uint32, error) {
	var proto uint64
	r := ccall(l, fnReconnect, card, uintptr(share), protocolAny, uintptr(initialization), uintptr(unsafe.Pointer(&proto)))
	if r != 0 {
		return 0, scardError(r)
	}
	return uint32(fromCell(proto, l.abi.dword)), nil
}

func (l *lib) disconnect(card uintptr, disposition uint32) error {
	return errOf(ccall(l, fnDisconnect, card, uintptr(disposition)))
}

func (l *lib) beginTransaction(card uintptr) error {
	return errOf(ccall(l, fnBeginTransaction, card))
}

func (l *lib) endTransaction(card uintptr, disposition uint32) error {
	return errOf(ccall(l, fnEndTransaction, card, uintptr(disposition)))
}

func (l *lib) transmit(card uintptr, proto uint32, cmd []byte) ([]byte, error) {
	if len(cmd) == 0 {
		return nil, errors.New("empty command APDU")
	}
	pci := l.abi.ioRequest(proto)
	resp := make([]byte, maxResponse)
	n := uint64(len(resp))
	r := ccall(l, fnTransmit, card, uintptr(unsafe.Pointer(&pci[0])),
		uintptr(unsafe.Pointer(&cmd[0])), uintptr(len(cmd)),
		0, // pioRecvPci: not wanted
		uintptr(unsafe.Pointer(&resp[0])), uintptr(unsafe.Pointer(&n)))
	if r != 0 {
		return nil, scardError(r)
	}
	got := fromCell(n, l.abi.dword)
	if got > uint64(len(resp)) {
		return nil, fmt.Errorf("PC/SC library reported a %d-byte answer in a %d-byte buffer", got, len(resp))
	}
	return append([]byte(nil), resp[:got]...), nil // not the 64 KiB buffer
}

func (l *lib) status(card uintptr) (cardStatus, error) {
	cs := l.abi.charSize()
	chars := uint64(256)
	for range 3 {
		name := make([]byte, int(chars)*cs)
		atr := make([]byte, maxATR)
		nameLen, state, proto, atrLen := chars, uint64(0), uint64(0), uint64(len(atr))
		r := ccall(l, fnStatus, card, uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&nameLen)),
			uintptr(unsafe.Pointer(&state)), uintptr(unsafe.Pointer(&proto)),
			uintptr(unsafe.Pointer(&atr[0])), uintptr(unsafe.Pointer(&atrLen)))
		if r == codeInsufficientBuffer && fromCell(nameLen, l.abi.dword) > chars && chars < 1<<16 {
			chars = fromCell(nameLen, l.abi.dword)
			continue
		}
		if r != 0 {
			return cardStatus{}, scardError(r)
		}
		st := fromCell(state, l.abi.dword)
		n := min(fromCell(atrLen, l.abi.dword), uint64(len(atr)))
		return cardStatus{absent: l.abi.absent(st), proto: uint32(fromCell(proto, l.abi.dword)), atr: atr[:n:n]}, nil
	}
	return cardStatus{}, scardError(codeInsufficientBuffer)
}

func (l *lib) getStatusChange(ctx uintptr, timeout time.Duration, states []readerState) error {
	if len(states) == 0 {
		return nil
	}
	_, _, _, _, size := l.abi.readerStateLayout()
	buf := make([]byte, size*len(states))
	// The reader names are pointed to from inside buf, where the garbage
	// collector does not look: pin them for the call.
	var pin runtime.Pinner
	defer pin.Unpin()
	for i, s := range states {
		name, err := l.abi.encodeString(s.reader)
		if err != nil {
			return err
		}
		pin.Pin(&name[0])
		l.abi.putReaderState(buf[i*size:], uintptr(unsafe.Pointer(&name[0])), s.currentState)
	}
	ms := uint32(timeout / time.Millisecond)
	r := ccall(l, fnGetStatusChange, ctx, uintptr(ms), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(states)))
	if r != 0 {
		return scardError(r)
	}
	for i := range states {
		states[i].eventState, states[i].atr = l.abi.readerStateResult(buf[i*size:])
	}
	return nil
}

// Loading. The library is loaded on first PC/SC use, not at start-up, so a
// machine without one runs every other command. A failed load is retried
// on the next use (someone may have installed the library meanwhile).
var (
	loadMu sync.Mutex
	loaded atomic.Pointer[lib]
)

// loadWinSCard returns the PC/SC library, loading it on first use. Tests
// replace it to run the package on a fake.
var loadWinSCard = func() (winscard, error) {
	l, err := loadLib()
	if err != nil {
		return nil, err
	}
	return l, nil
}

func loadLib() (*lib, error) {
	if l := loaded.Load(); l != nil {
		return l, nil
	}
	loadMu.Lock()
	defer loadMu.Unlock()
	if l := loaded.Load(); l != nil {
		return l, nil
	}
	l, err := openLib()
	if err != nil {
		return nil, err
	}
	loaded.Store(l)
	return l, nil
}

// stringifyCode is pcsc_stringify_error's text for code, if the library is
// loaded and has it; it never loads the library.
func stringifyCode(code uint32) string {
	l := loaded.Load()
	if l == nil || l.stringify == nil {
		return ""
	}
	return l.stringify(code)
}

// LibraryError says that the platform's PC/SC library could not be loaded:
// which one, and what is wrong with it. It unwraps to ErrLibraryMissing (no
// such library) or ErrLibraryUnusable (found, but not usable by this
// program: another architecture, not a library, or too old / not PC/SC).
type LibraryError struct {
	Library string // what was asked for, e.g. "libpcsclite.so.1"
	Path    string // the file that was found, if one was
	Problem string // what is wrong, e.g. "not found", "built for AARCH64, this program is amd64"
	Detail  string // the system loader's message
	Missing bool   // no such library at all (as opposed to a wrong one)
}

func (e *LibraryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "load the PC/SC library %s", e.Library)
	if e.Path != "" && e.Path != e.Library {
		fmt.Fprintf(&b, " (%s)", e.Path)
	}
	fmt.Fprintf(&b, ": %s", e.Problem)
	if e.Detail != "" && e.Detail != e.Problem {
		fmt.Fprintf(&b, " [%s]", e.Detail)
	}
	return b.String()
}

// Unwrap returns ErrLibraryMissing or ErrLibraryUnusable.
func (e *LibraryError) Unwrap() error {
	if e.Missing {
		return ErrLibraryMissing
	}
	return ErrLibraryUnusable
}

// classifyDlerror turns a failed dlopen of name into a *LibraryError. When
// the loader says "not found", inspect (may be nil) looks at the files the
// loader would have considered, to tell "absent" from "there but built for
// another machine" (glibc skips those silently and reports not found).
func classifyDlerror(name, dlerr string, inspect func() (path, problem string)) *LibraryError {
	e := &LibraryError{Library: name, Detail: dlerr}
	low := strings.ToLower(dlerr)
	switch {
	case strings.Contains(low, "wrong elf class"):
		e.Problem = "wrong ELF class (a library for a " + otherBits() + " system)"
	case strings.Contains(low, "incompatible architecture"), strings.Contains(low, "wrong architecture"),
		strings.Contains(low, "machine"):
		e.Problem = "built for another architecture than this program (" + runtime.GOARCH + ")"
	case strings.Contains(low, "invalid elf header"), strings.Contains(low, "file too short"),
		strings.Contains(low, "not a dynamic library"), strings.Contains(low, "not a mach-o file"),
		strings.Contains(low, "unsupported file format"), strings.Contains(low, "slice is not valid mach-o"):
		e.Problem = "not a shared library"
	case strings.Contains(low, "no such file"), strings.Contains(low, "not found"),
		strings.Contains(low, "cannot open shared object file"), strings.Contains(low, "image not found"):
		e.Problem, e.Missing = "not found", true
		if inspect != nil {
			if path, problem := inspect(); problem != "" {
				e.Path, e.Problem, e.Missing = path, problem, false
			}
		}
	default:
		e.Problem = "cannot be loaded"
	}
	if e.Path == "" && !e.Missing && inspect != nil {
		e.Path, _ = inspect() // which file it was, when the loader does not say
	}
	if e.Path == "" {
		if i := strings.Index(dlerr, ": "); i > 0 && strings.HasPrefix(dlerr, "/") {
			e.Path = dlerr[:i] // glibc names the file it tried first
		}
	}
	return e
}

func otherBits() string {
	if unsafe.Sizeof(uintptr(0)) == 8 {
		return "32-bit"
	}
	return "64-bit"
}

// An ELF file's identification and the two header fields elfProblem
// reads (the ELF specification, "ELF Header"): the magic, EI_CLASS and
// EI_DATA in e_ident, then e_type at byte 16 and e_machine at byte 18 in
// the file's byte order. Reading these 20 bytes, rather than opening the
// file with debug/elf, keeps debug/elf (and the DWARF and zstd packages it
// brings, initialised at every start) out of the binary: the warm
// credential-process path pays for every package initialised (issue 12).
const (
	elfHeaderLen = 20
	elfClass32   = 1 // ELFCLASS32
	elfClass64   = 2 // ELFCLASS64
	elfTypeDyn   = 3 // ET_DYN: a shared object
)

// elfMachine is an e_machine value, named as debug/elf names it without
// the EM_ prefix.
type elfMachine uint16

const (
	em386       elfMachine = 3
	emPPC64     elfMachine = 21
	emS390      elfMachine = 22
	emARM       elfMachine = 40
	emX86_64    elfMachine = 62
	emAARCH64   elfMachine = 183
	emRISCV     elfMachine = 243
	emLOONGARCH elfMachine = 258
)

var elfMachineNames = map[elfMachine]string{
	em386: "386", emPPC64: "PPC64", emS390: "S390", emARM: "ARM", emX86_64: "X86_64", emAARCH64: "AARCH64",
	emRISCV: "RISCV", emLOONGARCH: "LOONGARCH",
}

func (m elfMachine) String() string {
	if n, ok := elfMachineNames[m]; ok {
		return n
	}
	return fmt.Sprintf("machine %d", uint16(m))
}

var elfTypeNames = [...]string{"ET_NONE", "ET_REL", "ET_EXEC", "ET_DYN", "ET_CORE"}

// elfMachines maps GOARCH to the ELF machine and class it runs.
var elfMachines = map[string]struct {
	machine elfMachine
	class   byte
}{
	"amd64":   {emX86_64, elfClass64},
	"arm64":   {emAARCH64, elfClass64},
	"386":     {em386, elfClass32},
	"arm":     {emARM, elfClass32},
	"riscv64": {emRISCV, elfClass64},
	"ppc64le": {emPPC64, elfClass64},
	"s390x":   {emS390, elfClass64},
	"loong64": {emLOONGARCH, elfClass64},
}

// elfProblem says why the file at path cannot be loaded into a goarch
// program, or "" if it looks right (or is not there).
func elfProblem(path, goarch string) string {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ""
		}
		return "cannot be read: " + err.Error()
	}
	defer f.Close()
	var h [elfHeaderLen]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		if errors.Is(err, io.EOF) {
			return "not a shared library (not ELF)"
		}
		return "cannot be read: " + err.Error()
	}
	class := h[4]
	var order binary.ByteOrder
	switch h[5] {
	case 1:
		order = binary.LittleEndian
	case 2:
		order = binary.BigEndian
	}
	if string(h[:4]) != "\x7fELF" || order == nil || (class != elfClass32 && class != elfClass64) {
		return "not a shared library (not ELF)"
	}
	want, ok := elfMachines[goarch]
	if !ok {
		return ""
	}
	typ, machine := order.Uint16(h[16:]), elfMachine(order.Uint16(h[18:]))
	if class != want.class || machine != want.machine {
		return fmt.Sprintf("built for %s (ELFCLASS%d), this program is %s", machine, 32*int(class), goarch)
	}
	if typ != elfTypeDyn {
		name := fmt.Sprintf("type %d", typ)
		if int(typ) < len(elfTypeNames) {
			name = elfTypeNames[typ]
		}
		return "not a shared library (" + name + ")"
	}
	return ""
}

// inspectELFCandidates returns the first file named name in dirs (glob
// patterns) that cannot be loaded, with why.
func inspectELFCandidates(name, goarch string, dirs []string) (string, string) {
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, name))
		for _, p := range matches {
			if problem := elfProblem(p, goarch); problem != "" {
				return p, problem
			}
		}
	}
	return "", ""
}
