// Package ospath is path/filepath's Join, Dir, Base and IsAbs for the
// packages a cached credential-process runs (sts/awsconfig,
// internal/securefile, sts/stepcache) without importing path/filepath on
// Unix, where those functions are package path's (and IsAbs a leading
// slash); elsewhere they are path/filepath's.
//
// The reason is start-up order, not speed: Go initialises packages in
// import-path order subject to dependencies, so everything that sorts
// before "path/filepath" and is ready (golang.org/x/sys/cpu, crypto/rsa,
// the SDK's event streams, ...) is initialised before a package that
// needs path/filepath. cmd/mfabridge/internal/warm answers a cached
// credential-process from its init and must run early (issue 12).
package ospath
