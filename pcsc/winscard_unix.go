//go:build linux || freebsd || darwin

package pcsc

import (
	"runtime"
	"sync"

	"github.com/ebitengine/purego"
)

// On Linux, FreeBSD and macOS the library is loaded with purego's dlopen
// and its functions called through purego.SyscallN: every argument goes in
// an integer register (or the stack) as a C int/pointer would, which is
// right for DWORD/LONG/handles of 4 or 8 bytes alike; results are read as
// the low 32 bits (see result).

func sysCall(fn uintptr, args ...uintptr) uintptr {
	r, _, _ := purego.SyscallN(fn, args...)
	return r
}

// dlopenLib loads the first of names that loads (names[0] is what error
// messages call the library). inspect, given the name that failed as "not
// found", may name a file that is there but unusable.
func dlopenLib(a abi, names []string, inspect func() (path, problem string)) (*lib, error) {
	runtime.LockOSThread() // dlerror's message is per thread
	defer runtime.UnlockOSThread()
	var first *LibraryError
	for _, name := range names {
		h, err := purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_LOCAL)
		if err != nil {
			e := classifyDlerror(names[0], err.Error(), inspect)
			if name != names[0] && e.Path == "" {
				e.Path = name
			}
			if first == nil || first.Missing && !e.Missing {
				first = e
			}
			continue
		}
		l := &lib{abi: a}
		for i, sym := range symbolNames(false) {
			p, err := purego.Dlsym(h, sym)
			if err != nil {
				purego.Dlclose(h)
				return nil, &LibraryError{Library: names[0], Path: name,
					Problem: "it has no function " + sym + " (not PC/SC, or a version too old)", Detail: err.Error()}
			}
			l.fn[i] = p
		}
		if p, err := purego.Dlsym(h, "pcsc_stringify_error"); err == nil {
			var stringify func(code uintptr) string // LONG in, const char * out
			purego.RegisterFunc(&stringify, p)
			var mu sync.Mutex
			l.stringify = func(code uint32) string {
				// The answer is in a static (pcsc-lite: per-thread) buffer:
				// one caller at a time, reading on the thread that wrote it.
				mu.Lock()
				defer mu.Unlock()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				return stringify(uintptr(code))
			}
		}
		return l, nil
	}
	return nil, first
}
