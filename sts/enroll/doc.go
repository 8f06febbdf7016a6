// Package enroll puts AWS virtual MFA devices on an OATH device and
// replaces them. Enroller.Enroll makes IAM CreateVirtualMFADevice, PUTs the
// seed on the device (OATHStore), and calls EnableMFADevice with two codes
// computed at once; Enroller.Rotate replaces a profile's device, resumable
// through a journal in the credentials cache directory (JournalPath), and
// verifies the new device through the cache's TOTP ledger (sts.Cache), so a
// code is never sent twice. The config file is edited in place with
// awsconfig.SetProfileKeys and awsconfig.ReplaceMFASerial. The seed lives
// only in memory and on the device.
//
// Errors: a failed enrollment is an *EnrollError (the step, what was rolled
// back, what is left) that unwraps to the cause, ErrIAM for a refused IAM
// call; a rotation stopped after the new device was enabled is a
// *RotateError; ErrRotationRunning when another process rotates the same
// profile; ErrUserUnknown when no IAM user is named and the keys name none;
// profile problems are *awsconfig.ProfileError (ErrNothingToRotate for a
// rotation without mfa_serial). Errors say what failed, not what to run
// about it: leftovers carry the fields (Leftover.Kind, Spec, Account, User,
// Serial) from which a caller spells out the commands that finish the job.
//
// The package reads no environment variables, prints nothing (debug lines
// go to the injected *slog.Logger) and never exits.
package enroll
