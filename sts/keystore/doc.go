// Package keystore keeps the long-term access key of a source profile: where
// it lives, and nothing else. Four stores implement Store:
//
//   - CredentialsFile: the plaintext shared credentials file (today's
//     behaviour). Delete removes the profile's key lines and keeps every
//     other byte of the file; no backup copy is written.
//   - Keyring: the OS keystore through github.com/zalando/go-keyring (Secret
//     Service over D-Bus, macOS Keychain through `security -i` with the
//     secret on standard input, Windows Credential Manager).
//   - AgeFile: one age file per profile, encrypted to a passphrase (scrypt),
//     for machines without a keystore.
//   - PIVStore: one file per profile sealed to a P-256 key on a PIV card
//     (ephemeral ECDH, HKDF-SHA256, AES-256-GCM, in the manner of
//     age-plugin-yubikey); see Seal and ParseSealed for the format. The card
//     is reached through the Card interface, so any PIV client (or a
//     software key in tests) plugs in; PIVCard is the adapter for ours
//     (device/piv), with the PIN prompt and touch notice as hooks.
//
// Move copies a key from one store to another, checks the copy, then
// deletes the original (keys import). KeyRotator replaces a profile's key
// through IAM (keys rotate): create a new key with an MFA session, store
// it, verify it with GetCallerIdentity, deactivate and delete the old one,
// resumable from a journal (rotate.go). It belongs with MFA-device
// rotation in a future sts/enroll; it lives here until that package exists.
//
// Decrypted keys exist only in memory: no store writes a secret in clear
// anywhere but the credentials file, and Key's String and LogValue redact
// the secret. The package reads no environment variables and prompts for
// nothing: passphrases come from a Passphrase function and PINs are the
// Card implementation's business (PIVCard's PIN hook); logging goes to an injected
// *slog.Logger (WithLogger).
//
// Error contract: every error names the operation and the profile or file.
// Callers test causes with errors.Is / errors.As:
//
//   - ErrNotFound: the store holds no key for the profile.
//   - ErrBadProfile, ErrBadKey: a profile name or key the stores refuse
//     (before anything is written).
//   - ErrNoPassphrase: the AgeFile has no Passphrase function or it gave
//     "". ErrWrongPassphrase: the passphrase does not open the file.
//   - ErrUnsafeFile: a key file or folder that is not regular and private
//     to the user (internal/securefile: 0600/0700 and our uid on Unix,
//     owner SID and an owner-only DACL on Windows; never a link or a
//     FIFO); it wraps securefile's *Error, which carries the fix.
//   - Sealed files (ParseSealed, Open, PIVStore.Get): ErrNotSealed (not our
//     format), ErrTruncated, ErrTampered (the GCM tag or a header field does
//     not check out), *VersionError (written by a newer mfabridge),
//     *SlotError (a slot that may not hold a sealing key), *SerialError (the
//     card present is not the one the file was sealed to; it names the
//     serial needed), *KeyMismatchError (the card's key in the slot is not
//     the one the file was sealed to: replaced or another slot). A failed
//     Get never writes anything.
//   - PIVCard: *PINError (the card refused the PIN, or ErrNoPIN: no hook
//     to ask for it), *AlgorithmError (the slot's key is not P-256); an
//     empty slot matches ErrNotFound.
//   - ErrBackend wraps errors from the OS keystore (D-Bus, Keychain,
//     Credential Manager) other than "not found".
//   - KeyRotator.Rotate: ErrRotationRunning (another process holds the
//     profile's rotation lock), ErrTwoKeys (the IAM user has two keys
//     already; nothing is deleted that the rotation did not create),
//     ErrNotLongTerm (session credentials), and *RotateKeyError for a
//     rotation stopped after it began changing IAM (run it again to resume;
//     it wraps the cause, IAM refusals as smithy.APIError).
package keystore
