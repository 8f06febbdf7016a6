// Package sts turns an AWS profile and a code function (TokenFunc) into
// temporary credentials: from a profile resolved by package awsconfig
// (awsconfig.Profile), it chooses the STS calls (MakePlan), makes them with
// aws-sdk-go-v2 (Provider, an aws.CredentialsProvider), and caches the
// results on disk with a lock per MFA serial and a ledger of TOTP steps
// already sent, so a code is never sent twice and concurrent processes share
// one device access. The Provider decides which TOTP step it needs; the
// code function, bound to a device by the caller, computes it. The
// Provider never learns that devices exist.
//
// Package enroll (sts/enroll) enrolls and rotates MFA devices on top of
// this package's cache and ledger (Cache, OpenCache).
//
// The package reads no environment variables (the caller passes an
// awsconfig.Env), prints nothing (notices go through UI.Notify) and never
// exits.
package sts
