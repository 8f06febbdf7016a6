// Package sts turns an AWS profile and a code function (TokenFunc) into
// temporary credentials: it reads the shared config and credentials files
// (Config, Profile), chooses the STS calls (MakePlan), makes them with
// aws-sdk-go-v2 (Provider, an aws.CredentialsProvider), and caches the
// results on disk with a lock per MFA serial and a ledger of TOTP steps
// already sent, so a code is never sent twice and concurrent processes share
// one device access. The Provider decides which TOTP step it needs; the
// code function, bound to a device by the caller, computes it. The
// Provider never learns that devices exist.
//
// Enroller puts AWS virtual MFA devices on an OATH device (Enroll: IAM
// CreateVirtualMFADevice, PUT of the seed, EnableMFADevice with two codes
// computed at once) and replaces them (Rotate, resumable through a journal
// in the cache directory); SetProfileKeys and ReplaceMFASerial edit the
// config file in place. The seed lives only in memory and on the device.
//
// The package reads no environment variables (the caller passes an Env),
// prints nothing (notices go through UI.Notify) and never exits.
package sts
