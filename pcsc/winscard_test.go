package pcsc

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unsafe"
)

// The ABIs of the three platforms, as their headers define them. These
// tests run on Linux and cover the macOS and Windows layouts too: lib does
// all marshalling from the abi value, the per-OS files only pick one.

func TestABILayouts(t *testing.T) {
	tests := []struct {
		abi                                 abi
		ioRequest                           []byte // SCARD_IO_REQUEST for T=1
		current, event, cbAtr, rgbAtr, size int    // SCARD_READERSTATE
	}{
		{abiPCSCLite64, []byte{2, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0}, 16, 24, 32, 40, 80},
		{abiMacOS, []byte{2, 0, 0, 0, 8, 0, 0, 0}, 16, 20, 24, 28, 61},
		{abiWindows64, []byte{2, 0, 0, 0, 8, 0, 0, 0}, 16, 20, 24, 28, 64},
		{abi{name: "pcsc-lite ILP32", dword: 4, handle: 4, ptr: 4, atr: 33}, []byte{2, 0, 0, 0, 8, 0, 0, 0}, 8, 12, 16, 20, 56},
	}
	for _, tt := range tests {
		t.Run(tt.abi.name, func(t *testing.T) {
			if got := tt.abi.ioRequest(protocolT1); !bytes.Equal(got, tt.ioRequest) {
				t.Errorf("SCARD_IO_REQUEST = % x, want % x", got, tt.ioRequest)
			}
			cur, ev, cb, rgb, size := tt.abi.readerStateLayout()
			if got, want := []int{cur, ev, cb, rgb, size}, []int{tt.current, tt.event, tt.cbAtr, tt.rgbAtr, tt.size}; !slices.Equal(got, want) {
				t.Errorf("SCARD_READERSTATE offsets/size = %v, want %v", got, want)
			}
		})
	}
	// The widths themselves, as the issue states them.
	for _, c := range []struct {
		abi           abi
		dword, handle int
		wide          bool
	}{{abiPCSCLite64, 8, 8, false}, {abiMacOS, 4, 4, false}, {abiWindows64, 4, 8, true}} {
		if c.abi.dword != c.dword || c.abi.handle != c.handle || c.abi.wide != c.wide {
			t.Errorf("%s: DWORD %d handle %d wide %v, want %d %d %v", c.abi.name, c.abi.dword, c.abi.handle, c.abi.wide, c.dword, c.handle, c.wide)
		}
	}
}

func TestReaderStateRoundTrip(t *testing.T) {
	for _, a := range []abi{abiPCSCLite64, abiMacOS, abiWindows64} {
		t.Run(a.name, func(t *testing.T) {
			_, ev, cb, rgb, size := a.readerStateLayout()
			b := bytes.Repeat([]byte{0xEE}, size+8) // 8 bytes of the next entry
			a.putReaderState(b, 0x1122334455667788, 0x10)
			if got := binary.LittleEndian.Uint64(b); got != 0x1122334455667788 {
				t.Errorf("szReader = %#x", got)
			}
			if !bytes.Equal(b[size:], bytes.Repeat([]byte{0xEE}, 8)) {
				t.Errorf("putReaderState wrote past its %d bytes", size)
			}
			// What the library writes back.
			a.put(b[ev:], a.dword, statePresent|stateChanged)
			a.put(b[cb:], a.dword, 3)
			copy(b[rgb:], []byte{0x3B, 0x8C, 0x80, 0xFF})
			event, atr := a.readerStateResult(b)
			if event != statePresent|stateChanged || !bytes.Equal(atr, []byte{0x3B, 0x8C, 0x80}) {
				t.Errorf("event %#x atr % x", event, atr)
			}
			a.put(b[cb:], a.dword, 200) // a bad cbAtr is clamped to rgbAtr's size
			if _, atr := a.readerStateResult(b); len(atr) != a.atr {
				t.Errorf("cbAtr 200 gave %d ATR bytes, want %d", len(atr), a.atr)
			}
		})
	}
}

func TestStrings(t *testing.T) {
	names := []string{"Yubico YubiKey OTP+FIDO+CCID 00 00", "Lecteur à puce 01 00", "読み取り機"}
	for _, a := range []abi{abiPCSCLite64, abiMacOS, abiWindows64} {
		t.Run(a.name, func(t *testing.T) {
			var multi []byte
			for _, n := range names {
				b, err := a.encodeString(n)
				if err != nil {
					t.Fatal(err)
				}
				if a.wide {
					if len(b)%2 != 0 || !bytes.HasSuffix(b, []byte{0, 0}) {
						t.Fatalf("UTF-16 %q = % x: want whole units and a NUL unit", n, b)
					}
					u := make([]uint16, len(b)/2-1)
					for i := range u {
						u[i] = binary.LittleEndian.Uint16(b[2*i:])
					}
					if string(utf16.Decode(u)) != n {
						t.Errorf("UTF-16 of %q decodes to %q", n, string(utf16.Decode(u)))
					}
				} else if string(b) != n+"\x00" {
					t.Errorf("C string of %q = %q", n, b)
				}
				multi = append(multi, b...)
			}
			multi = append(multi, make([]byte, a.charSize())...) // the list's final NUL
			if got := a.decodeMultiString(multi); !slices.Equal(got, names) {
				t.Errorf("multi-string = %q, want %q", got, names)
			}
			if got := a.decodeMultiString(make([]byte, a.charSize())); len(got) != 0 {
				t.Errorf("empty multi-string = %q", got)
			}
			// Without the final NUL (a library that counts short) the names still come out.
			if got := a.decodeMultiString(multi[:len(multi)-a.charSize()]); !slices.Equal(got, names) {
				t.Errorf("unterminated multi-string = %q", got)
			}
			if _, err := a.encodeString("bad\x00name"); err == nil {
				t.Error("a reader name with a NUL byte was accepted")
			}
		})
	}
}

func TestStatusAbsent(t *testing.T) {
	tests := []struct {
		abi    abi
		state  uint64
		absent bool
	}{
		{abiPCSCLite64, 0x0002, true},  // SCARD_ABSENT
		{abiPCSCLite64, 0x0034, false}, // SCARD_PRESENT|SCARD_POWERED|SCARD_NEGOTIABLE
		{abiMacOS, 0x0002, true},
		{abiMacOS, 0x0004, false},
		{abiWindows64, 1, true},  // SCARD_ABSENT (an enumeration)
		{abiWindows64, 2, false}, // SCARD_PRESENT
		{abiWindows64, 6, false}, // SCARD_SPECIFIC: bit 0x2 set, still present
	}
	for _, tt := range tests {
		if got := tt.abi.absent(tt.state); got != tt.absent {
			t.Errorf("%s: absent(%#x) = %v", tt.abi.name, tt.state, got)
		}
	}
}

// mem is C memory at p for the fake library (the unsafe.Pointer comes from
// the arguments lib passed, which point at live Go memory).
func mem(p uintptr, n int) []byte {
	return unsafe.Slice((*byte)(*(*unsafe.Pointer)(unsafe.Pointer(&p))), n)
}

// fakeC is a PC/SC library written in Go that reads and writes its
// arguments exactly as the given ABI says, for lib to be run against.
type fakeC struct {
	t       *testing.T
	abi     abi
	readers []string
	atr     []byte
	state   uint64 // SCardStatus dwState
	answer  []byte
	fail    map[int]uint32 // function -> SCARD_* result
	// seen by the fake:
	connected string
	share     uint64
	sent      []byte
	proto     uint64
}

func (f *fakeC) word(p uintptr, width int) uint64 { return f.abi.get(mem(p, width), width) }
func (f *fakeC) put(p uintptr, width int, v uint64) {
	f.abi.put(mem(p, width), width, v)
}

func (f *fakeC) str(p uintptr) string {
	var units []byte
	cs := f.abi.charSize()
	for i := 0; ; i += cs {
		c := mem(p+uintptr(i), cs)
		if bytes.Equal(c, make([]byte, cs)) {
			break
		}
		units = append(units, c...)
	}
	return strings.Join(f.abi.decodeMultiString(append(units, make([]byte, cs)...)), "")
}

func (f *fakeC) multi() []byte {
	var b []byte
	for _, r := range f.readers {
		e, _ := f.abi.encodeString(r)
		b = append(b, e...)
	}
	return append(b, make([]byte, f.abi.charSize())...)
}

const (
	fakeContext = 0x1234 // handles the fake hands out
	fakeCard    = 0x5678
)

// ret returns code as the LONG register would hold it: on 4-byte LONG ABIs
// a negative int32, sign-extended (lib must look at the low 32 bits only).
func (f *fakeC) ret(code uint32) uintptr {
	if f.abi.dword == 4 {
		return uintptr(int64(int32(code)))
	}
	return uintptr(code)
}

func (f *fakeC) call(fn int, a []uintptr) uintptr {
	if code, ok := f.fail[fn]; ok {
		return f.ret(code)
	}
	d, h := f.abi.dword, f.abi.handle
	switch fn {
	case fnEstablishContext:
		if a[0] != scopeSystem || a[1] != 0 || a[2] != 0 {
			f.t.Errorf("SCardEstablishContext(%#x, %#x, %#x)", a[0], a[1], a[2])
		}
		f.put(a[3], h, fakeContext)
	case fnReleaseContext, fnBeginTransaction:
		if a[0] != fakeContext && a[0] != fakeCard {
			f.t.Errorf("function %d got handle %#x", fn, a[0])
		}
	case fnListReaders:
		if a[0] != fakeContext || a[1] != 0 {
			f.t.Errorf("SCardListReaders(%#x, groups %#x)", a[0], a[1])
		}
		m := f.multi()
		chars := uint64(len(m) / f.abi.charSize())
		if a[2] != 0 {
			if got := f.word(a[3], d); got != chars {
				f.t.Errorf("SCardListReaders: *pcchReaders = %d, want %d", got, chars)
			}
			copy(mem(a[2], len(m)), m)
		}
		f.put(a[3], d, chars)
	case fnConnect:
		f.connected, f.share = f.str(a[1]), uint64(a[2])
		if a[3] != protocolAny {
			f.t.Errorf("SCardConnect preferred protocols %#x", a[3])
		}
		f.put(a[4], h, fakeCard)
		f.put(a[5], d, protocolT1)
	case fnReconnect:
		f.put(a[4], d, protocolT0)
	case fnDisconnect, fnEndTransaction:
		if a[0] != fakeCard || a[1] != leaveCard {
			f.t.Errorf("function %d(%#x, %#x)", fn, a[0], a[1])
		}
	case fnTransmit:
		pci := mem(a[1], 2*d)
		f.proto = f.abi.get(pci, d)
		if got := f.abi.get(pci[d:], d); got != uint64(2*d) {
			f.t.Errorf("SCARD_IO_REQUEST.cbPciLength = %d, want %d", got, 2*d)
		}
		f.sent = append([]byte(nil), mem(a[2], int(a[3]))...)
		if a[4] != 0 {
			f.t.Errorf("pioRecvPci = %#x, want NULL", a[4])
		}
		if got := f.word(a[6], d); got != maxResponse {
			f.t.Errorf("*pcbRecvLength = %d, want %d", got, maxResponse)
		}
		copy(mem(a[5], len(f.answer)), f.answer)
		f.put(a[6], d, uint64(len(f.answer)))
	case fnStatus:
		name, _ := f.abi.encodeString(f.connected)
		if got := f.word(a[2], d); got*uint64(f.abi.charSize()) < uint64(len(name)) {
			return f.ret(codeInsufficientBuffer)
		}
		copy(mem(a[1], len(name)), name)
		f.put(a[2], d, uint64(len(name)/f.abi.charSize()))
		f.put(a[3], d, f.state)
		f.put(a[4], d, protocolT1)
		if got := f.word(a[6], d); got < uint64(len(f.atr)) {
			return f.ret(codeInsufficientBuffer)
		}
		copy(mem(a[5], len(f.atr)), f.atr)
		f.put(a[6], d, uint64(len(f.atr)))
	case fnGetStatusChange:
		if a[1] != 250 {
			f.t.Errorf("SCardGetStatusChange timeout %d ms", a[1])
		}
		cur, ev, cb, rgb, size := f.abi.readerStateLayout()
		for i := range int(a[3]) {
			rs := mem(a[2]+uintptr(i*size), size)
			name := f.str(uintptr(f.abi.get(rs, f.abi.ptr)))
			if !slices.Contains(f.readers, name) {
				return f.ret(codeUnknownReader)
			}
			if got := f.abi.get(rs[cur:], d); got != stateUnaware {
				f.t.Errorf("dwCurrentState = %#x", got)
			}
			f.abi.put(rs[ev:], d, statePresent|stateChanged)
			f.abi.put(rs[cb:], d, uint64(len(f.atr)))
			copy(rs[rgb:], f.atr)
		}
	default:
		f.t.Errorf("unexpected function %d", fn)
	}
	return 0
}

// TestLibAgainstFakeC runs every call of lib against a fake library for
// each ABI: handles, DWORDs, strings, SCARD_IO_REQUEST and
// SCARD_READERSTATE must cross in that ABI's shape.
func TestLibAgainstFakeC(t *testing.T) {
	ykATR := []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80, 0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}
	for _, a := range []abi{abiPCSCLite64, abiMacOS, abiWindows64} {
		t.Run(a.name, func(t *testing.T) {
			reader := "Yubico YubiKey OTP+FIDO+CCID 00 00"
			f := &fakeC{t: t, abi: a, readers: []string{reader, "Lecteur à puce 01 00"}, atr: ykATR,
				answer: []byte{0x79, 0x03, 0x01, 0x02, 0x03, 0x90, 0x00}, state: 0x34}
			if a.statusEnum {
				f.state = 6 // SCARD_SPECIFIC
			}
			l := &lib{abi: a, fake: f.call}
			ctx, err := l.establishContext()
			if err != nil || ctx != fakeContext {
				t.Fatalf("establishContext = %#x, %v", ctx, err)
			}
			rs, err := l.listReaders(ctx)
			if err != nil || !slices.Equal(rs, f.readers) {
				t.Fatalf("listReaders = %q, %v", rs, err)
			}
			card, proto, err := l.connect(ctx, reader, shareShared)
			if err != nil || card != fakeCard || proto != protocolT1 || f.connected != reader || f.share != shareShared {
				t.Fatalf("connect = %#x, %d, %v; the library saw %q share %d", card, proto, err, f.connected, f.share)
			}
			if err := l.beginTransaction(card); err != nil {
				t.Fatal(err)
			}
			cmd := []byte{0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21, 0x01}
			resp, err := l.transmit(card, proto, cmd)
			if err != nil || !bytes.Equal(resp, f.answer) || !bytes.Equal(f.sent, cmd) || f.proto != protocolT1 {
				t.Fatalf("transmit = % x, %v; the library got % x for protocol %d", resp, err, f.sent, f.proto)
			}
			if cap(resp) > 64 {
				t.Errorf("transmit answer keeps a %d-byte buffer", cap(resp))
			}
			st, err := l.status(card)
			if err != nil || st.absent || st.proto != protocolT1 || !bytes.Equal(st.atr, ykATR) {
				t.Fatalf("status = %+v, %v", st, err)
			}
			if proto, err := l.reconnect(card, shareShared, leaveCard); err != nil || proto != protocolT0 {
				t.Fatalf("reconnect = %d, %v", proto, err)
			}
			states := []readerState{{reader: reader}, {reader: f.readers[1]}}
			if err := l.getStatusChange(ctx, 250*time.Millisecond, states); err != nil {
				t.Fatal(err)
			}
			for _, s := range states {
				if s.eventState != statePresent|stateChanged || !bytes.Equal(s.atr, ykATR) {
					t.Errorf("getStatusChange %q: event %#x atr % x", s.reader, s.eventState, s.atr)
				}
			}
			for _, err := range []error{l.endTransaction(card, leaveCard), l.disconnect(card, leaveCard), l.releaseContext(ctx)} {
				if err != nil {
					t.Fatal(err)
				}
			}

			// The card gone: SCardStatus says so in this ABI's terms.
			f.state = 0x2
			if a.statusEnum {
				f.state = 1
			}
			if st, err := l.status(card); err != nil || !st.absent {
				t.Errorf("status of a removed card = %+v, %v", st, err)
			}

			// Errors come back as the SCARD_* code, whatever the LONG width.
			f.fail = map[int]uint32{fnEstablishContext: codeNoService, fnTransmit: codeRemovedCard, fnListReaders: codeNoReadersAvailable}
			if _, err := l.establishContext(); err != scardError(codeNoService) {
				t.Errorf("establishContext with no service = %v", err)
			}
			if _, err := l.transmit(card, proto, cmd); err != scardError(codeRemovedCard) {
				t.Errorf("transmit to a removed card = %v", err)
			}
			_, err = l.listReaders(ctx)
			if !errors.Is(wrap("list readers", err), ErrNoReaders) {
				t.Errorf("listReaders with none = %v", err)
			}
			if _, err := l.transmit(card, proto, nil); err == nil {
				t.Error("an empty APDU was sent")
			}
		})
	}
}

func TestSymbolNames(t *testing.T) {
	narrow, wide := symbolNames(false), symbolNames(true)
	for i := range fnCount {
		if narrow[i] == "" || !strings.HasPrefix(narrow[i], "SCard") {
			t.Errorf("function %d has no name", i)
		}
	}
	for _, i := range []int{fnListReaders, fnConnect, fnStatus, fnGetStatusChange} {
		if wide[i] != narrow[i]+"W" {
			t.Errorf("Windows name of %s = %s", narrow[i], wide[i])
		}
	}
	if wide[fnTransmit] != "SCardTransmit" || wide[fnEstablishContext] != "SCardEstablishContext" {
		t.Errorf("functions without strings have no W variant: %q", wide)
	}
}

func TestResultWidth(t *testing.T) {
	// pcsc-lite's 8-byte LONG holds 0x80100069 as a positive number; a
	// 4-byte LONG arrives sign-extended in the register.
	for _, r := range []uintptr{0x80100069, uintptr(0xFFFFFFFF80100069)} {
		if got := result(r); got != codeRemovedCard {
			t.Errorf("result(%#x) = %#x", r, got)
		}
	}
	if got := fromCell(0xAAAAAAAA00001234, 4); got != 0x1234 {
		t.Errorf("4-byte cell = %#x", got)
	}
	if got := fromCell(0x0000000100001234, 8); got != 0x100001234 {
		t.Errorf("8-byte cell = %#x", got)
	}
}

func TestClassifyDlerror(t *testing.T) {
	tests := []struct {
		dlerr   string
		inspect [2]string // what a look at the files finds
		problem string
		path    string
		missing bool
	}{
		{"libpcsclite.so.1: cannot open shared object file: No such file or directory", [2]string{}, "not found", "", true},
		{"libpcsclite.so.1: cannot open shared object file: No such file or directory",
			[2]string{"/usr/lib/x86_64-linux-gnu/libpcsclite.so.1", "built for AARCH64 (ELFCLASS64), this program is amd64"},
			"built for AARCH64 (ELFCLASS64), this program is amd64", "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1", false},
		{"libpcsclite.so.1: wrong ELF class: ELFCLASS32", [2]string{"/lib/libpcsclite.so.1", "whatever"}, "wrong ELF class (a library for a 32-bit system)", "/lib/libpcsclite.so.1", false},
		{"/lib/x86_64-linux-gnu/libpcsclite.so.1: file too short", [2]string{}, "not a shared library", "/lib/x86_64-linux-gnu/libpcsclite.so.1", false},
		{"/lib/x86_64-linux-gnu/libpcsclite.so.1: invalid ELF header", [2]string{}, "not a shared library", "/lib/x86_64-linux-gnu/libpcsclite.so.1", false},
		{"dlopen(/System/Library/Frameworks/PCSC.framework/PCSC, 0x0002): tried: '/System/Library/Frameworks/PCSC.framework/PCSC' (no such file)", [2]string{}, "not found", "", true},
		{"dlopen(/x/PCSC, 0x0002): tried: '/x/PCSC' (mach-o file, but is an incompatible architecture (have 'x86_64', need 'arm64e'))", [2]string{}, "built for another architecture", "", false},
		{"Shared object \"libpcsclite.so.1\" not found, required by \"mfabridge\"", [2]string{}, "not found", "", true},
		{"something else entirely", [2]string{}, "cannot be loaded", "", false},
	}
	for _, tt := range tests {
		inspect := func() (string, string) { return tt.inspect[0], tt.inspect[1] }
		e := classifyDlerror("libpcsclite.so.1", tt.dlerr, inspect)
		if !strings.HasPrefix(e.Problem, tt.problem) || e.Path != tt.path || e.Missing != tt.missing || e.Detail != tt.dlerr {
			t.Errorf("%q: got %+v", tt.dlerr, e)
		}
		want := ErrLibraryUnusable
		if tt.missing {
			want = ErrLibraryMissing
		}
		if !errors.Is(e, want) || !strings.Contains(e.Error(), "load the PC/SC library libpcsclite.so.1") {
			t.Errorf("%q: %v is not %v", tt.dlerr, e, want)
		}
	}
}

func TestELFProblem(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("\x7fELF")) {
		t.Skip("the test binary is not ELF on this system")
	}
	dir := t.TempDir()
	write := func(name string, patch func([]byte)) string {
		c := bytes.Clone(b)
		patch(c)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, c, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aarch64 := write("aarch64", func(c []byte) { binary.LittleEndian.PutUint16(c[18:], 0xB7) })                                     // EM_AARCH64
	x8664 := write("x86-64", func(c []byte) { binary.LittleEndian.PutUint16(c[18:], 0x3E) })                                        // EM_X86_64
	dyn := write("dyn", func(c []byte) { binary.LittleEndian.PutUint16(c[16:], 3) })                                                // ET_DYN
	exec := write("exec", func(c []byte) { binary.LittleEndian.PutUint16(c[16:], 2); binary.LittleEndian.PutUint16(c[18:], 0x3E) }) // ET_EXEC
	class32 := write("class32", func(c []byte) { c[4] = 1; binary.LittleEndian.PutUint16(c[18:], 0x3E) })                           // ELFCLASS32
	riscv := write("riscv", func(c []byte) { binary.LittleEndian.PutUint16(c[18:], 0xF3) })                                         // EM_RISCV
	odd := write("odd", func(c []byte) { binary.LittleEndian.PutUint16(c[18:], 0x1234) })                                           // no such machine
	badData := write("baddata", func(c []byte) { c[5] = 9 })                                                                        // no byte order
	text := filepath.Join(dir, "text")
	if err := os.WriteFile(text, []byte(strings.Repeat("not ELF ", 20)), 0o644); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, b[:10], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, goarch, want string
	}{
		{aarch64, "amd64", "built for AARCH64 (ELFCLASS64), this program is amd64"},
		{x8664, "arm64", "built for X86_64 (ELFCLASS64), this program is arm64"},
		{text, "amd64", "not a shared library (not ELF)"},
		{short, "amd64", "not a shared library (not ELF)"},
		{badData, "amd64", "not a shared library (not ELF)"},
		{class32, "arm64", "built for X86_64 (ELFCLASS32), this program is arm64"},
		{riscv, "amd64", "built for RISCV (ELFCLASS64), this program is amd64"},
		{odd, "amd64", "built for machine 4660 (ELFCLASS64), this program is amd64"},
		{exec, "amd64", "not a shared library (ET_EXEC)"},
		{exec, "plan9", ""}, // no known machine for the GOARCH: not judged
		{filepath.Join(dir, "absent"), "amd64", ""},
	}
	for _, tt := range tests {
		if got := elfProblem(tt.path, tt.goarch); got != tt.want {
			t.Errorf("elfProblem(%s, %s) = %q, want %q", filepath.Base(tt.path), tt.goarch, got, tt.want)
		}
	}
	// A shared object for the host's own machine is fine.
	host := map[uint16]string{0x3E: "amd64", 0xB7: "arm64"}[binary.LittleEndian.Uint16(b[18:])]
	if host != "" {
		if got := elfProblem(dyn, host); got != "" {
			t.Errorf("a %s shared object: %q", host, got)
		}
	}
	if p, problem := inspectELFCandidates(filepath.Base(aarch64), "amd64", []string{filepath.Join(dir, "nope"), dir}); p != aarch64 || problem == "" {
		t.Errorf("inspectELFCandidates = %q, %q", p, problem)
	}
}

// TestELFProblemAgreesWithDebugELF: elfProblem reads the header by hand
// (to keep debug/elf out of the binary); on every shared object and
// program in the system's library and binary folders it must judge as
// debug/elf's reading of the same file would.
func TestELFProblemAgreesWithDebugELF(t *testing.T) {
	var files []string
	for _, pat := range []string{"/lib/*-linux-gnu/*.so*", "/usr/lib/*-linux-gnu/*.so*", "/usr/lib/*/lib*.so*", "/bin/*", "/usr/lib/go*/pkg/tool/*/*"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	if exe, err := os.Executable(); err == nil {
		files = append(files, exe)
	}
	checked := 0
	for _, p := range files {
		if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		want := ""
		f, err := elf.Open(p)
		if err != nil {
			var fe *elf.FormatError
			if !errors.As(err, &fe) {
				continue
			}
			want = "not a shared library (not ELF)"
		} else {
			switch {
			case f.Class != elf.ELFCLASS64 || f.Machine != elf.EM_X86_64:
				// Machines elfProblem has no name for (MIPS, SPARC, … of
				// cross libraries) it names by number.
				name := strings.TrimPrefix(f.Machine.String(), "EM_")
				if _, known := elfMachineNames[elfMachine(f.Machine)]; !known {
					name = fmt.Sprintf("machine %d", uint16(f.Machine))
				}
				want = fmt.Sprintf("built for %s (%s), this program is amd64", name, f.Class)
			case f.Type != elf.ET_DYN:
				want = "not a shared library (" + f.Type.String() + ")"
			}
			f.Close()
		}
		if got := elfProblem(p, "amd64"); got != want {
			t.Errorf("elfProblem(%s) = %q, debug/elf says %q", p, got, want)
		}
		checked++
	}
	if checked < 20 {
		t.Skipf("only %d files to compare on this system", checked)
	}
	t.Logf("%d files agree", checked)
}

func TestServiceName(t *testing.T) {
	for goos, want := range map[string]string{"linux": "pcscd", "freebsd": "pcscd", "darwin": "smart card service", "windows": "SCardSvr"} {
		if got := serviceName(goos); !strings.Contains(got, want) {
			t.Errorf("serviceName(%s) = %q", goos, got)
		}
	}
}

func TestLibraryErrorText(t *testing.T) {
	e := &LibraryError{Library: "libpcsclite.so.1", Path: "/usr/lib/x86_64-linux-gnu/libpcsclite.so.1",
		Problem: "built for AARCH64 (ELFCLASS64), this program is amd64", Detail: "libpcsclite.so.1: cannot open shared object file: No such file or directory"}
	want := "load the PC/SC library libpcsclite.so.1 (/usr/lib/x86_64-linux-gnu/libpcsclite.so.1): built for AARCH64 (ELFCLASS64), " +
		"this program is amd64 [libpcsclite.so.1: cannot open shared object file: No such file or directory]"
	if got := e.Error(); !strings.HasPrefix(got, want) {
		t.Errorf("got  %q\nwant %q…", got, want)
	}
	if got := fmt.Sprint(scardError(codeNoService)); got != "SCARD_E_NO_SERVICE" {
		t.Errorf("scardError text %q", got)
	}
	if got := fmt.Sprint(scardError(0x80100099)); got != "PC/SC error 0x80100099" {
		t.Errorf("scardError text %q", got)
	}
}

// noService is a library whose service is away with code.
type noService struct {
	winscard
	code uint32
}

func (n noService) establishContext() (uintptr, error) { return 0, scardError(n.code) }

// Open reports a library that cannot be loaded as it is, and a missing
// service (both codes) as ErrServiceNotRunning, naming this OS's service.
func TestOpenErrors(t *testing.T) {
	old := loadWinSCard
	t.Cleanup(func() { loadWinSCard = old })
	ctx := t.Context()

	libErr := &LibraryError{Library: "libpcsclite.so.1", Problem: "not found", Missing: true}
	loadWinSCard = func() (winscard, error) { return nil, libErr }
	c, err := Open(ctx)
	if c != nil || err != error(libErr) || !errors.Is(err, ErrLibraryMissing) || errors.Is(err, ErrServiceNotRunning) {
		t.Errorf("Open without a library = %v, %v", c, err)
	}

	for _, code := range []uint32{codeNoService, codeServiceStopped} {
		loadWinSCard = func() (winscard, error) { return noService{code: code}, nil }
		_, err := Open(ctx)
		if !errors.Is(err, ErrServiceNotRunning) || errors.Is(err, ErrLibraryMissing) {
			t.Errorf("Open with %s = %v, want ErrServiceNotRunning", codeNames[code], err)
		}
		if err != nil && !strings.Contains(err.Error(), "connect to "+serviceName(runtime.GOOS)) {
			t.Errorf("Open with %s: %q lacks the service's name", codeNames[code], err)
		}
	}
}
